"""Background work, written once: periodic loops, named leases, and claimed work items.

* `every(interval_s, fn, stop, name=...)`: run `fn` periodically until `stop`; an error is
  logged and counted, never fatal; the wait ends as soon as `stop` (or `wake`) is set.
  (`loop(step, stop, ...)` is the same loop for a step that decides its own next wait.)
* `Lease(mongo, name, ttl_s)`: one holder at a time across replicas (the outbox relay, a
  singleton job). A crashed holder's lease simply expires.
* `WorkQueue(mongo, collection, lease_s=..., backoff_s=...)`: documents that are work items;
  `claim` atomically takes one due item and leases it (an expired lease is claimable again, so a
  replica that dies mid-item loses nothing), `complete`, `retry` with backoff until attempts are
  exhausted, and `run` for the claim -> worker -> complete/retry loop.

Times are integer epoch milliseconds: nx-27017 compares datetimes at one-second resolution and
turns a `$set` datetime into a string (README, portability table).

A work item, as stored (the worker's own fields live beside these):

    {_id, status: "pending" | <working> | "done" | "failed", due_ms, lease_ms, lease_owner,
     attempts, last_error}
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from prometheus_client import Counter
from pymongo.errors import DuplicateKeyError, PyMongoError

from .logging import get_logger
from .mongo import Index, Mongo, Tx, epoch_ms

log = get_logger(__name__)

JOB_RUNS = Counter("background_job_runs_total", "Runs of a periodic background job", ["job"])
JOB_ERRORS = Counter("background_job_errors_total", "Failed runs of a periodic background job", ["job"])
WORK_RETRIED = Counter("work_items_retried_total", "Work items rescheduled after a failure", ["queue"])
WORK_FAILED = Counter("work_items_failed_total", "Work items given up after their last attempt", ["queue"])

DEFAULT_BACKOFF_S: tuple[float, ...] = (1, 5, 30, 120, 600)


async def wait_or_stop(stop: asyncio.Event, timeout: float, wake: asyncio.Event | None = None) -> None:
    """Sleep up to `timeout` seconds, returning early when `stop` (or `wake`) is set."""
    events = [stop] if wake is None else [stop, wake]
    if any(e.is_set() for e in events):
        return
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=max(timeout, 0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def loop(
    step: Callable[[], Awaitable[float]],
    stop: asyncio.Event,
    *,
    name: str,
    error_wait_s: float,
    wake: asyncio.Event | None = None,
) -> None:
    """Call `step` until `stop` is set; `step` returns how long to wait before the next call
    (0: at once). An error is logged and counted, never fatal; then the loop waits
    `error_wait_s`. Every wait ends as soon as `stop` (or `wake`, cleared before each call) is set."""
    while not stop.is_set():
        if wake is not None:
            wake.clear()
        wait = error_wait_s
        try:
            JOB_RUNS.labels(name).inc()
            wait = await step()
        except asyncio.CancelledError:
            raise
        except PyMongoError as exc:
            JOB_ERRORS.labels(name).inc()
            log.warning("job_db_error", job=name, error=str(exc))
        except Exception:
            JOB_ERRORS.labels(name).inc()
            log.exception("job_failed", job=name)
        if wait <= 0:
            await asyncio.sleep(0)  # let other tasks (and a stop) in between batches
            continue
        await wait_or_stop(stop, wait, wake)


async def every(
    interval_s: float,
    fn: Callable[[], Awaitable[Any]],
    stop: asyncio.Event,
    *,
    name: str,
    jitter: float = 0.1,
    wake: asyncio.Event | None = None,
    again_when_busy: bool = False,
) -> None:
    """Run `fn` now and then every `interval_s` (± `jitter` as a fraction, so replicas drift
    apart) until `stop` is set.

    `wake`: an event that cuts the wait short (e.g. "new work was committed"); it is cleared
    before each run. `again_when_busy`: when `fn` returns a truthy value (it did a full batch),
    run it again at once instead of waiting."""

    def interval() -> float:
        spread = interval_s * jitter
        return max(interval_s + random.uniform(-spread, spread), 0.001)

    async def step() -> float:
        busy = await fn()
        return 0 if again_when_busy and busy else interval()

    await loop(step, stop, name=name, error_wait_s=interval_s, wake=wake)


class Lease:
    """A named lease row (`leases` collection): at most one live holder among replicas.

    `acquire` takes the lease if it is free, expired or already ours, and renews it; it returns
    the expiry (epoch ms) or 0 when another owner holds it. Expiry is integer epoch ms: on
    nx-27017 a `$set` datetime becomes a string that never compares, so a crashed owner's lease
    would never expire."""

    def __init__(
        self, mongo: Mongo, name: str, ttl_s: float, *, owner: str | None = None, collection: str = "leases"
    ) -> None:
        self.mongo = mongo
        self.name = name
        self.ttl_ms = int(ttl_s * 1000)
        self.owner = owner or uuid.uuid4().hex
        self.collection = collection
        self.held_until_ms = 0

    def needs_renewal(self, now_ms: int | None = None) -> bool:
        """True when not held or when a third of the term is left (renewing on every wake-up
        would cost a transaction each time)."""
        now = epoch_ms() if now_ms is None else now_ms
        return now > self.held_until_ms - self.ttl_ms // 3

    @property
    def held(self) -> bool:
        return epoch_ms() < self.held_until_ms

    async def acquire(self) -> int:
        now_ms = epoch_ms()
        expires_ms = now_ms + self.ttl_ms
        coll = self.collection

        async def take(tx: Tx) -> bool:
            held = await tx.db[coll].find_one_and_update(
                {"_id": self.name, "$or": [{"owner": self.owner}, {"expires_ms": {"$lt": now_ms}}]},
                {"$set": {"owner": self.owner, "expires_ms": expires_ms}},
                session=tx.session,
            )
            if held is not None:
                return True
            if await tx.db[coll].find_one({"_id": self.name}, session=tx.session) is not None:
                return False
            await tx.db[coll].insert_one(
                {"_id": self.name, "owner": self.owner, "expires_ms": expires_ms}, session=tx.session
            )
            return True

        try:
            self.held_until_ms = expires_ms if await self.mongo.transact(take) else 0
        except DuplicateKeyError:  # another replica inserted it first
            self.held_until_ms = 0
        return self.held_until_ms

    def lost(self) -> None:
        """Forget the lease locally (e.g. after a database error: ask again next time)."""
        self.held_until_ms = 0

    async def release(self) -> None:
        coll = self.collection

        async def release(tx: Tx) -> None:
            await tx.db[coll].delete_one({"_id": self.name, "owner": self.owner}, session=tx.session)

        self.held_until_ms = 0
        await self.mongo.transact(release)


LEASE_INDEXES = [Index("leases", [("expires_ms", 1)])]


class WorkQueue:
    """Work items stored as documents of one collection, claimed with a lease.

    `working_status` names the claimed state (a service may keep its own word, e.g. "sending").
    `query` narrows what is claimable (e.g. only deliveries of active endpoints)."""

    def __init__(
        self,
        mongo: Mongo,
        collection: str,
        *,
        lease_s: float,
        backoff_s: Sequence[float] = DEFAULT_BACKOFF_S,
        max_attempts: int | None = None,
        working_status: str = "working",
        query: Mapping[str, Any] | None = None,
        owner: str | None = None,
    ) -> None:
        self.mongo = mongo
        self.collection = collection
        self.lease_ms = int(lease_s * 1000)
        self.backoff_s = tuple(backoff_s) or (0,)
        self.max_attempts = max_attempts
        self.working = working_status
        self.query = dict(query or {})
        self.owner = owner or uuid.uuid4().hex

    @property
    def indexes(self) -> list[Index]:
        """What `claim` queries; add them to the service's INDEXES."""
        return [
            Index(self.collection, [("status", 1), ("due_ms", 1)]),
            Index(self.collection, [("status", 1), ("lease_ms", 1)]),
        ]

    @staticmethod
    def new_item(item_id: str, due_ms: int | None = None, **fields: Any) -> dict[str, Any]:
        """A pending item document (insert it in the transaction that creates the work)."""
        return {
            "_id": item_id,
            **fields,
            "status": "pending",
            "due_ms": epoch_ms() if due_ms is None else due_ms,
            "lease_ms": 0,
            "lease_owner": "",
            "attempts": 0,
        }

    async def add(self, tx: Tx, item_id: str, due_ms: int | None = None, **fields: Any) -> dict[str, Any]:
        """Enqueue inside the caller's transaction: the work exists if and only if it commits."""
        doc = self.new_item(item_id, due_ms, **fields)
        await tx.db[self.collection].insert_one(doc, session=tx.session)
        return doc

    def _claimable(self, now_ms: int) -> list[dict[str, Any]]:
        """The two ways an item can be taken, as two flat filters rather than one `$or`: with
        `$eq` and no `$or`, nx-27017 runs each in SQL through its (status, ...) index; an `$or`
        (or a bare `{"status": ...}`) is evaluated in Python over every row of the queue."""
        return [
            {**self.query, "status": {"$eq": "pending"}, "due_ms": {"$lte": now_ms}},
            {**self.query, "status": {"$eq": self.working}, "lease_ms": {"$lt": now_ms}},  # holder died
        ]

    async def due(self, limit: int, now_ms: int | None = None) -> list[str]:
        """Ids of claimable items, oldest due first (not claimed: another replica may win)."""
        now = epoch_ms() if now_ms is None else now_ms
        found: list[dict[str, Any]] = []
        for query in self._claimable(now):
            found += (
                await self.mongo.db[self.collection]
                .find(query, {"_id": 1, "due_ms": 1})
                .sort([("due_ms", 1)])
                .limit(limit)
                .to_list()
            )
        found.sort(key=lambda d: (d.get("due_ms", 0), str(d["_id"])))
        return [d["_id"] for d in found[:limit]]

    async def claim(self, now_ms: int | None = None, *, item_id: str | None = None) -> dict[str, Any] | None:
        """Take one due item (or the given one, if due) and lease it; None if there is none.

        The returned document shows the item as claimed: `attempts` already counts this attempt,
        so a worker that crashes the process still uses one up (a poison item ends failed)."""
        now = epoch_ms() if now_ms is None else now_ms
        candidates = [item_id] if item_id is not None else await self.due(5, now)
        claimed = {"status": self.working, "lease_ms": now + self.lease_ms, "lease_owner": self.owner}
        for candidate in candidates:

            async def take(tx: Tx, cid: str = candidate) -> dict[str, Any] | None:
                for query in self._claimable(now):
                    before = await tx.db[self.collection].find_one_and_update(
                        {"_id": cid, **query},
                        {"$set": claimed, "$inc": {"attempts": 1}},
                        session=tx.session,
                    )
                    if before is not None:
                        return before
                return None

            before = await self.mongo.transact(take)
            if before is not None:
                return {**before, **claimed, "attempts": int(before.get("attempts") or 0) + 1}
        return None

    def _ours(self, item_id: str) -> dict[str, Any]:
        return {"_id": item_id, "status": self.working, "lease_owner": self.owner}

    async def renew(self, item_id: str) -> bool:
        """Extend the lease of an item still being worked on; False if it is no longer ours."""
        until = epoch_ms() + self.lease_ms

        async def renew(tx: Tx) -> bool:
            res = await tx.db[self.collection].update_one(
                self._ours(item_id), {"$set": {"lease_ms": until}}, session=tx.session
            )
            return res.matched_count == 1

        return await self.mongo.transact(renew)

    async def complete(self, item_id: str, update: Mapping[str, Any] | None = None) -> bool:
        """Mark a claimed item done (`update` adds fields or another final status, e.g.
        {"status": "sent"}); False if it was no longer ours (lease expired and taken)."""
        changes = {"status": "done", "lease_ms": 0, "lease_owner": "", **(update or {})}

        async def finish(tx: Tx) -> bool:
            res = await tx.db[self.collection].update_one(
                self._ours(item_id), {"$set": changes}, session=tx.session
            )
            return res.matched_count == 1

        return await self.mongo.transact(finish)

    def next_delay_s(self, attempts: int) -> float | None:
        """Backoff after `attempts` failed attempts; None once they are exhausted."""
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return None
        return float(self.backoff_s[min(max(attempts, 1), len(self.backoff_s)) - 1])

    async def retry(self, item_id: str, error: str, update: Mapping[str, Any] | None = None) -> bool:
        """Reschedule a claimed item after a failure with the next backoff; returns False when
        its attempts are exhausted and it is marked `failed` instead."""
        coll = self.collection
        error = error[:1000]

        async def reschedule(tx: Tx) -> bool:
            doc = await tx.db[coll].find_one(self._ours(item_id), session=tx.session)
            if doc is None:
                return True  # no longer ours: whoever holds it decides
            delay = self.next_delay_s(int(doc.get("attempts") or 0))
            changes: dict[str, Any] = {"lease_ms": 0, "lease_owner": "", "last_error": error}
            if delay is None:
                changes["status"] = "failed"
            else:
                changes.update(status="pending", due_ms=epoch_ms() + int(delay * 1000))
            changes.update(update or {})
            await tx.db[coll].update_one({"_id": item_id}, {"$set": changes}, session=tx.session)
            return delay is not None

        again = await self.mongo.transact(reschedule)
        (WORK_RETRIED if again else WORK_FAILED).labels(coll).inc()
        if not again:
            log.error("work_item_failed", queue=coll, item_id=item_id, error=error)
        return again

    async def release(self, item_id: str) -> None:
        """Give a claimed item back untouched (not an attempt: e.g. back-pressure)."""

        async def give_back(tx: Tx) -> None:
            await tx.db[self.collection].update_one(
                self._ours(item_id),
                {"$set": {"status": "pending", "lease_ms": 0, "lease_owner": ""}, "$inc": {"attempts": -1}},
                session=tx.session,
            )

        await self.mongo.transact(give_back)

    async def process(self, worker: Callable[[dict[str, Any]], Awaitable[Any]], item: dict[str, Any]) -> bool:
        """Run `worker` on one claimed item: done when it returns (unless it finished the item
        itself), retried when it raises. Returns True when the item is done."""
        try:
            await worker(item)
        except asyncio.CancelledError:
            raise  # left claimed: its lease expires and it is claimed again
        except Exception as exc:
            log.warning("work_item_error", queue=self.collection, item_id=item["_id"], error=repr(exc))
            with contextlib.suppress(PyMongoError):
                await self.retry(item["_id"], f"{type(exc).__name__}: {exc}")
            return False
        await self.complete(item["_id"])  # a no-op if the worker already moved it on
        return True

    async def run_once(self, worker: Callable[[dict[str, Any]], Awaitable[Any]], concurrency: int = 1) -> int:
        """Claim up to `concurrency` items and work on them together; returns how many."""
        items: list[dict[str, Any]] = []
        while len(items) < concurrency:
            item = await self.claim()
            if item is None:
                break
            items.append(item)
        if items:
            await asyncio.gather(*(self.process(worker, item) for item in items))
        return len(items)

    async def run(
        self,
        worker: Callable[[dict[str, Any]], Awaitable[Any]],
        stop: asyncio.Event,
        *,
        concurrency: int = 1,
        poll_s: float = 1.0,
        wake: asyncio.Event | None = None,
    ) -> None:
        """Claim -> worker -> complete/retry until `stop`. Goes straight on while there is work;
        when idle, waits `poll_s`, less if a retry falls due sooner, and wakes early on `wake`
        (set it when new work is committed)."""

        async def step() -> float:
            if await self.run_once(worker, concurrency):
                return 0
            next_due = await self.next_due_ms()
            if next_due is None:
                return poll_s
            return min(poll_s, max(next_due - epoch_ms(), 0) / 1000 + 0.01)

        await loop(step, stop, name=f"queue:{self.collection}", error_wait_s=poll_s, wake=wake)

    async def next_due_ms(self) -> int | None:
        """When the earliest pending item falls due (None when nothing is pending)."""
        docs = (
            await self.mongo.db[self.collection]
            .find({**self.query, "status": {"$eq": "pending"}}, {"due_ms": 1})
            .sort([("due_ms", 1)])
            .limit(1)
            .to_list()
        )
        return int(docs[0]["due_ms"]) if docs else None
