"""Webhook rules: which events a city may receive, which URLs are allowed (SSRF), secret
rotation, delivery ids and bodies. Pure: the DNS answer and the clock are passed in."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from servicekit.mongo import as_utc

from ..tokens import signature_header, standard_key, standard_signature_header

# Events a city system can subscribe to; each carries the municipality it concerns.
# label.* and endorsement.* are the same changes under the new and the old name (endorsements
# publishes both for one release): an endpoint subscribes to one of them, and existing
# endpoints filtering on endorsement.* keep receiving until they move to label.*.
WEBHOOK_EVENT_TYPES = (
    "label.requested",
    "label.granted",
    "label.declined",
    "label.revoked",
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
SIGNATURE_SCHEMES = ("standard", "legacy")


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


def original_delivery_id(event_id: str, endpoint_id: str) -> str:
    """Deterministic, so a redelivered event never creates a second delivery."""
    return "whd_" + hashlib.sha256(f"{event_id}|{endpoint_id}".encode()).hexdigest()[:24]


def new_delivery_id() -> str:
    """A replay's delivery: a new id for the same event (receivers dedupe on the event id)."""
    return "whd_" + uuid.uuid4().hex[:24]


def new_endpoint_id() -> str:
    return "whe_" + uuid.uuid4().hex[:20]


def new_secret_entry(secret: str, now: datetime) -> dict[str, Any]:
    """A `whsec_<base64>` secret (format `standard`); entries without a format are the
    secrets issued before Standard Webhooks, whose HMAC key is the secret string's own bytes."""
    return {"id": "sec_" + uuid.uuid4().hex[:12], "secret": secret, "created_at": now, "format": "standard"}


def valid_secrets(endpoint: dict[str, Any], now: datetime) -> list[str]:
    """The current secret first, then rotated-out ones still inside their grace period."""
    return [s["secret"] for s in _live_secrets(endpoint, now)]


def _live_secrets(endpoint: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    return [s for s in endpoint.get("secrets", []) if "expires_at" not in s or as_utc(s["expires_at"]) > now]


def signature_scheme(endpoint: dict[str, Any]) -> str:
    """Endpoints registered before Standard Webhooks have no scheme: they keep the legacy one
    until their managers switch, so no city's verifier breaks."""
    return str(endpoint.get("signature_scheme", "legacy"))


def standard_key_of(entry: dict[str, Any]) -> bytes:
    """An older secret has no base64 form of its own: its key is its bytes, and the city's
    Standard Webhooks secret for the same key is `whsec_` + base64 of the secret (README)."""
    if entry.get("format") == "standard":
        return standard_key(entry["secret"])
    return str(entry["secret"]).encode()


def signature(endpoint: dict[str, Any], msg_id: str, timestamp: int, body: bytes, now: datetime) -> str:
    """The `Webhook-Signature` value in the endpoint's scheme, one signature per valid secret:
    Standard Webhooks `v1,<base64>` over `<msg_id>.<timestamp>.<body>`, space-separated; or the
    legacy `v1=<hex>` over `<timestamp>.<body>`, comma-separated."""
    live = _live_secrets(endpoint, now)
    if signature_scheme(endpoint) == "standard":
        return standard_signature_header([standard_key_of(s) for s in live], msg_id, timestamp, body)
    return signature_header([s["secret"] for s in live], timestamp, body)


def rotated_secrets(
    endpoint: dict[str, Any], new_secret: str, grace_s: int, now: datetime
) -> list[dict[str, Any]]:
    """The new secret becomes current; the previous current one expires after the grace period;
    secrets already expired are dropped."""
    kept = []
    for s in endpoint.get("secrets", []):
        if "expires_at" in s:
            if as_utc(s["expires_at"]) > now:
                kept.append(s)
        elif grace_s > 0:
            kept.append({**s, "expires_at": now + timedelta(seconds=grace_s)})
    return [new_secret_entry(new_secret, now), *kept]


def envelope_body(event_json: bytes) -> str:
    """The CloudEvent exactly as delivered (compact JSON, stable key order)."""
    return json.dumps(json.loads(event_json), separators=(",", ":"), ensure_ascii=False)
