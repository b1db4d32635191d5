"""The backer-chosen fallback, the use cases (rules: fallback_domain.py): the choice checked at
checkout, and honoured inside the transaction that applies a campaign's outcome to a pledge
(campaigns._follow), so the original pledge's release and the new pledge (or the gift to the
city's pool, charged by pool_gifts/) are one write."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from servicekit.errors import DomainError
from servicekit.mongo import Tx, utcnow

from . import domain, fallback_domain
from .fallback_domain import FallbackCampaign
from .pool_gifts import usecases as pool_gifts
from .store import Doc, Store


def campaign_of(doc: Doc | None) -> FallbackCampaign | None:
    if doc is None:
        return None
    return FallbackCampaign(
        doc["_id"],
        doc.get("status", ""),
        doc.get("currency", ""),
        doc.get("funding_model", ""),
        doc.get("municipality"),
    )


async def checked_choice(store: Store, campaign: Doc, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The fallback to store on a new pledge to `campaign`, or a 422 naming the field."""
    choice = body.get("fallback")
    target = None
    if choice and choice.get("kind") == "campaign":
        target = campaign_of(await store.campaign(str(choice.get("campaign_id", ""))))
    own = campaign_of(campaign)
    assert own is not None
    pool = None
    if choice and choice.get("kind") == "city_pool":
        pool = await pool_gifts.offered(store.db, own.municipality, own.currency)
    try:
        return fallback_domain.check_choice(
            choice, bool(body.get("fallback_consent")), own, target, now, pool
        )
    except domain.PledgeRejected as exc:
        raise DomainError(exc.code, 422, str(exc)) from exc


async def release_or_repledge(
    tx: Tx, store: Store, pledge: Doc, move: domain.OutcomeMove, outcome: str
) -> bool:
    """Honour a `campaign` fallback instead of a plain release: the original pledge is released
    (its campaign's totals drop: pledge.released) and a new pledge of the same amount with the
    same card is written on the target. Returns False when the move applies as it is."""
    choice = pledge.get("fallback") or fallback_domain.REFUND
    if choice.get("kind") == "city_pool":
        return await _give_to_pool(tx, store, pledge, move, outcome, choice)
    if choice.get("kind") != "campaign":
        return False
    target = campaign_of(await store.campaign(str(choice.get("campaign_id")), tx))
    if not fallback_domain.repledges(move, pledge, target):
        return False
    assert target is not None
    now = utcnow()
    new = fallback_domain.fallback_pledge(pledge, target, now)
    reason = f"campaign {outcome}; moved to {target.id} as the backer chose"
    if not await _release_as_chosen(tx, store, pledge, move, reason, fallback_pledge_id=new["_id"]):
        return True  # a redelivery or a worker got there first: nothing left to move
    if await store.pledge(new["_id"], tx) is None:
        await store.insert_pledge(tx, new)
        if new["status"] == domain.AUTHORIZED:
            tx.emit("pledge.authorized", new["_id"], domain.event_data(new))
        # A charge-due pledge tells campaigns once it is paid (payment.succeeded, charging.py).
    return True


async def _give_to_pool(
    tx: Tx, store: Store, pledge: Doc, move: domain.OutcomeMove, outcome: str, choice: dict[str, Any]
) -> bool:
    """Honour a `city_pool` choice: the pledge is released from its campaign (its totals drop:
    pledge.released) and a gift of its amount to the chosen pool is written, charged on the saved
    card by the pool_gifts job. A pool that stopped accepting gifts means a plain release."""
    pool = await pool_gifts.pool(tx, str(choice.get("pool_id", "")))
    if not fallback_domain.gives_to_pool(move, pledge, pool):
        return False
    assert pool is not None
    gift = fallback_domain.pool_gift(pledge, pool, utcnow())
    reason = f"campaign {outcome}; given to {pool.name} as the backer chose"
    if not await _release_as_chosen(
        tx, store, pledge, move, reason, fallback_gift_id=gift["_id"], gift_status="pending"
    ):
        return True  # a redelivery or a worker got there first
    await pool_gifts.write_gift(tx, gift)
    return True


async def _release_as_chosen(
    tx: Tx, store: Store, pledge: Doc, move: domain.OutcomeMove, reason: str, **fields: Any
) -> bool:
    """Release the pledge from its campaign (its totals drop: pledge.released) with what the
    backer's choice made of it; False when another delivery or worker moved it first."""
    moved = await store.move_pledge(
        tx, pledge["_id"], [pledge["status"]], domain.RELEASED, refund_reason=move.refund_reason, **fields
    )
    if moved is None:
        return False
    tx.emit("pledge.released", pledge["_id"], domain.event_data(pledge, reason=reason))
    return True
