"""Payments' rules, free of I/O: the pledge state machine, what a campaign outcome does to
pledges, the ledger's entries and the reconciliation of the journal with Stripe.

Stripe's objects are the source of truth: every transition here is driven by the *current*
status of a PaymentIntent / SetupIntent (re-fetched), never by the order webhooks arrive in,
and a pledge that took money never goes back to an unpaid state.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

FundingModel = Literal["keep_it_all", "all_or_nothing"]

# Pledge statuses.
CREATING = "creating"  # row written, Stripe intent not created yet
PENDING = "pending"  # SetupIntent created, waiting for the browser to save the card (Stripe.js)
REQUIRES_ACTION = "requires_action"  # the bank wants 3-D Secure on our PaymentIntent, in the browser
FAILED = "failed"  # the card was declined or could not be saved; the backer may try another
AUTHORIZED = "authorized"  # all-or-nothing card saved, nothing charged
CHARGE_DUE = "charge_due"  # campaign succeeded: to be charged off-session
CHARGING = "charging"  # a worker is charging it
CHARGE_FAILED = "charge_failed"  # off-session charge failed: grace period for a retry
SUCCEEDED = "succeeded"  # money taken
REFUND_DUE = "refund_due"  # campaign canceled after money was taken
REFUNDING = "refunding"
REFUNDED = "refunded"
RELEASED = "released"  # all-or-nothing: will never be charged
ABANDONED = "abandoned"  # never completed by the backer before the campaign ended

# A pledge in one of these may still turn into a payment.
PAYABLE = frozenset({CREATING, PENDING, REQUIRES_ACTION, FAILED, CHARGE_DUE, CHARGING, CHARGE_FAILED})
# Money was taken (and possibly given back).
PAID = frozenset({SUCCEEDED, REFUND_DUE, REFUNDING, REFUNDED})

CAMPAIGN_STATES_WITH_VERSION = (
    "created",
    "submitted",
    "published",
    "edited",
    "returned",
    "rejected",
    "goal_reached",
    "succeeded",
    "failed",
    "canceled",
    "completed",
)
SUPPORTED_CURRENCIES = ("EUR", "GBP", "USD", "CHF")


class PledgeRejected(ValueError):
    """A pledge that cannot be accepted; `code` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CampaignView:
    status: str
    currency: str
    funding_model: FundingModel


def check_pledge(
    campaign: CampaignView | None, currency: str, amount: int, min_amount: int, max_amount: int
) -> None:
    """Raise PledgeRejected unless a pledge of `amount` `currency` may go to `campaign`."""
    if campaign is None:
        raise PledgeRejected("campaign_not_found", "no such campaign (or not published yet)")
    if campaign.status != "live":
        raise PledgeRejected("campaign_not_live", f"campaign is {campaign.status}, not accepting pledges")
    if currency != campaign.currency:
        raise PledgeRejected("currency_mismatch", f"this campaign raises money in {campaign.currency}")
    if not min_amount <= amount <= max_amount:
        raise PledgeRejected("amount_out_of_range", f"amount must be between {min_amount} and {max_amount}")


def pledge_id_for(backer_id: str, idempotency_key: str) -> str:
    """One pledge per (backer, Idempotency-Key): a request retried after a crash, or after
    Stripe refused it, finds the same pledge and Stripe objects (their idempotency keys derive
    from this id)."""
    return "plg_" + hashlib.sha256(f"{backer_id}|{idempotency_key}".encode()).hexdigest()[:32]


