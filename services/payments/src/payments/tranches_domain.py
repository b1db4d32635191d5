"""Milestone releases, the pure rules: a holder's payout plan (tranches as percentages), how a
campaign's release splits into one payout per tranche, and the milestone state machine that a
later tranche goes through before an admin may approve it like any payout. No I/O.

    awaiting_proof --prove--> awaiting_city          (the campaign is labelled by a city)
    awaiting_proof --prove--> objection_window       (unlabelled: the backers may object)
    awaiting_city --confirm (an official of the labelling city)--> released
    objection_window --object (a backer)--> objected
    objection_window --window_ended (no objection)--> released
    objected --admin_release--> released;   objected --admin_hold--> held
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_TRANCHES = 5

AWAITING_PROOF = "awaiting_proof"
AWAITING_CITY = "awaiting_city"
OBJECTION_WINDOW = "objection_window"
OBJECTED = "objected"
RELEASED = "released"
HELD = "held"
STATES = (AWAITING_PROOF, AWAITING_CITY, OBJECTION_WINDOW, OBJECTED, RELEASED, HELD)

TRANSITIONS: dict[tuple[str, str], str] = {
    (AWAITING_PROOF, "prove_labelled"): AWAITING_CITY,
    (AWAITING_PROOF, "prove_unlabelled"): OBJECTION_WINDOW,
    (AWAITING_CITY, "confirm"): RELEASED,
    (OBJECTION_WINDOW, "object"): OBJECTED,
    (OBJECTED, "object"): OBJECTED,  # more backers may object while an admin decides
    (OBJECTION_WINDOW, "window_ended"): RELEASED,
    (OBJECTED, "admin_release"): RELEASED,
    (OBJECTED, "admin_hold"): HELD,
}

# The 409 an admin's approval of a tranche meets while its milestone is not released.
MILESTONE_PENDING = "milestone_pending"


class PlanRefused(ValueError):
    """Bad input or a move the rules refuse: the API answers `status` with `code`."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Tranche:
    percent: int
    title: str | None  # the milestone; None for the first tranche, released as today


def validate_plan(tranches: list[Tranche]) -> list[Tranche]:
    if not 1 <= len(tranches) <= MAX_TRANCHES:
        raise PlanRefused("plan_invalid", f"a plan has 1 to {MAX_TRANCHES} tranches")
    if any(t.percent < 1 or t.percent > 100 for t in tranches):
        raise PlanRefused("plan_invalid", "each tranche is 1 to 100 percent")
    if sum(t.percent for t in tranches) != 100:
        raise PlanRefused("plan_invalid", "the tranches' percentages sum to 100")
    if any(not (t.title or "").strip() for t in tranches[1:]):
        raise PlanRefused("plan_invalid", "every tranche after the first names its milestone")
    return [
        Tranche(tranches[0].percent, None),
        *(Tranche(t.percent, (t.title or "").strip()) for t in tranches[1:]),
    ]


def split(amount: int, percents: list[int]) -> list[int]:
    """Integer minor units: each tranche rounds down, the last takes the remainder."""
    if amount < 0:
        raise ValueError("a negative amount cannot be split")
    parts = [amount * p // 100 for p in percents[:-1]]
    return [*parts, amount - sum(parts)]


def next_state(state: str, action: str) -> str | None:
    if state not in STATES:
        raise ValueError(f"unknown milestone state {state!r}")
    return TRANSITIONS.get((state, action))


def require(state: str, action: str) -> str:
    nxt = next_state(state, action)
    if nxt is None:
        raise PlanRefused("milestone_state_conflict", f"a milestone {state} cannot be moved by {action}", 409)
    return nxt


def blocks_approval(payout: dict[str, Any]) -> bool:
    """A later tranche is approved like any payout only once its milestone is released."""
    status = payout.get("milestone_status")
    return status is not None and status != RELEASED


def window_over(payout: dict[str, Any], now_ms: int) -> bool:
    return (
        payout.get("milestone_status") == OBJECTION_WINDOW
        and int(payout.get("window_ends_ms") or 0) <= now_ms
    )


def waits_for_plan(payout: dict[str, Any], campaign_payouts: list[dict[str, Any]]) -> bool:
    """A payout made after the plan split the campaign's release (a city's match paid late)
    follows the plan's last tranche: approved only once every milestone is released."""
    return bool(payout.get("follows_plan")) and any(blocks_approval(p) for p in campaign_payouts)


def tranche_payouts(first: dict[str, Any], plan: list[Tranche], payout_id: Any) -> list[dict[str, Any]]:
    """The campaign's release `first` (a payout document as payouts.py builds it, sequence n)
    split into one payout per tranche, sequences n, n+1, ...: Stripe's fees and the tips stay
    on the first, so that the sums over a campaign's payouts are those of one payout.

    The cities' match money in it (`match`) is not split: it all goes with the last tranche.
    The plan's percentages are the holder's promise about the backers' money; the match
    rewards the whole project, so it is released once every milestone is, never earlier than
    the plan allows. A match paid after the split follows the same rule (`waits_for_plan`),
    so the holder gets the same money at the same milestone whenever the city pays."""
    match = int(first.get("match", 0))
    amounts = split(int(first["amount"]) - match, [t.percent for t in plan])
    raised_rest = int(first.get("raised", first["amount"])) - sum(amounts[1:])
    docs = [
        {
            **first,
            "amount": amounts[0],
            "raised": raised_rest,
            "match": 0,
            "tranche": 1,
            "tranche_percent": plan[0].percent,
        }
    ]
    for i, (tranche, amount) in enumerate(zip(plan[1:], amounts[1:], strict=True), start=2):
        sequence = int(first["sequence"]) + i - 1
        docs.append({
            **first, "_id": payout_id(first["campaign_id"], sequence), "sequence": sequence, "amount": amount,
            "raised": amount, "stripe_fees": 0, "tips": 0, "match": 0,
            "tranche": i, "tranche_percent": tranche.percent,
            "milestone_title": tranche.title, "milestone_status": AWAITING_PROOF,
        })  # fmt: skip
    docs[-1] = {**docs[-1], "amount": docs[-1]["amount"] + match, "match": match}
    return docs
