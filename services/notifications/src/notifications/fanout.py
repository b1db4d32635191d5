"""Fan-out worker: expands notification jobs into per-recipient deliveries, one page per
transaction, so a campaign with thousands of followers never runs in the consumer's handler.

Back-pressure: no page is expanded while `fanout_max_pending` emails wait to be sent.
Idempotent: each delivery's id is event id + recipient + channel, and a page and the job's
cursor are written in one transaction, so a crash or a second replica never duplicates a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

from pymongo.errors import PyMongoError

from servicekit.app import ServiceContext
from servicekit.logging import get_logger
from servicekit.mongo import Mongo, Tx, utcnow
from servicekit.mongo import epoch_ms as ms

from .domain import KINDS, category_for, delivery_key, wants
from .settings import Settings
from .store import audience_page, get_preferences, insert_if_absent

log = get_logger(__name__)
_MAX_JOB_FAILURES = 5


class LeaseLost(Exception):
    pass


async def _deliver_to(tx: Tx, job: dict[str, Any], recipient: dict[str, Any]) -> None:
    kind = job["kind"]
    user_id = recipient["user_id"]
    user = await tx.db.users.find_one({"_id": user_id}, session=tx.session)
    if user is not None and user.get("deleted"):
        return
    prefs = await get_preferences(tx, user_id)
    category = category_for(kind, recipient["role"])
    context = job["context"]
    now = utcnow()
    for channel in KINDS[kind].channels:
        if not wants(prefs, category, channel):
            continue
        key = delivery_key(context["event_id"], user_id, channel)
        common = {"_id": key, "user_id": user_id, "kind": kind, "role": recipient["role"], "context": context}
        if channel == "inapp":
            await insert_if_absent(tx, "inbox_items", {**common, "read": False, "created_at": now})
        else:
            contact = {k: recipient[k] for k in ("email", "locale", "display_name") if k in recipient}
            await insert_if_absent(
                tx,
                "email_deliveries",
                {
                    **common,
                    "category": category,
                    "contact": contact,
                    "status": "pending",
                    "attempts": 0,
                    "due_ms": ms(now),
                    "lease_ms": 0,
                    "created_at": now,
                },
            )


async def expand_page(mongo: Mongo, job_id: str, owner: str, page_size: int) -> bool:
    """Expand one page of a leased job; returns True while the job has more to do."""

    async def work(tx: Tx) -> bool:
        job = await tx.db.fanout_jobs.find_one({"_id": job_id}, session=tx.session)
        if job is None or job["status"] != "pending" or job.get("lease_owner") != owner:
            raise LeaseLost(job_id)
        stage_no, cursor = job["stage"], job["cursor"]
        stages = job["stages"]
        update: dict[str, Any]
        if stage_no >= len(stages):
            update = {"status": "done", "done_at": utcnow()}
        else:
            recipients = await audience_page(tx, stages[stage_no], cursor, page_size)
            for recipient in recipients:
                await _deliver_to(tx, job, recipient)
            if len(recipients) < page_size or stages[stage_no]["t"] == "user":
                update = {"stage": stage_no + 1, "cursor": ""}
            else:
                update = {"cursor": recipients[-1]["_key"]}
            if update.get("stage") == len(stages):
                update["status"] = "done"
                update["done_at"] = utcnow()
        await tx.db.fanout_jobs.update_one({"_id": job_id}, {"$set": update}, session=tx.session)
        return update.get("status") != "done"

    return await mongo.transact(work)


async def _lease_next_job(mongo: Mongo, owner: str, lease_s: float) -> str | None:
    now = ms(utcnow())
    candidates = (
        await mongo.db.fanout_jobs.find({"status": "pending", "lease_ms": {"$lt": now}}, {"_id": 1})
        .sort([("created_at", 1)])
        .limit(5)
        .to_list()
    )
    for candidate in candidates:

        async def take(tx: Tx, job_id: str = candidate["_id"]) -> bool:
            taken = await tx.db.fanout_jobs.find_one_and_update(
                {"_id": job_id, "status": "pending", "lease_ms": {"$lt": now}},
                {"$set": {"lease_owner": owner, "lease_ms": now + int(lease_s * 1000)}},
                session=tx.session,
            )
            return taken is not None

        if await mongo.transact(take):
            return candidate["_id"]
    return None


async def _record_failure(mongo: Mongo, job_id: str, error: str) -> None:
    async def fail(tx: Tx) -> None:
        job = await tx.db.fanout_jobs.find_one({"_id": job_id}, session=tx.session)
        if job is None:
            return
        failures = int(job.get("failures", 0)) + 1
        update: dict[str, Any] = {"failures": failures, "last_error": error[:1000], "lease_owner": ""}
        if failures >= _MAX_JOB_FAILURES:
            update["status"] = "failed"
        await tx.db.fanout_jobs.update_one({"_id": job_id}, {"$set": update}, session=tx.session)

    await mongo.transact(fail)


async def pending_emails(mongo: Mongo) -> int:
    return await mongo.db.email_deliveries.count_documents({"status": "pending"})


async def fanout_once(mongo: Mongo, settings: Settings, owner: str) -> bool:
    """Lease one job and expand it while it holds the lease; False when there was nothing to do."""
    if await pending_emails(mongo) >= settings.fanout_max_pending:
        log.info("fanout_backpressure", max_pending=settings.fanout_max_pending)
        return False
    job_id = await _lease_next_job(mongo, owner, settings.claim_lease_s)
    if job_id is None:
        return False
    try:
        while await expand_page(mongo, job_id, owner, settings.fanout_page_size):
            if await pending_emails(mongo) >= settings.fanout_max_pending:
                # Give the lease back: another replica (or this one, later) resumes at the cursor.
                async def release(tx: Tx) -> None:
                    await tx.db.fanout_jobs.update_one(
                        {"_id": job_id, "lease_owner": owner},
                        {"$set": {"lease_owner": "", "lease_ms": 0}},
                        session=tx.session,
                    )

                await mongo.transact(release)
                return False
    except LeaseLost:
        log.warning("fanout_lease_lost", job_id=job_id)
    except (PyMongoError, asyncio.CancelledError):
        raise
    except Exception as exc:
        log.exception("fanout_job_failed", job_id=job_id)
        await _record_failure(mongo, job_id, f"{type(exc).__name__}: {exc}")
    return True


async def run(ctx: ServiceContext, stop: asyncio.Event) -> None:
    """Background task: expand jobs until `stop`; wakes the mailer after each job."""
    assert ctx.mongo is not None
    owner = uuid.uuid4().hex
    settings: Settings = ctx.settings
    wake_mailer: asyncio.Event = ctx.extras["wake_mailer"]
    while not stop.is_set():
        worked = False
        try:
            worked = await fanout_once(ctx.mongo, settings, owner)
        except PyMongoError as exc:
            log.warning("fanout_db_error", error=str(exc))
        except Exception:
            log.exception("fanout_error")
        if worked:
            wake_mailer.set()
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.worker_poll_s)
