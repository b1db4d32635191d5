"""Officials: who can do what for a city, and invitation tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

INVITATION_TTL = timedelta(days=14)

# reviewer labels; manager also runs calls, commits match funds and manages officials.
CAN = {
    "label": ("reviewer", "manager"),
    "shortlist": ("reviewer", "manager"),
    "commit_funds": ("manager",),
    "run_calls": ("manager",),
    "manage_officials": ("manager",),
}


def role_allows(role: str | None, action: str) -> bool:
    return role is not None and role in CAN[action]


def new_invitation_token() -> tuple[str, str]:
    """(token for the invitee's email, digest to store): a database leak reveals no usable token."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_usable(expires_at: datetime, accepted: bool, now: datetime) -> str | None:
    """None when usable, else why not."""
    if accepted:
        return "invitation already accepted"
    if now >= expires_at:
        return "invitation expired"
    return None


def subscription_active(trial_until: datetime | None, subscriptions: list[dict], now: datetime) -> bool:
    """Active while a trial runs or any of the city's subscriptions is active (latest state each)."""
    if trial_until is not None and trial_until > now:
        return True
    return any(s.get("status") in ("active", "trialing") for s in subscriptions)
