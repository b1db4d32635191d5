"""The label lifecycle and who may move it.

requested -> under_review -> granted | declined;  granted -> revoked (with a public reason).
A city may also open a review itself from its queue (straight to under_review).
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN_STATUSES = ("requested", "under_review", "granted")
TRANSITIONS: dict[str, dict[str, str]] = {
    # action -> {from status: to status}
    "review": {"requested": "under_review"},
    "grant": {"under_review": "granted", "requested": "granted"},
    "decline": {"requested": "declined", "under_review": "declined"},
    "revoke": {"granted": "revoked"},
}
SUPPORT_KINDS = ("land", "venue", "equipment", "permits", "communication", "technical_help")
OFFICIAL_ROLES = ("reviewer", "manager")


class TransitionError(ValueError):
    def __init__(self, action: str, status: str) -> None:
        super().__init__(f"cannot {action} a label that is {status}")
        self.action = action
        self.status = status


def next_status(action: str, status: str) -> str:
    allowed = TRANSITIONS.get(action, {})
    if status not in allowed:
        raise TransitionError(action, status)
    return allowed[status]


def needs_subscription(action: str) -> bool:
    """Labelling (and committing city resources) needs an active subscription or trial;
    declining or revoking never does: a city must be able to withdraw its name."""
    return action in ("review", "grant")


def open_key(campaign_id: str, municipality: str) -> str:
    """At most one open label per campaign and city (unique index)."""
    return f"{campaign_id}|{municipality}"


@dataclass(frozen=True)
class SupportTotals:
    in_kind_value: int
    kinds: tuple[str, ...]


def support_totals(offers: list[dict], currency: str) -> SupportTotals:
    """The in-kind value a label carries, counting only offers valued in the label's currency."""
    value = sum(int(o.get("value") or 0) for o in offers if o.get("currency", currency) == currency)
    return SupportTotals(value, tuple(sorted({o["kind"] for o in offers})))
