"""One AsyncMongoClient per service, index declarations, and the transaction helper.

Every write a service makes goes through `Mongo.transact`, which runs a function inside a
multi-document transaction together with the outbox rows it emits (see outbox.py).

Portability: the same code runs on MongoDB (replica set) and on nx-27017 (local stack, tests).
nx-27017 keeps one SQLite connection per database, so two open transactions on one database
nest as savepoints of each other and break; on a server that is not a replica set a
transaction holds the datastore's lock from start to commit: an asyncio lock inside the process
and a file lock across the processes of the machine (txlock.py), so replicas of a service can
share one nx-27017. On a replica set nothing is serialised.

TTL indexes: nx-27017 (neosqlite) honours `expireAfterSeconds` by deleting expired rows with a
full scan on every read of the collection (about 20 ms per read at 50k rows: every inbox
lookup, every relay poll). Off a replica set, an `Index` with `expire_after_seconds` is created
as a plain index and `Mongo` deletes expired rows itself, in bounded batches, every
`TTL_PURGE_INTERVAL_S` (`purge_expired`); on MongoDB the server's TTL index does it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, ConnectionFailure, OperationFailure, PyMongoError

from .logging import get_logger
from .txlock import DatastoreLock, datastore_lock

if TYPE_CHECKING:
    from .events import Event
    from .settings import ServiceSettings

T = TypeVar("T")
log = get_logger(__name__)

_MAX_TRANSIENT_RETRIES = 5
# Off a replica set, expired rows are deleted by `Mongo` itself (see the module's docstring):
# at most TTL_PURGE_BATCH rows per collection and transaction, so the datastore lock is held
# briefly; a full batch is followed by another at once.
TTL_PURGE_INTERVAL_S = 60.0
TTL_PURGE_BATCH = 500
_INDEX_NOT_FOUND = 27


def utcnow() -> datetime:
    return datetime.now(UTC)


def epoch_ms(moment: datetime | None = None) -> int:
    """An instant as integer epoch milliseconds: what to store for anything queried or sorted by
    time (nx-27017 compares datetimes at one-second resolution and stringifies `$set` ones)."""
    return int((moment or utcnow()).timestamp() * 1000)


def as_utc(value: Any) -> datetime | None:
    """A stored instant read back as an aware UTC datetime. nx-27017 keeps datetimes written by
    insert but turns those written by a top-level `$set` into ISO strings; MongoDB keeps both."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not an instant: {value!r}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Index:
    """An index a service declares; applied (idempotently) at start-up."""

    collection: str
    keys: Sequence[tuple[str, Any]]
    unique: bool = False
    expire_after_seconds: int | None = None
    name: str | None = None

    def options(self, ttl: bool = True) -> dict[str, Any]:
        """The driver's options; `ttl=False`: the same index without its expiry (nx-27017)."""
        opts: dict[str, Any] = {}
        if self.unique:
            opts["unique"] = True
        if ttl and self.expire_after_seconds is not None:
            opts["expireAfterSeconds"] = self.expire_after_seconds
        if self.name:
            opts["name"] = self.name
        return opts


@dataclass
class Tx:
    """What a transactional function gets: the session to pass to every call, the database,
    and `emit` to stage events that are written to the outbox in the same transaction."""

    db: AsyncDatabase
    session: AsyncClientSession
    service: str
    events: list[Event] = field(default_factory=list)
    _outbox_rows: list[dict[str, Any]] = field(default_factory=list)
    _emit_hook: Callable[[Tx, str, str | None, dict[str, Any], str, str], Event] | None = None

    def emit(self, routing_key: str, subject: str | None, data: dict[str, Any]) -> Event:
        """Stage an internal event (`civicfund.events`, routing key `<entity>.<verb>`)."""
        assert self._emit_hook is not None, "Mongo has no outbox attached"
        return self._emit_hook(self, routing_key, subject, data, "events", routing_key)

    def emit_public(
        self, municipality_slug: str, routing_key: str, subject: str | None, data: dict[str, Any]
    ) -> Event:
        """Stage the public form of an event for city systems (`civicfund.public`,
        routing key `<municipality-slug>.<entity>.<verb>`)."""
        assert self._emit_hook is not None, "Mongo has no outbox attached"
        return self._emit_hook(
            self, f"public.{routing_key}", subject, data, "public", f"{municipality_slug}.{routing_key}"
        )


