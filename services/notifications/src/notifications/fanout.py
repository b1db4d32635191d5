"""Use case and worker: expand notification jobs into per-recipient deliveries, one page per
transaction, so a campaign with thousands of followers never runs in the consumer's handler.

Jobs are `servicekit.jobs` work items: a replica leases one (`WorkQueue.claim`) and expands it
while it holds the lease. Back-pressure: no page is expanded while `fanout_max_pending` emails
wait to be sent; the job is given back and resumed at its cursor. Idempotent: each delivery's id
is event id + recipient + channel, and a page and the job's cursor are written in one
transaction, so a crash or a second replica never duplicates a message.
"""

from __future__ import annotations

import asyncio
from typing import Any

from servicekit.app import ServiceContext
from servicekit.jobs import WorkQueue, every
from servicekit.logging import get_logger
from servicekit.mongo import Mongo, Tx, utcnow

from . import store
from .domain import category_for, delivery_key, kind_of, wants
from .mailer import Mailer
from .settings import Settings

log = get_logger(__name__)
MAX_JOB_ATTEMPTS = 5


class LeaseLost(Exception):
    """Another replica took the job over (our lease expired): stop, it carries on."""


async def _deliver_to(tx: Tx, job: dict[str, Any], recipient: dict[str, Any]) -> None:
    kind = job["kind"]
    user_id = recipient["user_id"]
    user = await store.find_user(tx, user_id)
    if user is not None and user.get("deleted"):
        return
    prefs = await store.get_preferences(tx, user_id)
    category = category_for(kind, recipient["role"])
    context = job["context"]
    for channel in kind_of(kind).channels:
        if not wants(prefs, category, channel):
            continue
        key = delivery_key(context["event_id"], user_id, channel)
        common = {"_id": key, "user_id": user_id, "kind": kind, "role": recipient["role"], "context": context}
        if channel == "inapp":
            await store.add_inbox_item(tx, common)
        else:
            contact = {k: recipient[k] for k in ("email", "locale", "display_name") if k in recipient}
            await store.add_email_delivery(tx, {**common, "category": category, "contact": contact})


async def expand_page(mongo: Mongo, job_id: str, owner: str, page_size: int) -> bool:
    """Expand one page of a leased job; returns True while the job has more to do."""

    async def work(tx: Tx) -> bool:
        job = await store.find_fanout_job(tx, job_id)
        if job is None or job["status"] != store.FANOUT_WORKING or job.get("lease_owner") != owner:
            raise LeaseLost(job_id)
        stage_no, cursor = job["stage"], job["cursor"]
        stages = job["stages"]
        update: dict[str, Any]
        if stage_no >= len(stages):
            update = {"status": "done", "done_at": utcnow()}
        else:
            recipients = await store.audience_page(tx, stages[stage_no], cursor, page_size)
            for recipient in recipients:
                await _deliver_to(tx, job, recipient)
            if len(recipients) < page_size or stages[stage_no]["t"] == "user":
                update = {"stage": stage_no + 1, "cursor": ""}
            else:
                update = {"cursor": recipients[-1]["_key"]}
            if update.get("stage") == len(stages):
                update["status"] = "done"
                update["done_at"] = utcnow()
        await store.save_fanout_progress(tx, job_id, update)
        return update.get("status") != "done"

    return await mongo.transact(work)


async def _backlogged(mongo: Mongo, settings: Settings) -> bool:
    return await store.pending_emails(mongo) >= settings.fanout_max_pending


async def fanout_once(mongo: Mongo, settings: Settings, queue: WorkQueue) -> bool:
    """Lease one job and expand it while it holds the lease; False when there was nothing to do."""
    if await _backlogged(mongo, settings):
        log.info("fanout_backpressure", max_pending=settings.fanout_max_pending)
        return False
    job = await queue.claim()
    if job is None:
        return False

    async def expand(job: dict[str, Any]) -> None:
        try:
            while await expand_page(mongo, job["_id"], queue.owner, settings.fanout_page_size):
                if await _backlogged(mongo, settings):
                    # Give the lease back: another replica (or this one, later) resumes at the cursor.
                    await queue.release(job["_id"])
                    return
        except LeaseLost:
            log.warning("fanout_lease_lost", job_id=job["_id"])

    # A job that raises is retried after a lease's time, then marked failed (queue.process).
    await queue.process(expand, job)
    return True


async def run(ctx: ServiceContext, stop: asyncio.Event) -> None:
    """Background task: expand jobs until `stop`; rings the mailer after each job."""
    mongo = ctx.get(Mongo)
    settings = ctx.get(Settings)
    mailer = ctx.get(Mailer)
    queue = store.fanout_queue(mongo, settings.claim_lease_s, MAX_JOB_ATTEMPTS)

    async def tick() -> bool:
        worked = await fanout_once(mongo, settings, queue)
        if worked:
            mailer.wake.set()
        return worked

    await every(settings.worker_poll_s, tick, stop, name="fanout", again_when_busy=True)
