"""The backer-chosen fallback, free of I/O: what a backer may choose at checkout for the case
their campaign fails or is canceled, and what that choice does at the outcome.

Three choices for all-or-nothing pledges: `refund` (the default: released as before),
`campaign` (nothing was charged, so the saved card backs a new pledge of the same amount on
another live campaign of the same city) and `city_pool` (the saved card is charged the pledge's
amount as a gift to the city's pool that accepts residents' gifts: pool_gifts/). A choice is only
accepted when it can be honoured: `city_pool` needs such a pool for the campaign's city, year
and currency (README, "If a campaign fails: the backer's choice").
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
class GiftPool:
    """A city pool that accepts residents' gifts (payments' projection of pool.updated)."""

    id: str
    municipality: str
    name: str
    year: int
    currency: str
    accepts_gifts: bool


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
    pool: GiftPool | None = None,
) -> dict[str, Any]:
    """The fallback to store on a new pledge, or PledgeRejected (all 422: the body is wrong).
    `pool`: the pool of the campaign's city taking gifts now (offered_pool), for `city_pool`."""
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
        named = choice.get("municipality")
        if named is not None and named != own.municipality:
            raise PledgeRejected("fallback_other_city", "the pool must be the campaign's own city's")
        if pool is None or not gives_to(pool, own.municipality, own.currency, now.year):
            raise PledgeRejected(
                "fallback_unavailable",
                "this city has no pool taking residents' gifts; choose a refund or a campaign",
            )
        # The pool is named in the choice: what the backer agreed to give to stays what it was.
        return {
            "kind": "city_pool",
            "municipality": pool.municipality,
            "pool_id": pool.id,
            "pool_name": pool.name,
            "consent_version": CONSENT_VERSION,
            "consented_at": now,
        }
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


def gives_to(pool: GiftPool, municipality: str | None, currency: str, year: int) -> bool:
    """Whether backers of a campaign of `municipality` in `currency` may give to `pool` in
    `year`: the city's pool of the current year that accepts gifts (pools have no districts)."""
    return (
        pool.accepts_gifts
        and bool(municipality)
        and pool.municipality == municipality
        and pool.currency == currency
        and pool.year == year
    )


def offered_pool(
    pools: list[GiftPool], municipality: str | None, currency: str, year: int
) -> GiftPool | None:
    """The pool checkout offers (endorsements lets one pool per city, year and currency accept
    gifts; the lowest id decides if an older projection briefly holds two)."""
    fitting = sorted((p for p in pools if gives_to(p, municipality, currency, year)), key=lambda p: p.id)
    return fitting[0] if fitting else None


def gives_to_pool(move: domain.OutcomeMove, pledge: dict[str, Any], pool: GiftPool | None) -> bool:
    """Whether an outcome's move honours the pledge's `city_pool` choice by charging its saved
    card for the pool. The pool named at checkout must still accept gifts in the pledge's
    currency (the year is not checked again: the backer agreed to that pool); else the pledge is
    released, as with a refund choice. Like a move to a campaign, only a card never charged."""
    fallback = pledge.get("fallback") or REFUND
    return (
        fallback.get("kind") == "city_pool"
        and move.status == domain.RELEASED
        and pledge["funding_model"] == "all_or_nothing"
        and pledge["status"] in (domain.AUTHORIZED, domain.CHARGE_DUE)
        and bool(pledge.get("payment_method"))
        and pool is not None
        and pool.id == fallback.get("pool_id")
        and pool.accepts_gifts
        and pool.currency == pledge["currency"]
    )


def pool_gift_id(pledge_id: str) -> str:
    """One gift per pledge: a redelivered outcome finds it already there."""
    return "gft_" + hashlib.sha256(f"pool_gift|{pledge_id}".encode()).hexdigest()[:32]


def pool_gift(pledge: dict[str, Any], pool: GiftPool, now: datetime) -> dict[str, Any]:
    """The gift to charge on the saved card: the pledge's amount (the tip was for the platform
    on that project: not charged), to the pool, off-session (pool_gifts/ charges it)."""
    return {
        "_id": pool_gift_id(pledge["_id"]),
        "pledge_id": pledge["_id"],
        "campaign_id": pledge["campaign_id"],
        "backer_id": pledge["backer_id"],
        "pool_id": pool.id,
        "pool_name": pool.name,
        "municipality": pool.municipality,
        "amount": pledge["amount"],
        "currency": pledge["currency"],
        "customer_id": pledge["customer_id"],
        "payment_method": pledge["payment_method"],
        "status": "due",
        "payment_intent_id": None,
        "created_at": now,
        "updated_at": now,
        "due_ms": int(now.timestamp() * 1000),
    }
