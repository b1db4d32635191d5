"""Payments' view of campaigns: the projection of `campaign.*` (to validate pledges and know
owners), and the one use case of what a campaign's outcome does to its pledges (rule:
`domain.outcome_move`). Runs inside the caller's transaction: the event handler's, or the one
that records a card saved or a payment made after the outcome."""

from __future__ import annotations

from typing import Any

from servicekit.bus import PermanentError
from servicekit.mongo import Tx, utcnow

from . import domain, fallback
from .store import Doc, Store

# permits_pending: a permit the project needs is not granted yet; its payouts wait (payouts.py).
_PROJECTED = (
    "status", "currency", "funding_model", "owner_id", "municipality", "title", "goal", "permits_pending",
)  # fmt: skip


async def campaign_changed(tx: Tx, routing_key: str, data: dict[str, Any]) -> None:
    """A `campaign.*` event: keep the highest version; an outcome moves the campaign's pledges
    unless a later, contradicting one was already seen."""
    store = Store.of(tx)
    campaign_id = data.get("campaign_id")
    version = data.get("version")
    if not isinstance(campaign_id, str) or not isinstance(version, int):
        raise PermanentError("campaign event without campaign_id/version")
    before = await store.campaign(campaign_id, tx)
    if before is None or domain.is_newer(before.get("version"), version):
        fields = {k: data[k] for k in _PROJECTED if k in data}
        # The reason travels with the outcome to pledges that reach it late.
        fields.update(version=version, reason=data.get("reason"), updated_at=utcnow())
        await store.save_campaign(tx, campaign_id, fields, exists=before is not None)
    outcome = routing_key.removeprefix("campaign.")
    if outcome not in ("succeeded", "failed", "canceled"):
        return
    if not domain.outcome_applies(
        outcome,
        before.get("status") if before else None,
        before.get("version") if before else None,
        version,
    ):
        return
    for pledge in await store.pledges_of_campaign(campaign_id, tx):
        await _follow(tx, store, pledge, outcome, data.get("reason"))


async def follow_ended_campaign(tx: Tx, store: Store, pledge: Doc) -> None:
    """A pledge that just got its card saved or its payment after the campaign's outcome was
    handled: the outcome applies to it too."""
    campaign = await store.campaign(pledge["campaign_id"], tx)
    outcome = domain.campaign_outcome(campaign.get("status") if campaign else None)
    if campaign is not None and outcome is not None:
        await _follow(tx, store, pledge, outcome, campaign.get("reason"))


async def _follow(tx: Tx, store: Store, pledge: Doc, outcome: str, reason: str | None) -> None:
    """Each move is conditional on the pledge's current status, so a redelivered outcome finds
    nothing left to move."""
    move = domain.outcome_move(outcome, pledge["funding_model"], pledge["status"], reason)
    if move is None:
        return
    if await fallback.release_or_repledge(tx, store, pledge, move, outcome):
        return
    moved = await store.move_pledge(
        tx, pledge["_id"], [pledge["status"]], move.status, refund_reason=move.refund_reason
    )
    if moved is not None and move.released:
        tx.emit("pledge.released", pledge["_id"], domain.event_data(pledge, reason=f"campaign {outcome}"))
