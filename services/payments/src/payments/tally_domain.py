"""Payments' side of closing a campaign at its deadline, free of I/O: the tally campaigns closes
the campaign on (what payments' own records hold), whether a campaign still takes pledges, and
what happens to a pledge whose authorisation or charge payments learns of only after it tallied.

Payments is the authority on which pledges exist: campaigns waits until the pledge and payment
events it received add up to this tally before it decides succeeded or failed."""

from __future__ import annotations

from typing import Any

from . import domain

# Counted as authorised: a saved card not released, whatever charging the campaign's success
# started since (campaigns' records see those as authorised until payment.succeeded).
AUTHORIZED_STATUSES = frozenset({domain.AUTHORIZED, domain.CHARGE_DUE, domain.CHARGING, domain.CHARGE_FAILED})
LATE_REASON = "arrived after the deadline"


def _count(pledges: list[dict[str, Any]]) -> dict[str, int]:
    return {"count": len(pledges), "amount": sum(int(p["amount"]) for p in pledges)}


def counted(pledge: dict[str, Any]) -> bool:
    """Whether the pledge is in its campaign's tally (authorised, or money taken)."""
    return pledge["status"] in AUTHORIZED_STATUSES or pledge["status"] in domain.PAID


def tally(pledges: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """authorized: pledges authorised and not released or canceled (all-or-nothing);
    succeeded: payments that took money (keep-it-all charges at pledge time), refunds not
    subtracted. Amounts are the project's share (tips apart), as in the pledge.* events."""
    return {
        "authorized": _count([p for p in pledges if p["status"] in AUTHORIZED_STATUSES]),
        "succeeded": _count([p for p in pledges if p["status"] in domain.PAID]),
    }


def closed_to_pledges(campaign: dict[str, Any] | None, now_ms: int) -> bool:
    """A campaign tallied, or past its deadline (the tally is on its way), takes no new pledge."""
    if campaign is None:
        return False
    deadline_ms = campaign.get("deadline_ms")
    return campaign.get("tallied_ms") is not None or (isinstance(deadline_ms, int) and deadline_ms <= now_ms)


def arrived_late(pledge: dict[str, Any], tallied: bool) -> bool:
    """A pledge just authorised or paid after its campaign was tallied without it."""
    # Truthiness: nx-27017 reads a `$set` boolean back as 1 or 0.
    return tallied and not pledge.get("in_tally")


def late_move(status: str) -> domain.OutcomeMove | None:
    """What a late pledge becomes: a saved card is released, money taken is refunded (the
    moves a failed, resp. canceled, campaign makes)."""
    if status in AUTHORIZED_STATUSES:
        return domain.OutcomeMove(domain.RELEASED, LATE_REASON, released=True)
    if status == domain.SUCCEEDED:
        return domain.OutcomeMove(domain.REFUND_DUE, LATE_REASON, released=False)
    return None
