"""Payments' view of campaigns: the projection of `campaign.*` (to validate pledges and know
owners), the one use case of what a campaign's outcome does to its pledges (rule:
`domain.outcome_move`), and the tally at its deadline campaigns closes it on (tally_domain.py). Runs inside the caller's transaction: the event handler's, or the one
that records a card saved or a payment made after the outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from servicekit.bus import PermanentError
from servicekit.mongo import Tx, epoch_ms, utcnow

from . import domain, fallback, tally_domain
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
        if isinstance(data.get("deadline"), str):
            # Epoch ms: a stored datetime reads back as a string (store.py); no pledge after it.
            fields["deadline_ms"] = epoch_ms(datetime.fromisoformat(data["deadline"]))
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
    await _move(tx, store, pledge, move, f"campaign {outcome}")


async def _move(tx: Tx, store: Store, pledge: Doc, move: domain.OutcomeMove, said: str) -> None:
    moved = await store.move_pledge(
        tx, pledge["_id"], [pledge["status"]], move.status, refund_reason=move.refund_reason
    )
    if moved is not None and move.released:
        tx.emit("pledge.released", pledge["_id"], domain.event_data(pledge, reason=said))


async def arrived_late(tx: Tx, store: Store, pledge: Doc) -> bool:
    """Whether a pledge just authorised or paid came after its campaign was tallied without it
    (a Stripe webhook that arrived late): campaigns closes on the tally, so it must not count."""
    return tally_domain.arrived_late(pledge, await store.tally(pledge["campaign_id"], tx) is not None)


async def turn_away_late(tx: Tx, store: Store, pledge: Doc) -> None:
    """A late pledge (`arrived_late`) is released, or refunded, as arrived after the deadline:
    the same moves as a failed or canceled campaign's pledges."""
    move = tally_domain.late_move(pledge["status"])
    if move is not None:
        await _move(tx, store, pledge, move, tally_domain.LATE_REASON)


async def deadline_passed(tx: Tx, data: dict[str, Any]) -> None:
    """campaign.deadline_passed: tally the campaign from payments' own pledges, close it to
    new authorisations (a late one is turned away), and answer pledges.tallied. A campaign
    payments never heard of tallies zeros; a redelivery answers the stored tally again."""
    store = Store.of(tx)
    campaign_id = data.get("campaign_id")
    if not isinstance(campaign_id, str) or not campaign_id:
        raise PermanentError("campaign.deadline_passed without a campaign_id")
    tallied = await store.tally(campaign_id, tx)
    if tallied is None:
        pledges = await store.pledges_of_campaign(campaign_id, tx)
        counts = tally_domain.tally(pledges)
        # Every pledge is written: an authorisation committing at the same time conflicts with
        # this transaction (one of them runs again and sees the other), never slips between.
        for pledge in pledges:
            await store.set_pledge(tx, pledge["_id"], in_tally=tally_domain.counted(pledge))
        tallied = await store.insert_tally(
            tx, {"_id": campaign_id, "currency": data["currency"], **counts, "tallied_ms": epoch_ms()}
        )
        if await store.campaign(campaign_id, tx) is not None:
            await store.save_campaign(tx, campaign_id, {"tallied_ms": tallied["tallied_ms"]}, exists=True)
    tx.emit(
        "pledges.tallied",
        campaign_id,
        {
            "campaign_id": campaign_id,
            "currency": tallied["currency"],
            "authorized": tallied["authorized"],
            "succeeded": tallied["succeeded"],
        },
    )
