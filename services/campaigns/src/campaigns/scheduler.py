"""Asks for the closing of campaigns whose deadline passed (closing.py: payments tallies the
campaign's pledges, then the campaign succeeds or fails by the funding model's rule).

Safe with any number of replicas: each tick finds the live campaigns past their deadline that
did not ask yet and, for each, claims the request as a work item (`closings`,
servicekit.jobs.WorkQueue: one holder at a time, under a lease), then records it in a
transaction that applies only while the campaign is still live, not asked yet and the claim
still ours. A replica that dies after claiming leaves a lease that expires, and another one
asks. The guards mean payments is asked once per campaign."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from pymongo.errors import DuplicateKeyError

from servicekit.app import ServiceContext
from servicekit.jobs import WorkQueue, every
from servicekit.logging import get_logger
from servicekit.mongo import Tx, utcnow

from . import closing, domain
from .settings import Settings
from .store import CLOSINGS, CampaignStore, Conflict, ms

log = get_logger(__name__)


class DeadlineScheduler:
    def __init__(self, store: CampaignStore, lease_s: float, batch: int) -> None:
        assert store.mongo is not None
        self.store = store
        self.batch = batch
        self.queue = WorkQueue(
            store.mongo, CLOSINGS, lease_s=lease_s, owner=f"closer-{uuid.uuid4().hex[:12]}"
        )

    async def due(self) -> list[str]:
        return await self.store.due_campaign_ids(ms(utcnow()), self.batch)

    async def claim(self, campaign_id: str) -> bool:
        """Take the lease on closing one campaign; False if another replica holds it or it is done."""
        with contextlib.suppress(DuplicateKeyError):  # another replica enqueued it at the same moment
            await self.store.run(lambda tx: self._enqueue(tx, campaign_id))
        return await self.queue.claim(item_id=campaign_id) is not None

    async def _enqueue(self, tx: Tx, campaign_id: str) -> None:
        if await self.store.by_id(CLOSINGS, campaign_id, tx) is None:
            await self.queue.add(tx, campaign_id)

    async def close(self, campaign_id: str) -> str | None:
        """Ask for the closing of a campaign whose closing this replica claimed; returns
        "closing" once asked, None if the claim is not ours or it was not asked by it."""

        async def work(tx: Tx) -> tuple[str, str | None]:
            item = await self.store.by_id(CLOSINGS, campaign_id, tx)
            if (
                item is None
                or item["status"] != self.queue.working
                or item["lease_owner"] != self.queue.owner
            ):
                return "not_ours", None
            campaign = await self.store.campaign(campaign_id, tx)
            if campaign is None or campaign["status"] != "live" or domain.closing_of(campaign):
                return "finished", None
            if campaign["deadline"] > utcnow():
                return "not_due", None
            await closing.request(tx, campaign)
            return "finished", "closing"

        try:
            outcome, status = await self.store.run(work, attempts=1)
        except Conflict:
            outcome, status = "not_due", None  # changed under us (a funding event): try again soon
        if outcome == "finished":
            await self.queue.complete(campaign_id)
        elif outcome == "not_due":
            await self.queue.release(campaign_id)
        return status

    async def tick(self) -> dict[str, str]:
        """The campaigns whose closing this tick asked for ({id: "closing"})."""
        asked: dict[str, str] = {}
        for campaign_id in await self.due():
            if await self.claim(campaign_id):
                status = await self.close(campaign_id)
                if status is not None:
                    asked[campaign_id] = status
                    log.info("campaign_closing_requested", campaign_id=campaign_id)
        return asked


async def run(ctx: ServiceContext, stop: asyncio.Event) -> None:
    """Background task: one tick every `deadline_tick_s` until the service stops."""
    settings = ctx.get(Settings)
    scheduler = DeadlineScheduler(ctx.get(CampaignStore), settings.deadline_lease_s, settings.deadline_batch)
    await every(settings.deadline_tick_s, scheduler.tick, stop, name="campaign-deadlines")
