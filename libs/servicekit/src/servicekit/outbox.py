"""Transactional outbox: events are rows written in the same transaction as the state change;
a relay publishes pending rows with publisher confirms and marks them sent.

Nothing is published that was not committed (rows only exist after commit), and nothing
committed is lost (a row stays pending until the broker confirmed it). A row may be published
twice if the process dies between confirm and mark-sent: consumers dedupe by event id.

Rows this process commits are handed to its relay in memory as well, so it publishes them
without reading them back (no transaction, no wait for the datastore's lock between a commit
and its publish); the outbox is read at start, on every poll (other replicas' rows) and after
anything the hand-off missed. Only the marks take transactions, one for many rows.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pymongo.errors import PyMongoError

from .events import Contracts, Event, new_event
from .jobs import LEASE_INDEXES, Lease
from .logging import current_correlation_id, get_logger
from .metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from .mongo import Index, Mongo, Tx, utcnow

if TYPE_CHECKING:
    from .bus import Bus

log = get_logger(__name__)

OUTBOX_INDEXES = [
    Index("outbox", [("status", 1), ("created_at", 1)]),
    # Sent rows are kept a week for inspection, then expire.
    Index("outbox", [("sent_at", 1)], expire_after_seconds=7 * 24 * 3600),
    *LEASE_INDEXES,
]
LEASE_TTL_S = 15
# `$eq`, not a bare equality: nx-27017 (neosqlite) turns a bare one on a field no index is named
# after into an array-containment test that no index serves (a scan of every row kept a week);
# `$eq` is a plain comparison it runs through the (status, created_at) index. Same on MongoDB.
PENDING: dict[str, Any] = {"status": {"$eq": "pending"}}
# Confirmed rows are marked sent together, in one transaction, once the first of them has
# waited this long (or a batch's worth is waiting, or before any read): a row stays pending that
# much longer at most, its event already on the broker (see `Outbox.relay_pending`).
MARK_DELAY_S = 0.2
# Rows handed over in memory wait for the relay at most this many batches' worth (a replica
# without the lease, a broker outage): beyond that they are left to the outbox read.
FRESH_BATCHES = 4
# Rows of transactions still open (by event id); a transaction that never commits leaves its
# rows here until this many newer ones push them out.
STAGED_MAX = 2_000


class Outbox:
    """Attaches `tx.emit` to a Mongo and relays its rows through a Bus."""

    def __init__(self, mongo: Mongo, contracts: Contracts | None) -> None:
        self.mongo = mongo
        self.contracts = contracts
        self.service = mongo.settings.service_name
        self._wake = asyncio.Event()
        # Rows emitted in transactions not yet committed, and rows committed by this process
        # that the relay has not taken yet; `_missed` asks the relay to read the outbox (a row
        # committed here is not in `_fresh`).
        self._staged: dict[str, dict[str, Any]] = {}
        self._fresh: list[dict[str, Any]] = []
        self._missed = False
        mongo.emit_hook = self._emit
        mongo.after_commit.append(self._committed)

    def _emit(
        self,
        tx: Tx,
        type_key: str,
        subject: str | None,
        data: dict[str, Any],
        exchange: str,
        routing_key: str,
    ) -> Event:
        event = new_event(self.service, type_key, subject, data, current_correlation_id())
        if self.contracts is not None:
            self.contracts.validate(event)  # a contract violation aborts the whole transaction
        tx.events.append(event)
        row = {
            "_id": event.id,
            "exchange": exchange,
            "routing_key": routing_key,
            "body": event.to_json().decode(),
            "status": "pending",
            "created_at": utcnow(),
        }
        tx._outbox_rows.append(row)
        self._staged[event.id] = row
        if len(self._staged) > STAGED_MAX:
            del self._staged[next(iter(self._staged))]  # the oldest: its transaction is long gone
        return event

    def _committed(self, events: list[Event]) -> None:
        limit = FRESH_BATCHES * self.mongo.settings.outbox_batch_size
        for event in events:
            row = self._staged.pop(event.id, None)
            if row is None or len(self._fresh) >= limit:
                self._missed = True
            else:
                self._fresh.append(row)
        self._wake.set()

    # -- relay ---------------------------------------------------------------------------------

    async def run_relay(self, bus: Bus, stop: asyncio.Event) -> None:
        """Publish pending rows until `stop` is set. Only the replica holding the lease relays.

        The relay wakes on every commit, so per-wake work is kept to the publishing itself: the
        lease is renewed only once a third of its time is left, the outbox read and the gauges
        once per poll. Without the lease or the broker, rows handed over in memory are dropped
        (they stay pending in the outbox) and the outbox is read once both are back."""
        # One relay per service, whatever the replica count.
        lease = Lease(self.mongo, "outbox-relay", LEASE_TTL_S)
        poll = self.mongo.settings.outbox_poll_interval_s
        loop = asyncio.get_running_loop()
        gauges_at = read_at = float("-inf")
        while not stop.is_set():
            self._wake.clear()  # `relay_pending` clears it again before each step
            try:
                if lease.needs_renewal():
                    await lease.acquire()
                if lease.held_until_ms and bus.ready:
                    read = self._missed or loop.time() - read_at >= poll
                    if read:
                        read_at = loop.time()
                    await self.relay_pending(bus, keep_on=lambda: not lease.needs_renewal(), read=read)
                else:
                    self._fresh.clear()
                    read_at = float("-inf")
                if loop.time() - gauges_at >= poll:
                    await self._update_gauges()
                    gauges_at = loop.time()
            except PyMongoError as exc:
                lease.lost()  # unknown: ask again next time
                self._missed = True  # a read or a mark may not have happened: read next time
                log.warning("outbox_relay_db_error", error=str(exc))
            except Exception:
                log.exception("outbox_relay_error")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll)
        with contextlib.suppress(Exception):
            await lease.release()

    async def relay_pending(
        self, bus: Bus, keep_on: Callable[[], bool] = lambda: True, read: bool = True
    ) -> int:
        """Publish rows until none is left; returns how many were confirmed.

        Rows this process committed come from memory (`_fresh`); with `read` (or once the
        hand-off missed a row) the outbox is read too, batch after batch until a read is not
        full, and what it finds is taken out of `_fresh`. Confirmed rows are marked sent in
        one transaction (one update for all of them) once `MARK_DELAY_S` has passed since the
        first was confirmed, or a batch's worth is waiting. That transaction runs beside the
        publishing, not in its way: on nx-27017 it queues for the datastore's lock behind every
        write waiting there (40 ms under load here, during which nothing was published, the
        lag's tail). One at a time: the next marks wait for it, and so does a read, which is
        preceded by the marks in its own transaction so that it never finds a row published
        already. When nothing is left to publish the relay waits for the next commit until the
        marks are due, makes them, and returns once they are written (a commit meanwhile is
        published at once).

        The wake is cleared before each step: a commit after it sets it again, so nothing
        committed meanwhile waits for the poll. A crash between a confirm and its mark
        republishes those rows (consumers dedupe by event id); nothing is marked unconfirmed.

        A steady flow never lets the relay go idle: the loop also ends, after marking, when
        `keep_on()` turns false (the lease wants renewing), with the wake set to come back.
        """
        batch = self.mongo.settings.outbox_batch_size
        loop = asyncio.get_running_loop()
        confirmed: list[str] = []
        confirmed_at = utcnow()
        mark_due = float("inf")  # when the first unmarked confirm has waited MARK_DELAY_S
        marking: asyncio.Task[list[dict[str, Any]]] | None = None  # the marks being written
        total = 0

        async def marked() -> None:
            """The marks in flight written (a failure of theirs is raised here)."""
            nonlocal marking
            if marking is not None:
                task, marking = marking, None
                await task

        def writing() -> bool:
            return marking is not None and not marking.done()

        async def mark_aside() -> None:
            nonlocal marking, confirmed, mark_due
            await marked()
            marking = asyncio.create_task(self._mark_and_read(confirmed, confirmed_at, 0))
            # Written marks wake the relay as a commit does: the waits below need no other signal.
            marking.add_done_callback(lambda _: self._wake.set())
            confirmed, mark_due = [], float("inf")

        try:
            while True:
                if not keep_on():
                    await marked()
                    await self._mark_and_read(confirmed, confirmed_at, 0)
                    self._wake.set()
                    return total
                self._wake.clear()
                read = read or self._missed
                if self._fresh and not read:
                    rows, self._fresh = self._fresh[:batch], self._fresh[batch:]
                elif read:
                    self._missed = False
                    await marked()
                    rows = await self._mark_and_read(confirmed, confirmed_at, batch)
                    confirmed, mark_due = [], float("inf")
                    read = len(rows) >= batch  # a full read may have left more behind
                    if rows and self._fresh:
                        found = {row["_id"] for row in rows}
                        self._fresh = [row for row in self._fresh if row["_id"] not in found]
                    if not rows:
                        continue  # then what came in memory meanwhile, or the marks
                elif confirmed:
                    timeout = mark_due - loop.time()
                    if timeout > 0 or writing():
                        # A commit, the marks due, or the marks in flight written.
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(
                                self._wake.wait(), timeout=timeout if timeout > 0 else None
                            )
                        continue
                    await mark_aside()
                    continue
                elif writing():
                    await self._wake.wait()  # a commit, or the marks written
                    continue
                else:
                    await marked()
                    return total
                sent = await bus.publish_raw_many(
                    [(row["exchange"], row["routing_key"], row["body"].encode(), row["_id"]) for row in rows]
                )
                confirmed_at = utcnow()  # `sent_at`: when the broker confirmed, not when marked
                if sent and not confirmed:
                    mark_due = loop.time() + MARK_DELAY_S
                confirmed += sent
                by_id = {row["_id"]: row for row in rows}
                for rid in sent:
                    EVENTS_PUBLISHED.labels(self.service, by_id[rid]["routing_key"]).inc()
                total += len(sent)
                if len(sent) < len(rows):
                    log.warning("outbox_publish_incomplete", pending=len(rows) - len(sent))
                    await marked()
                    await self._mark_and_read(confirmed, confirmed_at, 0)
                    self._missed = True  # the unconfirmed rows are only in the outbox now
                    return total  # broker trouble: back off to the poll interval
                if len(confirmed) >= batch and not writing():
                    await mark_aside()
        finally:
            # Left by an error or a cancellation: unwritten marks leave their rows pending, to
            # be published again (consumers dedupe), as after a crash.
            if marking is not None and not marking.done():
                marking.cancel()
            elif marking is not None and not marking.cancelled():
                marking.exception()  # retrieved: the error on its way out is the one reported

    async def _mark_and_read(self, sent: list[str], sent_at: datetime, limit: int) -> list[dict[str, Any]]:
        """Mark the rows `sent` (ids the broker confirmed at `sent_at`) and read up to `limit`
        pending rows, oldest first, in one transaction.

        Read inside a transaction: on nx-27017 that takes the datastore's lock, so the relay
        never sees a row of a transaction still open in another replica (nx gives plain reads
        no isolation) and publishes an event that is then rolled back."""
        if not sent and not limit:
            return []

        async def mark_and_read(tx: Tx) -> list[dict[str, Any]]:
            if sent:
                await tx.db.outbox.update_many(
                    {"_id": {"$in": sent}},
                    {"$set": {"status": "sent", "sent_at": sent_at}},
                    session=tx.session,
                )
            if not limit:
                return []
            return (
                await tx.db.outbox.find(PENDING, session=tx.session)
                .sort([("created_at", 1)])
                .limit(limit)
                .to_list()
            )

        return await self.mongo.transact(mark_and_read)

    async def _update_gauges(self) -> None:
        pending = await self.backlog()
        OUTBOX_BACKLOG.labels(self.service).set(pending)
        oldest = 0.0
        if pending:
            row = await self.mongo.db.outbox.find(PENDING).sort([("created_at", 1)]).limit(1).to_list()
            if row:
                oldest = (utcnow() - row[0]["created_at"]).total_seconds()
        OUTBOX_OLDEST_AGE.labels(self.service).set(oldest)

    async def backlog(self) -> int:
        """Rows not yet confirmed by the broker.

        A `$count` stage, not `count_documents`: pymongo sends that as a `$group` on a constant
        key, which nx-27017 cannot run in SQL; it then counts in Python over every row and logs
        "SQL tier 2 aggregation fallback" each time (every poll, in every service)."""
        cursor = await self.mongo.db.outbox.aggregate([{"$match": PENDING}, {"$count": "n"}])
        rows = await cursor.to_list()
        return int(rows[0]["n"]) if rows else 0  # MongoDB returns no row for none, nx-27017 n=0
