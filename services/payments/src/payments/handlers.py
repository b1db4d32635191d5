"""Events payments consumes: the campaign projection (to validate pledges and know owners),
campaign outcomes (charge, release, refund), and municipalities (to sell subscriptions)."""

from __future__ import annotations

from servicekit.bus import Handlers, PermanentError
from servicekit.events import Event
from servicekit.mongo import Tx, utcnow

from . import domain
from .store import Store, pledge_event_data

campaign_handlers = Handlers("payments.campaigns")
municipality_handlers = Handlers("payments.municipalities")
match_handlers = Handlers("payments.matches")

_PROJECTED = ("status", "currency", "funding_model", "owner_id", "municipality", "title", "goal")


async def _project(event: Event, tx: Tx) -> dict | None:
    """Keep the highest version of the campaign; returns the projection as it was before."""
    data = event.data
    campaign_id = data.get("campaign_id")
    version = data.get("version")
    if not isinstance(campaign_id, str) or not isinstance(version, int):
        raise PermanentError("campaign event without campaign_id/version")
    before = await tx.db.campaigns.find_one({"_id": campaign_id}, session=tx.session)
    if before is not None and not domain.is_newer(before.get("version"), version):
        return before
    doc = {k: data[k] for k in _PROJECTED if k in data}
    doc.update({"version": version, "updated_at": utcnow()})
    if before is None:
        await tx.db.campaigns.insert_one({"_id": campaign_id, **doc}, session=tx.session)
    else:
        await tx.db.campaigns.update_one({"_id": campaign_id}, {"$set": doc}, session=tx.session)
    return before


@campaign_handlers.on(*(f"campaign.{verb}" for verb in domain.CAMPAIGN_STATES_WITH_VERSION))
async def on_campaign_changed(event: Event, tx: Tx) -> None:
    before = await _project(event, tx)
    outcome = event.routing_key.removeprefix("campaign.")
    if outcome not in ("succeeded", "failed", "canceled"):
        return
    if not domain.outcome_applies(
        outcome,
        before.get("status") if before else None,
        before.get("version") if before else None,
        event.data["version"],
    ):
        return
    await apply_outcome(tx, event.data["campaign_id"], outcome, event.data.get("reason"))


async def apply_outcome(tx: Tx, campaign_id: str, outcome: str, reason: str | None) -> None:
    """Move every pledge of the campaign as the outcome says. Each move is conditional on the
    pledge's current status, so a redelivered outcome finds nothing left to move."""
    pledges = await tx.db.pledges.find({"campaign_id": campaign_id}, session=tx.session).to_list()
    for pledge in pledges:
        nxt = domain.status_after_campaign_outcome(outcome, pledge["funding_model"], pledge["status"])
        if nxt is None:
            continue
        extra = {"refund_reason": f"campaign {outcome}" + (f": {reason}" if reason else "")}
        moved = await Store.move_pledge(tx, pledge["_id"], [pledge["status"]], nxt, **extra)
        if moved is not None and nxt == domain.RELEASED:
            tx.emit("pledge.released", pledge["_id"], pledge_event_data(pledge, reason=f"campaign {outcome}"))


@municipality_handlers.on("municipality.registered")
async def on_municipality_registered(event: Event, tx: Tx) -> None:
    slug = event.data["slug"]
    doc = {
        "name": event.data["name"],
        "municipality_id": event.data["municipality_id"],
        "updated_at": utcnow(),
    }
    if await tx.db.municipalities.find_one({"_id": slug}, session=tx.session) is None:
        await tx.db.municipalities.insert_one({"_id": slug, **doc}, session=tx.session)
    else:
        await tx.db.municipalities.update_one({"_id": slug}, {"$set": doc}, session=tx.session)


# Match funding enters the ledger as the city's money (applied / released) and, as a memo,
# the open commitments; their ids derive from endorsements' ids so redeliveries add nothing.


@match_handlers.on("match.committed")
async def on_match_committed(event: Event, tx: Tx) -> None:
    d = event.data
    entry = domain.match_entry(
        "match_committed", d["commitment_id"], d["campaign_id"], d["max_amount"], d["currency"]
    )
    await Store.append_ledger(tx, [entry], utcnow())


@match_handlers.on("match.canceled")
async def on_match_canceled(event: Event, tx: Tx) -> None:
    d = event.data
    committed = await tx.db.ledger.find_one(
        {"_id": f"match_committed:{d['commitment_id']}"}, session=tx.session
    )
    promised = committed["amount"] if committed is not None else d.get("max_amount")
    if promised is None:
        # Arrived before its match.committed: retried with backoff (then parked) until it has.
        raise LookupError(f"match.canceled before match.committed for {d['commitment_id']}")
    # What stays given keeps counting; the rest of the promise is withdrawn.
    withdrawn = int(promised) - int(d.get("amount") or 0)
    entry = domain.match_entry(
        "match_canceled", d["commitment_id"], d["campaign_id"], -withdrawn, d["currency"]
    )
    await Store.append_ledger(tx, [entry], utcnow())


@match_handlers.on("match.applied")
async def on_match_applied(event: Event, tx: Tx) -> None:
    d = event.data
    entry = domain.match_entry(
        "match_applied", d["application_id"], d["campaign_id"], d["amount"], d["currency"]
    )
    await Store.append_ledger(tx, [entry], utcnow())


@match_handlers.on("match.released")
async def on_match_released(event: Event, tx: Tx) -> None:
    d = event.data
    entry = domain.match_entry(
        "match_released", d["commitment_id"], d["campaign_id"], d["amount"], d["currency"]
    )
    await Store.append_ledger(tx, [entry], utcnow())
