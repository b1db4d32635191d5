"""Account rules, pure: emails, password policy, signed action links, refresh-token rotation,
municipal roles from official events, city client secrets, per-route timeouts. No I/O.

A broken rule raises servicekit's `DomainError` with the code and HTTP status it answers with."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from servicekit.errors import DomainError

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251})\.[A-Za-z0-9-]{2,63}$")
PASSWORD_MIN = 10
PASSWORD_MAX = 128
# The handful every breach list starts with; the length rule already excludes most of them.
COMMON_PASSWORDS = {
    "password123",
    "password1234",
    "1234567890",
    "12345678910",
    "qwertyuiop",
    "azertyuiop",
    "motdepasse",
    "motdepasse1",
    "iloveyou123",
    "letmein1234",
    "civicfund123",
}
VERIFY_EMAIL = "verify"
RESET_PASSWORD = "reset"


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 254 or not EMAIL_RE.match(value) or ".." in value:
        raise DomainError("invalid_email", 422, "not a valid email address")
    return value


def password_problems(password: str, email: str = "", display_name: str = "") -> list[str]:
    problems = []
    if len(password) < PASSWORD_MIN:
        problems.append(f"must be at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        problems.append(f"must be at most {PASSWORD_MAX} characters")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4:
        problems.append("is too easy to guess")
    if email and lowered in {email.lower(), email.split("@")[0].lower()}:
        problems.append("must not be your email address")
    if display_name and lowered == display_name.strip().lower():
        problems.append("must not be your name")
    return problems


def roles_for(email: str, admin_emails: set[str]) -> list[str]:
    return ["citizen", "admin"] if email.lower() in admin_emails else ["citizen"]


# -- signed, expiring action links (email verification, password reset) --------------------
# The link carries purpose, token id and expiry under an HMAC; the store remembers the token id
# so each link works once.


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def new_token_id() -> str:
    return secrets.token_hex(16)


def make_action_token(secret: bytes, purpose: str, token_id: str, expires_at: int) -> str:
    payload = f"{purpose}.{token_id}.{expires_at}"
    return f"{payload}.{_sign(secret, payload)}"


@dataclass(frozen=True)
class ActionToken:
    purpose: str
    token_id: str
    expires_at: int


def read_action_token(secret: bytes, token: str, purpose: str, now: float) -> ActionToken:
    parts = token.split(".")
    if len(parts) != 4:
        raise DomainError("invalid_token", 400, "this link is not valid")
    kind, token_id, expires, signature = parts
    if not hmac.compare_digest(_sign(secret, f"{kind}.{token_id}.{expires}"), signature):
        raise DomainError("invalid_token", 400, "this link is not valid")
    if kind != purpose:
        raise DomainError("invalid_token", 400, "this link is for something else")
    if not expires.isdigit() or int(expires) < now:
        raise DomainError("token_expired", 400, "this link has expired, ask for a new one")
    return ActionToken(kind, token_id, int(expires))


# -- refresh tokens and client secrets: high-entropy, stored as SHA-256 ---------------------


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str | None) -> bool:
    return bool(stored_hash) and hmac.compare_digest(secret_hash(secret), stored_hash or "")


# -- municipal roles from official.appointed / official.removed ------------------------------


@dataclass(frozen=True)
class OfficialState:
    role: str | None  # None: not (or no longer) an official
    as_of: datetime  # time of the event that set this state


def apply_official_event(
    current: OfficialState | None, appointed: bool, role: str | None, at: datetime
) -> OfficialState | None:
    """The new state, or None when the event is older than what we hold (events arrive in any
    order: the latest event time wins)."""
    if current is not None and at < current.as_of:
        return None
    return OfficialState(role if appointed else None, at)


def route_timeout(timeouts: dict[str, float], service: str, path: str, default: float) -> float:
    """The timeout of the longest matching `<service>/<path prefix>` (or `<service>`) entry;
    prefixes match whole path segments."""
    target = f"{service}/{path.strip('/')}".rstrip("/")
    best, best_len = default, -1
    for prefix, seconds in timeouts.items():
        prefix = prefix.strip("/")
        matches = target == prefix or target.startswith(prefix + "/")
        if matches and len(prefix) > best_len:
            best, best_len = seconds, len(prefix)
    return best
