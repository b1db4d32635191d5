"""The backer-chosen fallback, free of I/O: what a backer may choose at checkout for the case
their campaign fails or is canceled, and what that choice does at the outcome.

Honoured today: `refund` (the default: released / refunded as before) and `campaign` for
all-or-nothing pledges (nothing was charged, so the saved card backs a new pledge of the same
amount on another live campaign of the same city). `city_pool` is refused at checkout until
endorsements can book pool donations (README, "If a campaign fails: the backer's choice"): a
choice is only accepted when it can be honoured.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import domain
from .domain import PledgeRejected

# The version of the consent text the checkout shows (web: templates/checkout); stored on the
# pledge so what the backer agreed to can be shown later, even after the wording changes.
CONSENT_VERSION = "fallback-consent-2026-12-01"

REFUND: dict[str, Any] = {"kind": "refund"}


@dataclass(frozen=True)
class FallbackCampaign:
    """The parts of a campaign (payments' projection) the choice is checked against."""

    id: str
    status: str
    currency: str
    funding_model: str
    municipality: str | None


def check_choice(
    choice: dict[str, Any] | None,
    consent: bool,
    own: FallbackCampaign,
    target: FallbackCampaign | None,
    now: datetime,
) -> dict[str, Any]:
    """The fallback to store on a new pledge, or PledgeRejected (all 422: the body is wrong)."""
    if choice is None or choice.get("kind") == "refund":
        return dict(REFUND)
    kind = choice.get("kind")
    if not consent:
        raise PledgeRejected(
            "fallback_consent_required", "tick the consent box to choose where the money goes"
        )
    if own.funding_model != "all_or_nothing":
        # Keep-it-all keeps what it raised; a cancellation refunds money already taken (why
        # it is not moved: README, "If a campaign fails: the backer's choice").
        raise PledgeRejected(
            "fallback_not_offered", "keep-it-all campaigns refund the backer if canceled; no other choice"
        )
    if kind == "city_pool":
        raise PledgeRejected(
            "fallback_unavailable",
            "giving to the city's pool is not available yet; choose a refund or a campaign",
        )
    if kind != "campaign":
        raise PledgeRejected("fallback_invalid", f"unknown fallback {kind!r}")
    if target is None:
        raise PledgeRejected("fallback_campaign_not_found", "no such campaign")
    if target.id == own.id:
        raise PledgeRejected("fallback_same_campaign", "choose another campaign than this one")
    if target.status != "live":
        raise PledgeRejected("fallback_campaign_not_live", f"that campaign is {target.status}")
    if not own.municipality or target.municipality != own.municipality:
        raise PledgeRejected("fallback_other_city", "the other campaign must be in the same city")
    if target.currency != own.currency:
        raise PledgeRejected("fallback_currency_mismatch", f"that campaign raises money in {target.currency}")
    return {
        "kind": "campaign",
        "campaign_id": target.id,
        "consent_version": CONSENT_VERSION,
        "consented_at": now,
    }


def repledges(
    move: domain.OutcomeMove,
    pledge: dict[str, Any],
    target: FallbackCampaign | None,
) -> bool:
    """Whether an outcome's move honours the pledge's `campaign` fallback by a new pledge on
    the target (else the move applies as it is: release, refund).

    Only a saved card that was never charged moves (authorized, or charge due when the
    success was followed by a cancel); a card that already failed off-session is not reused.
    If the target ended meanwhile, the pledge is released, as with a refund choice."""
    fallback = pledge.get("fallback") or REFUND
    return (
        fallback.get("kind") == "campaign"
        and move.status == domain.RELEASED
        and pledge["funding_model"] == "all_or_nothing"
        and pledge["status"] in (domain.AUTHORIZED, domain.CHARGE_DUE)
        and bool(pledge.get("payment_method"))
        and target is not None
        and target.id == fallback.get("campaign_id")
        and target.id != pledge["campaign_id"]
        and target.status == "live"
        and target.currency == pledge["currency"]
    )


def fallback_pledge_id(pledge_id: str) -> str:
    """One new pledge per original: a redelivered outcome finds it already there."""
    return "plg_" + hashlib.sha256(f"fallback|{pledge_id}".encode()).hexdigest()[:32]


def fallback_pledge(pledge: dict[str, Any], target: FallbackCampaign, now: datetime) -> dict[str, Any]:
    """The new pledge on the target with the same saved card: authorized on an all-or-nothing
    target (charged if it succeeds), due now on a keep-it-all one (the charger takes it
    off-session, as for a succeeded all-or-nothing campaign)."""
    status = domain.AUTHORIZED if target.funding_model == "all_or_nothing" else domain.CHARGE_DUE
    doc: dict[str, Any] = {
        "_id": fallback_pledge_id(pledge["_id"]),
        "campaign_id": target.id,
        "backer_id": pledge["backer_id"],
        "amount": pledge["amount"],
        "tip": pledge.get("tip", 0),
        "currency": pledge["currency"],
        "anonymous": bool(pledge.get("anonymous", False)),
        "funding_model": target.funding_model,
        "status": status,
        "customer_id": pledge["customer_id"],
        "payment_method": pledge["payment_method"],
        "intent_kind": None,
        "setup_open": False,
        "intents": [],
        "attempts": 0,
        # No second move: if this one fails too, it is released / refunded.
        "fallback": dict(REFUND),
        "fallback_of": pledge["_id"],
        "authorized_at": now,
        "created_at": now,
        "updated_at": now,
        "checked_at": now,
        "checked_ms": int(now.timestamp() * 1000),
    }
    if pledge.get("public_name"):
        doc["public_name"] = pledge["public_name"]
    return doc
