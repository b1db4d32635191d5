"""Closes campaigns whose deadline passed: succeeded or failed by the funding model's rule.

Safe with any number of replicas: a replica first claims a campaign with a lease (one guarded
write: only if live, past its deadline and not claimed by a live lease), then closes it in a
second transaction that only applies while the campaign is still live and still its claim.
A replica that dies after claiming leaves a lease that expires, and another one closes it.
The status guard means a campaign is never closed twice."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta

from servicekit.app import ServiceContext
from servicekit.logging import get_logger
from servicekit.mongo import Tx, utcnow

from . import domain, metrics
from .store import CampaignStore, Conflict, emit_snapshot, ms, save

log = get_logger(__name__)


class DeadlineScheduler:
    def __init__(self, store: CampaignStore, lease_s: float, batch: int) -> None:
        self.store = store
        self.lease_s = lease_s
        self.batch = batch
        self.owner = f"closer-{uuid.uuid4().hex[:12]}"

    async def due(self) -> list[str]:
        now = utcnow()
        docs = (
            await self.store.db.campaigns.find(
                {"status": "live", "deadline_ms": {"$lte": ms(now)}}, {"_id": 1}
            )
            .sort([("deadline_ms", 1)])
            .limit(self.batch)
            .to_list()
        )
        return [d["_id"] for d in docs]

    async def claim(self, campaign_id: str) -> bool:
        """Take the lease on one due campaign; False if someone else holds it or it is closed."""
        now = utcnow()

        async def work(tx: Tx) -> bool:
            doc = await tx.db.campaigns.find_one({"_id": campaign_id}, session=tx.session)
            if doc is None or doc["status"] != "live" or doc["deadline"] > now:
                return False
            lease = doc.get("closing") or {}
            if lease and lease["owner"] != self.owner and lease["until"] > now:
                return False
            await save(
                tx,
                "campaigns",
                {**doc, "closing": {"owner": self.owner, "until": now + timedelta(seconds=self.lease_s)}},
            )
            return True

        try:
            return await self.store.mongo.transact(work)
        except Conflict:
            return False  # another replica claimed it between our read and write

    async def close(self, campaign_id: str) -> str | None:
        """Close a campaign this replica claimed; returns the new status, None if not ours."""

        async def work(tx: Tx) -> str | None:
            doc = await tx.db.campaigns.find_one({"_id": campaign_id}, session=tx.session)
            if (
                doc is None
                or doc["status"] != "live"
                or (doc.get("closing") or {}).get("owner") != self.owner
            ):
                return None
            action = domain.closing_action(doc)
            changed, event_type = domain.apply_transition(doc, action, {"system"}, utcnow())
            changed.pop("closing", None)
            saved = await save(tx, "campaigns", changed)
            emit_snapshot(tx, event_type, saved)
            return saved["status"]

        try:
            return await self.store.mongo.transact(work)
        except Conflict:
            return None  # changed under us (a funding event); the next tick retries with the lease

    async def tick(self) -> dict[str, str]:
        closed: dict[str, str] = {}
        for campaign_id in await self.due():
            if await self.claim(campaign_id):
                status = await self.close(campaign_id)
                if status is not None:
                    closed[campaign_id] = status
                    metrics.DEADLINES_CLOSED.labels(status).inc()
                    metrics.TRANSITIONS.labels(status).inc()
                    log.info("campaign_closed", campaign_id=campaign_id, status=status)
        return closed


async def run(ctx: ServiceContext, stop: asyncio.Event) -> None:
    """Background task: one tick every `deadline_tick_s` until the service stops."""
    store: CampaignStore = ctx.extras["store"]
    scheduler: DeadlineScheduler = ctx.extras.setdefault(
        "scheduler", DeadlineScheduler(store, ctx.settings.deadline_lease_s, ctx.settings.deadline_batch)
    )
    while not stop.is_set():
        try:
            await scheduler.tick()
        except Exception:
            log.exception("deadline_tick_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=ctx.settings.deadline_tick_s)
