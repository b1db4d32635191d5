"""Transactional outbox: events are rows written in the same transaction as the state change;
a relay publishes pending rows with publisher confirms and marks them sent.

Nothing is published that was not committed (rows only exist after commit), and nothing
committed is lost (a row stays pending until the broker confirmed it). A row may be published
twice if the process dies between confirm and mark-sent: consumers dedupe by event id.
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
# After a short batch is published, how long the relay waits for the next commit so that one
# transaction marks that batch sent and reads the next (see `Outbox.relay_pending`). A row
# stays pending that much longer at most; its event is already on the broker.
MARK_DELAY_S = 0.02


class Outbox:
    """Attaches `tx.emit` to a Mongo and relays its rows through a Bus."""

    def __init__(self, mongo: Mongo, contracts: Contracts | None) -> None:
        self.mongo = mongo
        self.contracts = contracts
        self.service = mongo.settings.service_name
        self._wake = asyncio.Event()
        mongo.emit_hook = self._emit
        mongo.after_commit.append(lambda _events: self._wake.set())

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
        tx._outbox_rows.append(
            {
                "_id": event.id,
                "exchange": exchange,
                "routing_key": routing_key,
                "body": event.to_json().decode(),
                "status": "pending",
                "created_at": utcnow(),
            }
        )
        return event

    # -- relay ---------------------------------------------------------------------------------

    async def run_relay(self, bus: Bus, stop: asyncio.Event) -> None:
        """Publish pending rows until `stop` is set. Only the replica holding the lease relays.

        The relay wakes on every commit, so per-wake work is kept to the publishing itself: the
        lease is renewed only once a third of its time is left, the gauges once per poll."""
        # One relay per service, whatever the replica count.
        lease = Lease(self.mongo, "outbox-relay", LEASE_TTL_S)
        poll = self.mongo.settings.outbox_poll_interval_s
        loop = asyncio.get_running_loop()
        gauges_at = float("-inf")
        while not stop.is_set():
            self._wake.clear()  # `relay_pending` clears it again before each read
            try:
                if lease.needs_renewal():
                    await lease.acquire()
                if lease.held_until_ms and bus.ready:
                    await self.relay_pending(bus, keep_on=lambda: not lease.needs_renewal())
                if loop.time() - gauges_at >= poll:
                    await self._update_gauges()
                    gauges_at = loop.time()
            except PyMongoError as exc:
                lease.lost()  # unknown: ask again next time
                log.warning("outbox_relay_db_error", error=str(exc))
            except Exception:
                log.exception("outbox_relay_error")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll)
        with contextlib.suppress(Exception):
            await lease.release()

    async def relay_pending(self, bus: Bus, keep_on: Callable[[], bool] = lambda: True) -> int:
        """Publish pending rows batch after batch until none is left; returns how many were
        confirmed.

        One transaction per batch: it marks the previous batch sent (one update for all its
        rows) and reads the next, so a steady flow costs one transaction per wake instead of
        a read and a mark. After a short batch the relay waits up to `MARK_DELAY_S` for the
        next commit before that transaction, which then also reads the new rows. The loop
        ends on a read that found nothing, in the transaction that made the last marks.

        The wake is cleared before each read: a commit after it sets it again, so nothing
        committed meanwhile waits for the poll. A crash between a confirm and its mark
        republishes those rows (consumers dedupe by event id); nothing is marked unconfirmed.

        A steady flow never finds the outbox empty: the loop also ends, after marking, when
        `keep_on()` turns false (the lease wants renewing), with the wake set to come back.
        """
        batch = self.mongo.settings.outbox_batch_size
        confirmed: list[str] = []
        confirmed_at = utcnow()
        total = 0
        while True:
            if not keep_on():
                await self._mark_and_read(confirmed, confirmed_at, 0)
                self._wake.set()
                return total
            self._wake.clear()
            rows = await self._mark_and_read(confirmed, confirmed_at, batch)
            confirmed = []
            if not rows:
                return total
            confirmed = await bus.publish_raw_many(
                [(row["exchange"], row["routing_key"], row["body"].encode(), row["_id"]) for row in rows]
            )
            confirmed_at = utcnow()  # `sent_at`: when the broker confirmed, not when marked
            by_id = {row["_id"]: row for row in rows}
            for rid in confirmed:
                EVENTS_PUBLISHED.labels(self.service, by_id[rid]["routing_key"]).inc()
            total += len(confirmed)
            if len(confirmed) < len(rows):
                log.warning("outbox_publish_incomplete", pending=len(rows) - len(confirmed))
                await self._mark_and_read(confirmed, confirmed_at, 0)
                return total  # broker trouble: back off to the poll interval
            if len(rows) < batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=MARK_DELAY_S)

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
