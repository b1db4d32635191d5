"""Transactional outbox: events are rows written in the same transaction as the state change;
a relay publishes pending rows with publisher confirms and marks them sent.

Nothing is published that was not committed (rows only exist after commit), and nothing
committed is lost (a row stays pending until the broker confirmed it). A row may be published
twice if the process dies between confirm and mark-sent: consumers dedupe by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
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
            try:
                if lease.needs_renewal():
                    await lease.acquire()
                if lease.held_until_ms and bus.ready:
                    while await self.relay_once(bus):
                        pass
                if loop.time() - gauges_at >= poll:
                    await self._update_gauges()
                    gauges_at = loop.time()
            except PyMongoError as exc:
                lease.lost()  # unknown: ask again next time
                log.warning("outbox_relay_db_error", error=str(exc))
            except Exception:
                log.exception("outbox_relay_error")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll)
        with contextlib.suppress(Exception):
            await lease.release()

    async def relay_once(self, bus: Bus) -> int:
        """Publish one batch of pending rows; returns how many were confirmed."""

        # Read inside a transaction: on nx-27017 that takes the datastore's lock, so the relay
        # never sees a row of a transaction still open in another replica (nx gives plain reads
        # no isolation) and publishes an event that is then rolled back.
        async def pending(tx: Tx) -> list[dict[str, Any]]:
            return (
                await tx.db.outbox.find(PENDING, session=tx.session)
                .sort([("created_at", 1)])
                .limit(self.mongo.settings.outbox_batch_size)
                .to_list()
            )

        rows = await self.mongo.transact(pending)
        if not rows:
            return 0
        confirmed = await bus.publish_raw_many(
            [(row["exchange"], row["routing_key"], row["body"].encode(), row["_id"]) for row in rows]
        )
        if confirmed:
            ids = list(confirmed)
            now = utcnow()

            async def mark(tx: Tx) -> None:
                await tx.db.outbox.update_many(
                    {"_id": {"$in": ids}}, {"$set": {"status": "sent", "sent_at": now}}, session=tx.session
                )

            await self.mongo.transact(mark)
            by_id = {row["_id"]: row for row in rows}
            for rid in confirmed:
                EVENTS_PUBLISHED.labels(self.service, by_id[rid]["routing_key"]).inc()
        if len(confirmed) < len(rows):
            log.warning("outbox_publish_incomplete", pending=len(rows) - len(confirmed))
            return 0  # broker trouble: back off to the poll interval
        return len(confirmed)

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
