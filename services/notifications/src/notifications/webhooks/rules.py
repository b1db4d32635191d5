"""Webhook rules: which events a city may receive, which URLs are allowed (SSRF), and the
failure policy. Pure: the DNS answer is passed in."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

# Events a city system can subscribe to; each carries the municipality it concerns.
WEBHOOK_EVENT_TYPES = (
    "endorsement.requested",
    "endorsement.granted",
    "endorsement.declined",
    "endorsement.revoked",
    "match.committed",
    "call.opened",
    "call.proposal_selected",
    "campaign.published",
    "campaign.goal_reached",
    "campaign.succeeded",
    "campaign.failed",
    "campaign.canceled",
    "subscription.lapsed",
)
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


class UrlRefused(ValueError):
    pass


def check_event_types(patterns: list[str]) -> list[str]:
    """Validates a filter: exact types or `<entity>.*`; returns them deduplicated, in order."""
    out: list[str] = []
    for pattern in patterns:
        entity, _, verb = pattern.partition(".")
        if verb == "*":
            if not any(t.startswith(entity + ".") for t in WEBHOOK_EVENT_TYPES):
                raise ValueError(f"no webhook event matches {pattern!r}")
        elif pattern not in WEBHOOK_EVENT_TYPES:
            raise ValueError(f"{pattern!r} is not a webhook event type")
        if pattern not in out:
            out.append(pattern)
    return out


def matches(patterns: list[str], event_type: str) -> bool:
    return any(p == event_type or (p.endswith(".*") and event_type.startswith(p[:-1])) for p in patterns)


def check_url_shape(url: str, environment: str) -> tuple[str, int]:
    """HTTPS anywhere; plain HTTP only to this machine outside production. Returns (host, port)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UrlRefused("the URL must be http(s)://host/...")
    if parts.username or parts.password:
        raise UrlRefused("credentials in the URL are not allowed; the signature authenticates us")
    host = parts.hostname.lower()
    if parts.scheme == "http" and (environment == "production" or host not in LOCAL_HOSTS):
        raise UrlRefused("plain HTTP is allowed only to localhost in development; use HTTPS")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UrlRefused("bad port") from exc
    return host, port


def check_addresses(addresses: list[str], environment: str) -> None:
    """In production every address the host resolves to must be public (no loopback, private,
    link-local - cloud metadata lives there - or reserved ranges): a webhook must not become a
    way to reach our own network."""
    if not addresses:
        raise UrlRefused("the host does not resolve")
    if environment != "production":
        return
    for text in addresses:
        ip = ipaddress.ip_address(text.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            raise UrlRefused(f"the host resolves to a non-public address ({ip})")