def new_pledge(
    pledge_id: str,
    backer_id: str,
    body: dict[str, Any],
    funding_model: str,
    customer_id: str,
    setup_intent_id: str,
    client_secret: str,
    now: datetime,
) -> dict[str, Any]:
    """A pledge as written once its SetupIntent exists: waiting for the browser to save the card."""
    pledge: dict[str, Any] = {
        "_id": pledge_id,
        "campaign_id": body["campaign_id"],
        "backer_id": backer_id,
        "amount": body["amount"],
        "tip": body.get("tip", 0),
        "currency": body["currency"],
        "anonymous": bool(body.get("anonymous", False)),
        "funding_model": funding_model,
        "status": PENDING,
        "customer_id": customer_id,
        "intent_kind": "setup_intent",
        "intent_id": setup_intent_id,
        "setup_intent_id": setup_intent_id,
        "setup_intents": [setup_intent_id],
        "setup_open": True,
        "client_secret": client_secret,
        "intents": [],
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
        "checked_at": now,
        "checked_ms": int(now.timestamp() * 1000),
    }
    if body.get("public_name"):
        pledge["public_name"] = body["public_name"]
    return pledge


def event_data(pledge: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The fields every pledge.* / payment.* event carries."""
    data: dict[str, Any] = {
        "pledge_id": pledge["_id"],
        "campaign_id": pledge["campaign_id"],
        "backer_id": pledge["backer_id"],
        "amount": pledge["amount"],
        "currency": pledge["currency"],
        "tip": pledge.get("tip", 0),
        "anonymous": bool(pledge.get("anonymous", False)),
        "funding_model": pledge["funding_model"],
    }
    if pledge.get("public_name"):
        data["public_name"] = pledge["public_name"]
    data.update({k: v for k, v in extra.items() if v is not None})
    return data


def payment_id_of(pledge_id: str) -> str:
    """One payment per pledge."""
    return f"pay_{pledge_id.removeprefix('plg_')}"


def is_newer(stored_version: int | None, event_version: int) -> bool:
    """Projections keep the highest version they have seen."""
    return stored_version is None or event_version > stored_version


# A campaign outcome is ignored when the projection already holds a later, contradicting one
# (e.g. a redelivered `succeeded` after `canceled`). Cancel after success is legitimate.
_CONTRADICTS = {
    "succeeded": frozenset({"failed", "canceled"}),
    "failed": frozenset({"succeeded", "canceled", "completed"}),
    "canceled": frozenset(),
}


def outcome_applies(
    outcome: str, stored_status: str | None, stored_version: int | None, version: int
) -> bool:
    if stored_version is None or stored_status is None or stored_version <= version:
        return True
    return stored_status not in _CONTRADICTS[outcome]


def campaign_outcome(campaign_status: str | None) -> str | None:
    """The outcome a campaign's (projected) status means for its pledges. `completed` only ever
    follows `succeeded` (the owner closes a funded project), so it charges like a success."""
    if campaign_status in ("succeeded", "completed"):
        return "succeeded"
    if campaign_status in ("failed", "canceled"):
        return campaign_status
    return None


@dataclass(frozen=True)
class OutcomeMove:
    """What a campaign's outcome does to one pledge."""

    status: str
    refund_reason: str
    released: bool  # emit pledge.released


def outcome_move(outcome: str, funding_model: str, status: str, reason: str | None) -> OutcomeMove | None:
    """The one rule for a campaign outcome and a pledge, whether the outcome arrives while the
    pledge waits (the campaign.* handler) or the pledge gets its card or payment after the
    outcome was handled (a slow backer, an event that overtook Stripe)."""
    nxt = status_after_campaign_outcome(outcome, funding_model, status)
    if nxt is None:
        return None
    said = f"campaign {outcome}"
    return OutcomeMove(nxt, f"{said}: {reason}" if reason else said, nxt == RELEASED)


def status_after_campaign_outcome(outcome: str, funding_model: str, status: str) -> str | None:
    """What a campaign's end does to one pledge (None: nothing).

    A pledge waiting for 3-D Secure (`requires_action`) is left alone: its PaymentIntent can
    still take money, which is then recorded and follows the outcome (refunded if canceled)."""
    if outcome == "succeeded":
        if funding_model == "all_or_nothing" and status == AUTHORIZED:
            return CHARGE_DUE
        return None
    if outcome == "failed":
        if funding_model != "all_or_nothing":
            return None  # keep-it-all keeps what it raised
        if status in (AUTHORIZED, CHARGE_DUE, CHARGE_FAILED):
            return RELEASED
        if status in (CREATING, PENDING, FAILED):
            return ABANDONED
        return None
    if outcome == "canceled":
        if status == SUCCEEDED:
            return REFUND_DUE
        if status in (AUTHORIZED, CHARGE_DUE, CHARGE_FAILED):
            return RELEASED
        if status in (CREATING, PENDING, FAILED):
            return ABANDONED
        return None
    raise ValueError(f"unknown campaign outcome {outcome!r}")


@dataclass(frozen=True)
class IntentState:
    """The parts of a Stripe PaymentIntent / SetupIntent the rules look at."""

    id: str
    status: str
    error: str | None = None  # last_payment_error / last_setup_error message or code
    client_secret: str | None = None  # for the browser, when Stripe asks it to act


# A decline whose PaymentIntent Stripe did not name is recorded under an id derived from our
# idempotency key ("offsession-" is the prefix pledges written before on-session charges carry).
UNNAMED_PREFIXES = ("unnamed-", "offsession-")


def unnamed_intent_id(idempotency_key: str) -> str:
    return f"unnamed-{idempotency_key}"


def is_unnamed(intent_id: str) -> bool:
    return intent_id.startswith(UNNAMED_PREFIXES)


def payment_failed(intent: IntentState) -> bool:
    return intent.status == "canceled" or (intent.status == "requires_payment_method" and bool(intent.error))


def status_after_payment_intent(
    status: str, funding_model: str, intent: IntentState, last_failed_intent: str | None
) -> str | None:
    """The pledge's next status given its PaymentIntent's real status (None: no change).

    Taking money wins over everything: a late `payment_failed` after `succeeded` changes nothing,
    and a payment after a failure (the backer retried) is recorded.
    """
    if status not in PAYABLE:
        # Money that arrives for a pledge given up meanwhile (the campaign was canceled while
        # Stripe was charging) is recorded, then follows the outcome: refunded, never untracked.
        return SUCCEEDED if status == ABANDONED and intent.status == "succeeded" else None
    if intent.status == "succeeded":
        return SUCCEEDED
    if intent.status == "requires_action":
        # Only the backer can authenticate, so only an on-session intent waits in this state
        # (the off-session charger turns it into a failure before recording it).
        return REQUIRES_ACTION if status in (CREATING, PENDING, FAILED, CHARGE_FAILED) else None
    if not payment_failed(intent):
        return None  # processing, requires_confirmation: wait
    if intent.id == last_failed_intent:
        return None  # this failure is already recorded
    if funding_model == "all_or_nothing":
        return CHARGE_FAILED if status in (CHARGE_DUE, CHARGING, CHARGE_FAILED, REQUIRES_ACTION) else None
    return FAILED


def status_after_setup_intent(status: str, intent: IntentState) -> str | None:
    if status in (CREATING, PENDING) and intent.status == "succeeded":
        return AUTHORIZED
    return None


def setup_failed(intent: IntentState) -> bool:
    return intent.status == "canceled" or (intent.status == "requires_payment_method" and bool(intent.error))


SetupStep = Literal["authorize", "charge", "fail"]


def after_saved_card(status: str, funding_model: str, intent: IntentState) -> SetupStep | None:
    """What an open SetupIntent's real status calls for (None: wait).

    all-or-nothing at checkout keeps the card for later ("authorize"); keep-it-all, and an
    all-or-nothing retry after a failed charge, pay now with it ("charge", on-session)."""
    if setup_failed(intent):
        return "fail" if status in (CREATING, PENDING, FAILED, CHARGE_FAILED) else None
    if intent.status != "succeeded":
        return None
    if funding_model == "all_or_nothing":
        if status in (CREATING, PENDING, FAILED):
            return "authorize"
        return "charge" if status == CHARGE_FAILED else None
    return "charge" if status in (CREATING, PENDING, FAILED) else None


def status_after_failed_setup(status: str) -> str:
    """A card that could not be saved: a checkout fails; a retry after a failed off-session
    charge stays in its grace period."""
    return status if status == CHARGE_FAILED else FAILED


NextAction = Literal["confirm_card_setup", "confirm_card_payment", "retry"]


def next_action(
    status: str, setup_open: bool, retry_until: datetime | None, now: datetime
) -> NextAction | None:
    """What the backer's browser has to do next (see the README's checkout)."""
    if status in (CREATING, PENDING):
        return "confirm_card_setup" if setup_open else None
    if status == REQUIRES_ACTION:
        return "confirm_card_payment"
    if status == FAILED:
        return "retry"
    if status == CHARGE_FAILED and retry_until is not None and now < retry_until:
        return "confirm_card_setup" if setup_open else "retry"
    return None


def retry_allowed(status: str, campaign_status: str | None, until: datetime | None, now: datetime) -> bool:
    """Another card may be tried at checkout while the campaign is live, and after a failed
    off-session charge within its grace period."""
    if until is not None and status in (CHARGE_FAILED, REQUIRES_ACTION):
        return now < until
    return status in (PENDING, FAILED, REQUIRES_ACTION) and campaign_status == "live"


def status_for_retry(status: str, until: datetime | None) -> str:
    return CHARGE_FAILED if until is not None and status in (CHARGE_FAILED, REQUIRES_ACTION) else PENDING


def retry_until(failed_at: datetime, grace_period_s: int) -> datetime:
    return failed_at + timedelta(seconds=grace_period_s)


def grace_expired(status: str, until: datetime | None, now: datetime) -> bool:
    return status in (CHARGE_FAILED, REQUIRES_ACTION) and until is not None and now >= until


# -- ledger -------------------------------------------------------------------------------------
# Accounts: "project" is what the campaign raised from backers (sum == campaigns' `raised`),
# "platform" the backers' tips, "match" what cities' match funding and calls' awards added
# (campaigns' `matched`; an award counts from its selection: match_awarded),
# "commitments" a memo of open match commitments (promises, not money), "city" what cities
# owe for their matches once due (match_due +, match_received -: city_dues/), "stripe_fees" Stripe's
# fees on the project's charges and "payouts" the transfers to the holder (payouts.py), both
# negative. "city_pool" is residents' gifts the platform holds for a city's pool (pool_gift +,
# entries carry pool_id; pool_gift_applied - when a match due from that pool is settled from them,
# with match_settled_from_gifts - on "city": pool_gifts/). Entry ids derive from Stripe object ids
# / event ids, so recording twice is a no-op.


@dataclass(frozen=True)
class LedgerEntry:
    id: str
    campaign_id: str
    pledge_id: str
    account: Literal[
        "project", "platform", "match", "commitments", "stripe_fees", "payouts", "city", "city_pool"
    ]  # fmt: skip
    kind: Literal[
        "charge",
        "platform_fee",
        "refund",
        "match_applied",
        "match_released",
        "match_awarded",
        "match_committed",
        "match_canceled",
        "match_due",
        "match_received",
        "stripe_fee",
        "transfer",
        "transfer_reversal",
        "dispute_withdrawn",
        "dispute_reinstated",
        "pool_gift",
        "pool_gift_applied",
        "match_settled_from_gifts",
    ]
    amount: int  # signed minor units: money in is positive
    currency: str
    stripe_ref: str

    def doc(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "campaign_id": self.campaign_id,
            "pledge_id": self.pledge_id,
            "account": self.account,
            "kind": self.kind,
            "amount": self.amount,
            "currency": self.currency,
            "stripe_ref": self.stripe_ref,
        }


def charge_entries(
    campaign_id: str, pledge_id: str, amount: int, tip: int, currency: str, payment_intent_id: str
) -> list[LedgerEntry]:
    entries = [
        LedgerEntry(
            f"charge:{payment_intent_id}:project",
            campaign_id,
            pledge_id,
            "project",
            "charge",
            amount,
            currency,
            payment_intent_id,
        )
    ]
    if tip:
        entries.append(
            LedgerEntry(
                f"charge:{payment_intent_id}:platform",
                campaign_id,
                pledge_id,
                "platform",
                "platform_fee",
                tip,
                currency,
                payment_intent_id,
            )
        )
    return entries


def refund_entries(
    campaign_id: str,
    pledge_id: str,
    refund_id: str,
    refund_amount: int,
    project_refundable: int,
    currency: str,
) -> list[LedgerEntry]:
    """Split a refund: the project's share first, the tip only once the project's is exhausted."""
    project = min(refund_amount, max(project_refundable, 0))
    platform = refund_amount - project
    entries = []
    if project:
        entries.append(
            LedgerEntry(
                f"refund:{refund_id}:project",
                campaign_id,
                pledge_id,
                "project",
                "refund",
                -project,
                currency,
                refund_id,
            )
        )
    if platform:
        entries.append(
            LedgerEntry(
                f"refund:{refund_id}:platform",
                campaign_id,
                pledge_id,
                "platform",
                "refund",
                -platform,
                currency,
                refund_id,
            )
        )
    return entries


DISPUTE_KINDS = ("dispute_withdrawn", "dispute_reinstated")
# Stripe's dispute statuses while the bank has not decided (the payout waits meanwhile).
DISPUTE_OPEN = frozenset({"warning_needs_response", "needs_response", "under_review", "warning_under_review"})


def dispute_entries(
    campaign_id: str,
    pledge_id: str,
    dispute_id: str,
    amount: int,
    project_balance: int,
    currency: str,
    withdrawn: list[dict[str, Any]],
    won: bool,
) -> list[LedgerEntry]:
    """A dispute's money: withdrawn when it opens (split like a refund: the project's share
    first, then the tip), given back with the same split if the bank decides for us. `withdrawn`
    holds the dispute's withdrawal entries already journaled (their split is kept)."""
    entries: list[LedgerEntry] = []
    if not withdrawn:
        for e in refund_entries(campaign_id, pledge_id, dispute_id, amount, project_balance, currency):
            entries.append(
                LedgerEntry(
                    f"dispute:{dispute_id}:withdrawn:{e.account}", campaign_id, pledge_id, e.account,
                    "dispute_withdrawn", e.amount, currency, dispute_id,
                )
            )  # fmt: skip
        withdrawn = [e.doc() for e in entries]
    if won:
        for w in withdrawn:
            entries.append(
                LedgerEntry(
                    f"dispute:{dispute_id}:reinstated:{w['account']}", campaign_id, pledge_id, w["account"],
                    "dispute_reinstated", -w["amount"], currency, dispute_id,
                )
            )  # fmt: skip
    return entries


def match_entry(
    kind: Literal["match_applied", "match_released", "match_awarded", "match_committed", "match_canceled"],
    ref: str,
    campaign_id: str,
    amount: int,
    currency: str,
) -> LedgerEntry:
    account: Literal["match", "commitments"] = (
        "match" if kind in ("match_applied", "match_released", "match_awarded") else "commitments"
    )
    return LedgerEntry(f"{kind}:{ref}", campaign_id, "", account, kind, amount, currency, ref)


# What settles a city's due with money the platform then holds for the campaign: the city's own
# payment, or residents' gifts to its pool (pool_gifts/). Both are the holder's (payouts).
MATCH_PAID_KINDS = ("match_received", "match_settled_from_gifts")


def ledger_totals(entries: list[dict[str, Any]]) -> dict[str, int]:
    raised = sum(e["amount"] for e in entries if e["account"] == "project")
    return {
        "matched": sum(e["amount"] for e in entries if e["account"] == "match"),
        "match_committed_open": sum(e["amount"] for e in entries if e["account"] == "commitments"),
        "match_owed_by_city": sum(e["amount"] for e in entries if e["account"] == "city"),
        "match_received": -sum(e["amount"] for e in entries if e["kind"] == "match_received"),
        "charged": sum(e["amount"] for e in entries if e["account"] == "project" and e["kind"] == "charge"),
        "refunded": -sum(e["amount"] for e in entries if e["account"] == "project" and e["kind"] == "refund"),
        # What open or lost disputes took back (the project's share; a won one nets to zero).
        "disputed": -sum(
            e["amount"] for e in entries if e["account"] == "project" and e["kind"] in DISPUTE_KINDS
        ),
        "raised": raised,
        "platform_fees": sum(e["amount"] for e in entries if e["account"] == "platform"),
        # Stripe's fees on the project's charges (recorded when a payout is computed: payouts.py)
        # and what was transferred to the holder's connected account, both negative entries.
        "stripe_fees": -sum(e["amount"] for e in entries if e["account"] == "stripe_fees"),
        "paid_out": -sum(e["amount"] for e in entries if e["account"] == "payouts"),
        # The match a city paid is the holder's too (payouts_domain.release); one owed, not yet.
        "payout_owed": raised
        - sum(e["amount"] for e in entries if e["kind"] in MATCH_PAID_KINDS)
        + sum(e["amount"] for e in entries if e["account"] in ("stripe_fees", "payouts")),
    }


@dataclass(frozen=True)
class MoneyView:
    """Per pledge: gross money taken and given back (both accounts); `disputed`, what disputes
    hold back net of those won."""

    charged: int = 0
    refunded: int = 0
    disputed: int = 0


def journal_by_pledge(entries: list[dict[str, Any]]) -> dict[str, MoneyView]:
    out: dict[str, MoneyView] = {}
    for e in entries:
        if e["account"] not in ("project", "platform"):
            continue  # match funding is the city's money, not a Stripe movement of a pledge
        view = out.get(e["pledge_id"], MoneyView())
        if e["kind"] in DISPUTE_KINDS:
            view = MoneyView(view.charged, view.refunded, view.disputed - e["amount"])
        elif e["amount"] >= 0:
            view = MoneyView(view.charged + e["amount"], view.refunded, view.disputed)
        else:
            view = MoneyView(view.charged, view.refunded - e["amount"], view.disputed)
        out[e["pledge_id"]] = view
    return out


def reconcile(journal: dict[str, MoneyView], stripe: dict[str, MoneyView]) -> list[dict[str, Any]]:
    """Differences between the journal and Stripe's objects, per pledge (empty: they agree)."""
    differences = []
    for pledge_id in sorted(set(journal) | set(stripe)):
        ours, theirs = journal.get(pledge_id, MoneyView()), stripe.get(pledge_id, MoneyView())
        for field in ("charged", "refunded", "disputed"):
            if getattr(ours, field) != getattr(theirs, field):
                differences.append(
                    {
                        "pledge_id": pledge_id,
                        "field": field,
                        "journal": getattr(ours, field),
                        "stripe": getattr(theirs, field),
                    }
                )
    return differences


# -- city subscriptions ---------------------------------------------------------------------

PLANS = {"monthly": "month", "yearly": "year"}


def plan_id(plan: str) -> str:
    return f"civicfund-city-{plan}"


def subscription_active(stripe_status: str) -> bool:
    return stripe_status in ("active", "trialing")


def subscription_event(was_active: bool | None, stripe_status: str) -> str | None:
    """The event a subscription's (re-fetched) status calls for, if its activity changed."""
    now_active = subscription_active(stripe_status)
    if now_active and was_active is not True:
        return "subscription.activated"
    if not now_active and was_active is True:
        return "subscription.lapsed"
    return None
