"""Signed tokens and signatures: unsubscribe links (no login needed) and webhook HMACs. Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class BadToken(ValueError):
    pass


def sign_unsubscribe(secret: str, user_id: str, category: str) -> str:
    """`<payload>.<mac>`: the link carries who and what, and only we can mint it.

    No expiry on purpose: an unsubscribe link in an old email must keep working."""
    payload = _b64(json.dumps({"u": user_id, "c": category}, separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), f"unsubscribe.{payload}".encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def verify_unsubscribe(secret: str, token: str) -> tuple[str, str]:
    """Returns (user_id, category) or raises BadToken."""
    payload, _, mac = token.partition(".")
    if not payload or not mac or len(token) > 2000:
        raise BadToken("malformed token")
    expected = hmac.new(secret.encode(), f"unsubscribe.{payload}".encode(), hashlib.sha256).digest()
    try:
        given = _unb64(mac)
        data = json.loads(_unb64(payload))
    except (ValueError, TypeError) as exc:
        raise BadToken("malformed token") from exc
    if not hmac.compare_digest(expected, given):
        raise BadToken("bad signature")
    if not isinstance(data, dict) or not isinstance(data.get("u"), str) or not isinstance(data.get("c"), str):
        raise BadToken("malformed token")
    return data["u"], data["c"]


def new_webhook_secret() -> str:
    """`whsec_<base64 of 32 random bytes>`, the Standard Webhooks secret format: the official
    libraries (standardwebhooks in Python, JavaScript, Go, Java...) take it as is."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


# -- Standard Webhooks, the scheme of every new endpoint ----------------------------------


def standard_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret, decoded as the official libraries do."""
    return base64.b64decode(secret.removeprefix("whsec_"), validate=True)


def standard_signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256(key, "<msg_id>.<timestamp>.<body>")>`."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def standard_signature_header(keys: list[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature per valid key, space-separated, as the spec says for a rotation."""
    return " ".join(standard_signature(k, msg_id, timestamp, body) for k in keys)


# -- the legacy scheme, kept for endpoints registered before Standard Webhooks ---------------


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Legacy: HMAC-SHA256 over `<timestamp>.<body>`, hex, keyed with the secret's own bytes."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets_: list[str], timestamp: int, body: bytes) -> str:
    """Legacy: `v1=<hex>[,v1=<hex>]`, one signature per valid secret, so a receiver still
    holding the previous secret keeps verifying during a rotation's grace period."""
    return ",".join(f"v1={webhook_signature(s, timestamp, body)}" for s in secrets_)


def verify_webhook(secret: str, timestamp: int, body: bytes, header: str) -> bool:
    """The legacy receiver's check."""
    expected = webhook_signature(secret, timestamp, body)
    return any(
        hmac.compare_digest(expected, part.strip().removeprefix("v1="))
        for part in header.split(",")
        if part.strip().startswith("v1=")
    )