class Mongo:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.client: AsyncMongoClient = AsyncMongoClient(
            settings.mongo_url,
            tz_aware=True,
            uuidRepresentation="standard",
            serverSelectionTimeoutMS=5000,
            connectTimeoutMS=3000,
        )
        self.db: AsyncDatabase = self.client[settings.database_name]
        self._serialize: bool | None = None
        # TTL indexes this Mongo expires itself (off a replica set), and the task doing it.
        self.expiring: list[Index] = []
        self._purge_stop = asyncio.Event()
        self._purge_task: asyncio.Task | None = None
        # Set by the outbox: turns tx.emit into an outbox row, and wakes the relay on commit.
        self.emit_hook: Callable[..., Event] | None = None
        self.after_commit: list[Callable[[list[Event]], None]] = []

    async def connect(
        self, indexes: Sequence[Index] = (), collections: Sequence[str] = (), wait_s: float = 60.0
    ) -> None:
        """Wait for the server (it may still be starting), decide locking, create collections
        and apply indexes.

        Collections are created up front, never implicitly inside a transaction: nx-27017
        remembers a collection first created by a transaction that then rolled back, but its
        table is gone ("no such table" on every later write)."""
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            try:
                hello = await self.client.admin.command("hello")
                break
            except PyMongoError as exc:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                log.warning("mongo_not_ready", error=str(exc))
                await asyncio.sleep(0.5)
        mode = self.settings.mongo_serialize_transactions.lower()
        replica_set = "setName" in hello
        self._serialize = (not replica_set) if mode == "auto" else mode in ("1", "true", "yes")
        existing = set(await self.db.list_collection_names())
        for name in sorted({*collections, *(i.collection for i in indexes)} - existing):
            try:
                await self.db.create_collection(name)
            except CollectionInvalid:  # the driver's own check: another replica created it first
                pass
            except OperationFailure as exc:
                if exc.code != 48:  # NamespaceExists: the same, seen by the server
                    raise
        for index in indexes:
            if index.expire_after_seconds is not None and not replica_set:
                await self._create_expiring_index(index)
                continue
            try:
                await self.db[index.collection].create_index(list(index.keys), **index.options())
            except OperationFailure as exc:
                # A TTL whose term changed (e.g. a service moving to the shared idempotency
                # index): MongoDB refuses to re-create it with other options, collMod changes it.
                if exc.code != 85 or index.expire_after_seconds is None:
                    raise
                await self.db.command(
                    "collMod",
                    index.collection,
                    index={"keyPattern": dict(index.keys), "expireAfterSeconds": index.expire_after_seconds},
                )
                log.info("ttl_index_changed", collection=index.collection, seconds=index.expire_after_seconds)
        if self.expiring and self._purge_task is None:
            # What expired while the service was down goes before it serves (one batch each).
            more = await self.purge_expired()
            self._purge_stop.clear()
            self._purge_task = asyncio.create_task(self._purge_periodically(more), name="ttl-purge")

    async def _purge_periodically(self, more: bool) -> None:
        from .jobs import loop, wait_or_stop  # jobs builds on this module

        async def step() -> float:
            return 0 if await self.purge_expired() else TTL_PURGE_INTERVAL_S

        if not more:
            await wait_or_stop(self._purge_stop, TTL_PURGE_INTERVAL_S)
        await loop(step, self._purge_stop, name="ttl-purge", error_wait_s=TTL_PURGE_INTERVAL_S)

    async def _create_expiring_index(self, index: Index) -> None:
        """nx-27017: the index without its expiry (a TTL one left by an earlier version of this
        code is dropped first: nx keeps it when a plain one on the same keys is requested)."""
        collection = self.db[index.collection]
        for name, info in (await collection.index_information()).items():
            if list(info.get("key", [])) == [tuple(k) for k in index.keys] and "expireAfterSeconds" in info:
                try:
                    await collection.drop_index(name)
                except OperationFailure as exc:
                    if exc.code != _INDEX_NOT_FOUND:  # another replica dropped it first
                        raise
                log.info("ttl_index_replaced_by_purge", collection=index.collection, index=name)
        await collection.create_index(list(index.keys), **index.options(ttl=False))
        if index not in self.expiring:
            self.expiring.append(index)

    async def purge_expired(self, now: datetime | None = None, batch: int = TTL_PURGE_BATCH) -> bool:
        """Delete rows past their expiry under the indexes in `expiring`, at most `batch` per
        collection (each batch its own transaction); True when a batch was full (more may be
        left). A row expires when its field is an instant older than `expire_after_seconds`,
        as on MongoDB (a datetime, or the ISO string nx-27017 makes of a `$set` one); a row
        without that field, or with a number in it, never expires.

        Only run off a replica set: nx-27017 keeps both forms of an instant as text, which a
        `$lt` datetime compares in its index; SQLite sorts every number below any text, so the
        `$gt: ""` lower bound keeps numbers (epoch ms, which MongoDB's TTL ignores) out and
        still runs through the index (a `$type` or an `$or` would scan every row)."""
        moment = now or utcnow()
        full = False
        for index in self.expiring:
            field_name = index.keys[0][0]
            assert index.expire_after_seconds is not None
            cutoff = moment - timedelta(seconds=index.expire_after_seconds)
            expired = {field_name: {"$gt": "", "$lt": cutoff}}

            async def purge(tx: Tx, coll: str = index.collection, query: dict = expired) -> int:
                rows = await tx.db[coll].find(query, {"_id": 1}, session=tx.session).limit(batch).to_list()
                if not rows:
                    return 0
                await tx.db[coll].delete_many({"_id": {"$in": [r["_id"] for r in rows]}}, session=tx.session)
                return len(rows)

            deleted = await self.transact(purge)
            if deleted:
                log.info("ttl_purged", collection=index.collection, rows=deleted)
            full = full or deleted >= batch
        return full

    async def ping(self) -> bool:
        try:
            await asyncio.wait_for(self.client.admin.command("ping"), timeout=2)
            return True
        except (PyMongoError, TimeoutError):
            return False

    async def close(self) -> None:
        if self._purge_task is not None:
            self._purge_stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._purge_task, timeout=5)
            self._purge_task = None
        await self.client.close()

    @property
    def serializes_transactions(self) -> bool:
        """True once connected to a server whose transactions run one at a time (nx-27017)."""
        return bool(self._serialize)

    def _lock(self) -> DatastoreLock | None:
        if not self._serialize:
            return None
        return datastore_lock(
            self.settings.mongo_url, self.settings.database_name, self.settings.mongo_lock_dir
        )

    async def transact(self, fn: Callable[[Tx], Awaitable[T]]) -> T:
        """Run `fn(tx)` in a transaction; its emitted events are committed with it.

        Retried on MongoDB's transient transaction errors (write conflicts between replicas),
        so `fn` must only touch the database through `tx`.
        """
        lock = self._lock()
        for attempt in range(1, _MAX_TRANSIENT_RETRIES + 1):
            try:
                if lock is None:
                    events = await self._run_once(fn)
                else:
                    async with lock.hold():
                        events = await self._run_once(fn)
            except (OperationFailure, ConnectionFailure) as exc:
                if exc.has_error_label("TransientTransactionError") and attempt < _MAX_TRANSIENT_RETRIES:
                    log.info("transaction_retry", attempt=attempt, error=str(exc))
                    await asyncio.sleep(0.01 * attempt)
                    continue
                raise
            result, committed = events
            if committed:
                for listener in self.after_commit:
                    listener(committed)
            return result
        raise AssertionError("unreachable")

    async def _run_once(self, fn: Callable[[Tx], Awaitable[T]]) -> tuple[T, list[Event]]:
        async with self.client.start_session() as session:
            tx = Tx(
                db=self.db, session=session, service=self.settings.service_name, _emit_hook=self.emit_hook
            )
            async with await session.start_transaction():
                result = await fn(tx)
                if tx._outbox_rows:
                    await self.db.outbox.insert_many(tx._outbox_rows, session=session)
            return result, tx.events
