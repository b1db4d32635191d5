"""Payouts, the pure rules: the payout state machine, when a campaign has money to release,
how much, and what a connected account's state allows. No I/O.

A payout moves the money a campaign raised from the platform's Stripe balance to its holder's
connected account (Stripe Connect, separate charges and transfers; Catarse's balance transfer
is the model):

    pending --approve--> approved --start--> transferring --transfer_created--> paid
                                                  |  \\--transfer_failed--> failed
                                                  \\--transfer_reversed--> failed
    paid --transfer_reversed--> failed;   failed --retry--> approved (a new attempt)
    pending | approved --cancel (the campaign was canceled)--> failed

A payout has a `sequence` (1, 2, ... per campaign) and an `amount`, so that a campaign's money
can later be released in several tranches (milestones): each tranche is one more payout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import domain

PENDING = "pending"  # money to release, waiting for an admin's approval
APPROVED = "approved"  # approved; transferred as soon as the holder's account can receive it
TRANSFERRING = "transferring"  # the transfer was asked of Stripe; its webhook settles it
PAID = "paid"  # Stripe created the transfer: the money is in the holder's connected account
FAILED = "failed"  # Stripe refused or reversed the transfer (failure_reason); an admin may retry

STATES = (PENDING, APPROVED, TRANSFERRING, PAID, FAILED)

# (from state, action) -> to state. Actions: who or what moves a payout.
TRANSITIONS: dict[tuple[str, str], str] = {
    (PENDING, "approve"): APPROVED,
    (APPROVED, "start"): TRANSFERRING,
    (TRANSFERRING, "transfer_created"): PAID,
    (TRANSFERRING, "transfer_failed"): FAILED,
    (TRANSFERRING, "transfer_reversed"): FAILED,
    (PAID, "transfer_reversed"): FAILED,
    (FAILED, "retry"): APPROVED,
    # The campaign was canceled before its money left: its backers are refunded instead.
    (PENDING, "cancel"): FAILED,
    (APPROVED, "cancel"): FAILED,
}
ACTIONS = frozenset(action for _, action in TRANSITIONS)

# What each state change announces (payout.<verb>); `start` is internal bookkeeping.
EVENT_OF_STATE = {
    PENDING: "payout.created",
    APPROVED: "payout.approved",
    PAID: "payout.paid",
    FAILED: "payout.failed",
}

# Campaign outcomes after which a funding model has money to release.
RELEASING_OUTCOMES = {
    "keep_it_all": frozenset({"succeeded", "failed", "completed"}),  # keeps what it raised
    "all_or_nothing": frozenset({"succeeded", "completed"}),
}
# Pledge states that may still take money for an all-or-nothing campaign that succeeded: its
# charges have not settled while one of them is left. `authorized` is among them: the outcome
# reaches this check on its own queue, possibly before the pledges moved to `charge_due`.
UNSETTLED_PLEDGES = frozenset(
    {domain.AUTHORIZED, domain.CHARGE_DUE, domain.CHARGING, domain.CHARGE_FAILED, domain.REQUIRES_ACTION}
)


# Why a pending payout waits before an admin may approve it: a permit the project needs (declared
# by its owner or the labelling city, campaigns' `permits_pending`) is not granted yet.
PERMIT_PENDING = "permit_pending"
CAMPAIGN_REFUNDED = "campaign_refunded"
DISPUTE_OPEN = "dispute_open"


def hold_reason(campaign: dict[str, Any] | None) -> str | None:
    """The hold on a campaign's payouts from payments' projection of it, or None: a permit not
    granted, every backer refunded by an admin (refunds.py), a dispute open (disputes.py)."""
    if campaign is None:
        return None
    # Truthiness, not `is True`: nx-27017's top-level $set stores a boolean as 1 (store.py).
    if bool(campaign.get("permits_pending")):
        return PERMIT_PENDING
    if campaign.get("refunded_all_at"):
        return CAMPAIGN_REFUNDED
    if int(campaign.get("disputes_open") or 0) > 0:
        return DISPUTE_OPEN
    return None


HOLD_MESSAGES = {
    PERMIT_PENDING: "a permit the project needs is not granted yet",
    CAMPAIGN_REFUNDED: "an admin refunded every backer of this campaign: nothing is paid out",
    DISPUTE_OPEN: "a backer's bank disputes a payment to this campaign: the payout waits for its decision",
}


class PayoutRefused(ValueError):
    """A move the state machine does not allow (the API answers 409 with `code`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def next_state(state: str, action: str) -> str | None:
    """The state after `action`, or None when it does not apply (a redelivered webhook, a
    second click): callers treat None as nothing to do, or refuse it when a person asked."""
    if state not in STATES:
        raise ValueError(f"unknown payout state {state!r}")
    if action not in ACTIONS:
        raise ValueError(f"unknown payout action {action!r}")
    return TRANSITIONS.get((state, action))


def require(state: str, action: str) -> str:
    nxt = next_state(state, action)
    if nxt is None:
        raise PayoutRefused("payout_state_conflict", f"a {state} payout cannot be moved by {action}")
    return nxt


def releases_money(funding_model: str, outcome: str) -> bool:
    return outcome in RELEASING_OUTCOMES.get(funding_model, frozenset())


def charges_settled(funding_model: str, pledge_statuses: list[str]) -> bool:
    """Keep-it-all charged each backer at checkout: settled when the campaign ends (a late
    payment goes into a later payout). All-or-nothing charges every saved card after success:
    settled once no pledge can still be charged (grace periods over)."""
    if funding_model == "keep_it_all":
        return True
    return not any(status in UNSETTLED_PLEDGES for status in pledge_statuses)


@dataclass(frozen=True)
class Release:
    """What the next payout of a campaign would be."""

    raised: int  # the backers' money for the project (ledger "project" account, net of refunds)
    stripe_fees: int  # Stripe's processing fees on those charges, borne by the project
    tips: int  # the backers' tips to the platform (ledger "platform" account): never paid out
    already: int  # the amount of earlier payouts that were not given up
    already_fees: int
    # The cities' match money the platform received for the campaign (ledger `match_received`:
    # the city's payment, not its promise nor its due), and the part of it earlier payouts carried.
    match: int = 0
    already_match: int = 0

    @property
    def amount(self) -> int:
        return max(self.raised - self.stripe_fees + self.match - self.already, 0)

    @property
    def fees(self) -> int:
        return max(self.stripe_fees - self.already_fees, 0)

    @property
    def new_match(self) -> int:
        """The match money this payout carries (never more than the payout itself: a refund
        after an earlier payout is taken from what is released next, match included)."""
        return min(max(self.match - self.already_match, 0), self.amount)

    @property
    def new_raised(self) -> int:
        """The backers' money this payout carries: so that raised - fees + match = amount."""
        return self.amount + self.fees - self.new_match


def release(entries: list[dict[str, Any]], stripe_fees: int, payouts: list[dict[str, Any]]) -> Release:
    """Re-derived from the ledger each time (append-only, so this is the same on every replica).
    The match money counts once the city paid it (`match_received`, negative on the `city`
    account, or `match_settled_from_gifts` when residents' gifts to its pool paid it): what a
    city owes but has not paid stays at the platform until it arrives, and is then released by
    a further payout."""
    raised = sum(e["amount"] for e in entries if e["account"] == "project")
    tips = sum(e["amount"] for e in entries if e["account"] == "platform")
    match = -sum(
        e["amount"] for e in entries if e["account"] == "city" and e["kind"] in domain.MATCH_PAID_KINDS
    )
    counted = [p for p in payouts if p["status"] in (PENDING, APPROVED, TRANSFERRING, PAID, FAILED)]
    return Release(
        raised=raised,
        stripe_fees=stripe_fees,
        tips=tips,
        already=sum(p["amount"] for p in counted),
        already_fees=sum(p.get("stripe_fees", 0) for p in counted),
        match=match,
        already_match=sum(p.get("match", 0) for p in counted),
    )


def fee_of_charge(balance_transaction: dict[str, Any]) -> int:
    """Stripe's fee on one charge, from its balance transaction (`fee`, minor units)."""
    fee = balance_transaction.get("fee", 0)
    return int(fee) if isinstance(fee, int) else 0


def ledger_fees(entries: list[dict[str, Any]]) -> int:
    """Stripe's fees the ledger holds for a campaign (booked as negative amounts)."""
    return -sum(e["amount"] for e in entries if e["account"] == "stripe_fees")


def refund_cuts(release: Release, pending: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """A refund after the campaign's payouts were computed: the payouts counted already give
    more than the ledger now holds for the project (`release.already` over raised - fees +
    match). The excess is taken from the payouts still `pending` (nothing has left for them),
    the latest first, each down to nothing at most; it keeps `raised - stripe_fees + match =
    amount`. Returns the new `amount` and `raised` of each payout cut. What no pending payout
    can absorb (a payout approved or paid already) stays a negative `payout_owed`, taken from
    the next release."""
    excess = release.already - (release.raised - release.stripe_fees + release.match)
    cuts: dict[str, dict[str, int]] = {}
    for payout in sorted(pending, key=lambda p: -int(p.get("sequence", 0))):
        if excess <= 0:
            break
        if payout.get("status") != PENDING:
            continue
        cut = min(excess, int(payout["amount"]))
        if cut > 0:
            cuts[payout["_id"]] = {
                "amount": int(payout["amount"]) - cut,
                "raised": int(payout["raised"]) - cut,
            }
            excess -= cut
    return cuts


def payout_id(campaign_id: str, sequence: int) -> str:
    """Deterministic: a redelivered campaign outcome or a second worker finds the same payout."""
    return f"po_{campaign_id.removeprefix('cmp_')}_{sequence}"


def transfer_group(campaign_id: str) -> str:
    return f"campaign_{campaign_id}"


def transfer_key(payout: dict[str, Any]) -> str:
    """Stripe idempotency key of a payout's transfer: one per attempt, so a retried request of
    the same attempt never transfers twice, and an admin's retry after a failure asks anew."""
    return f"payout-{payout['_id']}-transfer-{payout.get('attempt', 1)}"


# -- connected accounts -------------------------------------------------------------------------

ONBOARDING = "onboarding"  # created at Stripe, details not submitted yet
READY = "ready"  # Stripe lets the platform transfer to it
RESTRICTED = "restricted"  # details submitted, but Stripe disabled transfers (requirements due)


def account_status(account: dict[str, Any]) -> str:
    capabilities = account.get("capabilities") or {}
    transfers = capabilities.get("transfers") if isinstance(capabilities, dict) else None
    if account.get("payouts_enabled") and transfers == "active":
        return READY
    if account.get("details_submitted"):
        return RESTRICTED
    return ONBOARDING


def account_fields(account: dict[str, Any]) -> dict[str, Any]:
    """What payments keeps of a Stripe account (re-fetched, never the webhook's copy)."""
    requirements = account.get("requirements") or {}
    return {
        "status": account_status(account),
        "charges_enabled": bool(account.get("charges_enabled")),
        "payouts_enabled": bool(account.get("payouts_enabled")),
        "details_submitted": bool(account.get("details_submitted")),
        "requirements_due": list(requirements.get("currently_due") or []),
    }


def transfer_action(transfer: dict[str, Any]) -> str:
    """What Stripe's current view of a transfer does to its payout. Stripe's transfer events
    are `transfer.created`, `transfer.updated` and `transfer.reversed` (there is no
    transfer.paid or transfer.failed for Connect transfers: a transfer either exists, and the
    money is in the connected account, or was refused at creation)."""
    if (
        transfer.get("reversed")
        or (transfer.get("amount_reversed") or 0) >= (transfer.get("amount") or 0) > 0
    ):
        return "transfer_reversed"
    return "transfer_created"


def event_data(payout: dict[str, Any]) -> dict[str, Any]:
    data = {
        "payout_id": payout["_id"],
        "campaign_id": payout["campaign_id"],
        "owner_id": payout["owner_id"],
        "sequence": payout["sequence"],
        "amount": payout["amount"],
        "currency": payout["currency"],
        "stripe_fees": payout.get("stripe_fees", 0),
        "tips": payout.get("tips", 0),
        "match": payout.get("match", 0),
        "status": payout["status"],
    }
    if payout.get("transfer_id"):
        data["transfer_id"] = payout["transfer_id"]
    if payout.get("failure_reason"):
        data["failure_reason"] = payout["failure_reason"]
    return data
