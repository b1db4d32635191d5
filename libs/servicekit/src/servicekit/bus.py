"""RabbitMQ over aio-pika: topology, confirmed publishing, and the consumer.

Topology (every name prefixed by `settings.bus_namespace`):
  civicfund.events        topic exchange, routing key `<entity>.<verb>`
  civicfund.public        topic exchange for city systems, `<slug>.<entity>.<verb>`
  civicfund.dead-letter   direct exchange the broker dead-letters to
  <queue>                 quorum queue per consumer, bound to the keys its handlers want;
                          x-delivery-limit + dead-letter to <queue>.dead (a poison message
                          that keeps crashing consumers cannot loop forever)
  <queue>.retry.<ms>      quorum queue per backoff tier, TTL then dead-lettered back to <queue>
  <queue>.dead            parking queue: ops inspect and replay (`python -m servicekit.replay`)

Consuming is at least once, handled exactly once: the handler runs in a Mongo transaction that
also inserts `<queue>|<event id>` into `inbox`; the message is acked only after commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import traceback
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from pydantic import ValidationError
from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from . import metrics
from .events import CONTENT_TYPE, ContractError, Contracts, Event
from .logging import get_logger
from .mongo import Index, Mongo, Tx, utcnow
from .settings import ServiceSettings

log = get_logger(__name__)

Handler = Callable[[Event, Tx], Awaitable[None]]
INBOX_INDEXES = [Index("inbox", [("received_at", 1)], expire_after_seconds=30 * 24 * 3600)]


class PermanentError(Exception):
    """Raise from a handler when retrying cannot help (bad data): the event is parked at once."""


def _topic_matches(pattern: str, key: str) -> bool:
    pat, words = pattern.split("."), key.split(".")
    if "#" not in pat:
        return len(pat) == len(words) and all(p in ("*", w) for p, w in zip(pat, words, strict=True))
    return fnmatch.fnmatchcase(key, pattern.replace("#", "*"))


class Handlers:
    """The event handlers of one consumer queue: `@handlers.on("campaign.published")`."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.routes: dict[str, Handler] = {}

    def on(self, *routing_keys: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            for key in routing_keys:
                self.routes[key] = fn
            return fn

        return register

    def find(self, routing_key: str) -> Handler | None:
        if routing_key in self.routes:
            return self.routes[routing_key]
        for pattern, fn in self.routes.items():
            if _topic_matches(pattern, routing_key):
                return fn
        return None


class Bus:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.service = settings.service_name
        self.connection: AbstractRobustConnection | None = None
        self.channel: AbstractChannel | None = None
        self.exchanges: dict[str, AbstractExchange] = {}
        self._consumers: list[Consumer] = []
        self._connected = asyncio.Event()

    @property
    def ready(self) -> bool:
        return (
            self._connected.is_set()
            and self.connection is not None
            and not self.connection.is_closed
            and self.channel is not None
            and not self.channel.is_closed
        )

    async def connect(self, retry_forever: bool = True) -> None:
        """Connect (retrying while the broker is down) and declare the exchanges."""
        delay = 0.5
        while True:
            try:
                self.connection = await aio_pika.connect_robust(
                    self.settings.amqp_url, client_properties={"connection_name": self.service}
                )
                break
            except (OSError, aio_pika.exceptions.AMQPConnectionError) as exc:
                if not retry_forever:
                    raise
                log.warning("broker_unreachable", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
        self.channel = await self.connection.channel(publisher_confirms=True)
        ns = self.settings.ns
        self.exchanges["events"] = await self.channel.declare_exchange(
            ns(self.settings.events_exchange), aio_pika.ExchangeType.TOPIC, durable=True
        )
        self.exchanges["public"] = await self.channel.declare_exchange(
            ns(self.settings.public_exchange), aio_pika.ExchangeType.TOPIC, durable=True
        )
        self.exchanges["dead-letter"] = await self.channel.declare_exchange(
            ns("civicfund.dead-letter"), aio_pika.ExchangeType.DIRECT, durable=True
        )
        self.exchanges["default"] = self.channel.default_exchange
        self._connected.set()

    async def wait_ready(self) -> None:
        await self._connected.wait()

    async def close(self) -> None:
        for consumer in self._consumers:
            await consumer.stop()
        if self.connection is not None:
            await self.connection.close()

    # -- publishing ----------------------------------------------------------------------------

    async def publish(self, event: Event, exchange: str = "events", routing_key: str | None = None) -> None:
        """Publish one event now and wait for the broker's confirm (outside the outbox: tests, tools)."""
        await self._publish_body(exchange, routing_key or event.routing_key, event.to_json(), event.id)

    async def _publish_body(
        self, exchange: str, routing_key: str, body: bytes, message_id: str, headers: dict | None = None
    ) -> None:
        message = aio_pika.Message(
            body,
            content_type=CONTENT_TYPE,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            headers=headers or {},
        )
        # With publisher confirms on, publish() returns once the broker confirmed (or raises).
        await self.exchanges[exchange].publish(message, routing_key=routing_key, mandatory=False)

    async def publish_raw_many(self, rows: Sequence[tuple[str, str, bytes, str]]) -> list[str]:
        """Publish (exchange, routing key, body, id) rows concurrently; return the confirmed ids.

        Waiting for each confirm before the next publish caps throughput near 1,000 msg/s;
        keeping the whole batch in flight is several times faster.
        """
        if not self.ready:
            return []

        async def one(row: tuple[str, str, bytes, str]) -> str | None:
            exchange, key, body, rid = row
            try:
                await self._publish_body(exchange, key, body, rid)
                return rid
            except Exception as exc:
                log.warning("publish_failed", id=rid, routing_key=key, error=str(exc))
                return None

        results = await asyncio.gather(*(one(r) for r in rows))
        return [r for r in results if r is not None]

    # -- consuming -----------------------------------------------------------------------------

    def consumer(self, handlers: Handlers, mongo: Mongo, contracts: Contracts | None) -> Consumer:
        consumer = Consumer(self, handlers, mongo, contracts)
        self._consumers.append(consumer)
        return consumer

    async def declare_consumer_queue(
        self, queue: str, bindings: Sequence[str], channel: AbstractChannel | None = None
    ) -> AbstractQueue:
        """Declare a consumer's queue with its dead and retry queues; the queue object returned
        consumes on `channel` (default: the bus's)."""
        channel = channel or self.channel
        assert channel is not None
        ns = self.settings.ns
        name = ns(queue)
        dead_name = f"{name}.dead"
        dlx = self.exchanges["dead-letter"]
        dead = await channel.declare_queue(dead_name, durable=True, arguments={"x-queue-type": "quorum"})
        await dead.bind(dlx, routing_key=dead_name)
        main = await channel.declare_queue(
            name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": self.settings.consumer_max_attempts * 2,
                "x-dead-letter-exchange": dlx.name,
                "x-dead-letter-routing-key": dead_name,
                "x-overflow": "reject-publish",
                "x-dead-letter-strategy": "at-least-once",
            },
        )
        for key in bindings:
            await main.bind(self.exchanges["events"], routing_key=key)
        for delay in self.settings.consumer_retry_delays_ms:
            await channel.declare_queue(
                f"{name}.retry.{delay}",
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-message-ttl": delay,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": name,
                    "x-overflow": "reject-publish",
                    "x-dead-letter-strategy": "at-least-once",
                },
            )
        return main


class Consumer:
    """Consumes one queue: inbox dedup, transaction, ack after commit, retry tiers, parking."""

    def __init__(self, bus: Bus, handlers: Handlers, mongo: Mongo, contracts: Contracts | None) -> None:
        self.bus = bus
        self.handlers = handlers
        self.mongo = mongo
        self.contracts = contracts
        self.settings = bus.settings
        self.queue_name = self.settings.ns(handlers.queue)
        self._queue: AbstractQueue | None = None
        self._channel: AbstractChannel | None = None
        self._tag: str | None = None
        self._ack_batches = False

    async def start(self) -> None:
        await self.bus.wait_ready()
        assert self.bus.connection is not None
        # Its own channel: an ack with `multiple` settles every earlier delivery of its channel,
        # so those must all be this consumer's.
        self._channel = await self.bus.connection.channel(publisher_confirms=False)
        await self._channel.set_qos(prefetch_count=self.settings.consumer_prefetch)
        self._queue = await self.bus.declare_consumer_queue(
            self.handlers.queue, list(self.handlers.routes), channel=self._channel
        )
        self._pending: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        # Where transactions run one at a time (nx-27017) more workers only queue on the
        # datastore's lock, each holding the few messages it took before waiting; one worker
        # takes everything delivered during the previous transaction: fewer, larger batches,
        # one commit each.
        workers = 1 if self.mongo.serializes_transactions else max(1, self.settings.consumer_concurrency)
        # One worker settles deliveries in the order they came, so a handled batch is acked with
        # one frame (and one settle in the quorum queue's log) instead of one per message.
        self._ack_batches = workers == 1
        self._workers = [
            asyncio.create_task(self._work(), name=f"{self.handlers.queue}-worker-{i}")
            for i in range(workers)
        ]
        self._tag = await self._queue.consume(self._pending.put)
        log.info("consumer_started", queue=self.queue_name, bindings=list(self.handlers.routes))

    async def stop(self) -> None:
        if self._queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._tag)
            self._tag = None
        # Unacked messages still waiting here go back to the queue when the channel closes.
        for worker in getattr(self, "_workers", []):
            worker.cancel()
        if self._channel is not None:
            with contextlib.suppress(Exception):
                await self._channel.close()
            self._channel = None

    async def _work(self) -> None:
        while True:
            batch = [await self._pending.get()]
            while len(batch) < self.settings.consumer_batch_size and not self._pending.empty():
                batch.append(self._pending.get_nowait())
            try:
                await self.process_batch(batch)
            except Exception:
                # Could not even retry or park (broker gone): leave them unacked; the broker
                # redelivers, and x-delivery-limit parks one that keeps doing this.
                log.exception("consumer_failed_to_settle", queue=self.queue_name)
                for message in batch:
                    with contextlib.suppress(Exception):
                        await message.nack(requeue=True)

    async def _decode(self, message: AbstractIncomingMessage) -> tuple[Event, Handler] | None:
        """The event and its handler, or None once a bad message has been parked."""
        try:
            event = Event.from_json(message.body)
        except (ValidationError, ValueError) as exc:
            await self._park(message, "malformed_envelope", str(exc)[:2000], "unknown")
            return None
        key = event.routing_key
        if self.contracts is not None:
            try:
                self.contracts.validate(event)
            except ContractError as exc:
                await self._park(message, "contract_violation", str(exc), key, event=event)
                return None
        handler = self.handlers.find(key)
        if handler is None:
            reason = f"queue {self.handlers.queue} has no handler for {key}"
            await self._park(message, "no_handler", reason, key, event=event)
            return None
        return event, handler

    async def process_batch(self, messages: list[AbstractIncomingMessage]) -> None:
        """Handle what was already delivered in one transaction (one inbox lookup, one commit);
        if that fails, handle each alone so only the failing one is retried or parked."""
        ready: list[tuple[AbstractIncomingMessage, Event, Handler]] = []
        for message in messages:
            decoded = await self._decode(message)
            if decoded is not None:
                ready.append((message, *decoded))
        if len(ready) > 1:
            try:
                handled = await self.mongo.transact(lambda tx: self._handle_batch(tx, ready))
            except Exception as exc:
                log.info(
                    "batch_failed_isolating", size=len(ready), error=f"{type(exc).__name__}: {exc}"[:500]
                )
            else:
                if self._ack_batches:
                    # Every earlier delivery of the channel is settled already (this worker's
                    # earlier batches, this batch's parked messages): one ack covers the batch.
                    await ready[-1][0].ack(multiple=True)
                for (message, event, _), was_new in zip(ready, handled, strict=True):
                    await self._settled(message, event, was_new, acked=self._ack_batches)
                return
        for message, event, handler in ready:
            await self._process_one(message, event, handler)

    async def _process_one(self, message: AbstractIncomingMessage, event: Event, handler: Handler) -> None:
        key = event.routing_key
        with self._log_context(event):
            try:
                handled = await self.mongo.transact(lambda tx: self._handle_once(tx, event, handler))
            except PermanentError as exc:
                await self._park(message, "rejected_by_handler", str(exc), key, event=event)
                return
            except Exception as exc:
                await self._retry_or_park(message, exc, key)
                return
            await self._settled(message, event, handled)

    async def _settled(
        self, message: AbstractIncomingMessage, event: Event, handled: bool, acked: bool = False
    ) -> None:
        if not acked:
            await message.ack()
        with self._log_context(event):
            if handled:
                metrics.EVENTS_CONSUMED.labels(
                    self.settings.service_name, self.handlers.queue, event.routing_key
                ).inc()
                log.info("event_handled", queue=self.handlers.queue)
            else:
                metrics.EVENTS_DUPLICATE.labels(self.settings.service_name, self.handlers.queue).inc()
                log.info("event_duplicate_skipped", queue=self.handlers.queue)

    def _log_context(self, event: Event) -> contextlib.AbstractContextManager:
        return structlog.contextvars.bound_contextvars(
            service=self.settings.service_name,
            event_id=event.id,
            event_type=event.routing_key,
            correlation_id=event.correlationid,
        )

    def _inbox_id(self, event: Event) -> str:
        return f"{self.handlers.queue}|{event.id}"

    async def _handle_batch(
        self, tx: Tx, ready: list[tuple[AbstractIncomingMessage, Event, Handler]]
    ) -> list[bool]:
        # One round trip records the batch and tells which events are new: an upsert per
        # event, and those that inserted are the new ones (the same event twice in the batch
        # inserts once). A conflict with another replica fails the batch; the one-by-one pass
        # then skips what that replica committed.
        now = utcnow()
        result = await tx.db.inbox.bulk_write(
            [UpdateOne(*self._inbox_row(event, now), upsert=True) for _, event, _ in ready],
            ordered=True,
            session=tx.session,
        )
        fresh = [i in result.upserted_ids for i in range(len(ready))]
        for is_new, (_, event, handler) in zip(fresh, ready, strict=True):
            if is_new:
                with self._log_context(event):
                    await handler(event, tx)
        return fresh

    async def _handle_once(self, tx: Tx, event: Event, handler: Handler) -> bool:
        try:
            # Already there: matched, nothing inserted (one round trip, no failed write).
            result = await tx.db.inbox.update_one(
                *self._inbox_row(event, utcnow()), upsert=True, session=tx.session
            )
        except DuplicateKeyError:
            return False  # another replica is handling it in parallel and committed first
        if result.upserted_id is None:
            return False
        await handler(event, tx)
        return True

    def _inbox_row(self, event: Event, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        """The inbox row as an upsert (filter, update): it inserts only if the event is new."""
        return (
            {"_id": self._inbox_id(event)},
            {"$setOnInsert": {"type": event.routing_key, "received_at": now}},
        )

    def _attempts(self, message: AbstractIncomingMessage) -> int:
        value = (message.headers or {}).get("x-attempts", 0)
        try:
            return int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return 0

    async def _retry_or_park(self, message: AbstractIncomingMessage, exc: Exception, key: str) -> None:
        attempts = self._attempts(message) + 1
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if attempts >= self.settings.consumer_max_attempts:
            log.error("event_parked_after_retries", attempts=attempts, error=error)
            await self._park(message, "max_attempts", error, key, attempts, traceback.format_exc()[-4000:])
            return
        delays = self.settings.consumer_retry_delays_ms
        delay = delays[min(attempts, len(delays)) - 1]
        headers = dict(message.headers or {})
        headers.update({"x-attempts": attempts, "x-last-error": error})
        await self.bus._publish_body(
            "default", f"{self.queue_name}.retry.{delay}", message.body, message.message_id or "", headers
        )
        metrics.EVENTS_RETRIED.labels(self.settings.service_name, self.handlers.queue, key).inc()
        log.warning("event_retry_scheduled", attempts=attempts, delay_ms=delay, error=error)
        await message.ack()

    async def _park(
        self,
        message: AbstractIncomingMessage,
        reason: str,
        error: str,
        key: str,
        attempts: int | None = None,
        trace: str | None = None,
        event: Event | None = None,
    ) -> None:
        headers: dict[str, Any] = dict(message.headers or {})
        headers.update(
            {
                "x-parked-reason": reason,
                "x-error": error,
                "x-attempts": attempts if attempts is not None else self._attempts(message),
                "x-original-queue": self.queue_name,
                "x-original-routing-key": message.routing_key or "",
                "x-parked-at": utcnow().isoformat(),
            }
        )
        if trace:
            headers["x-traceback"] = trace
        await self.bus._publish_body(
            "default", f"{self.queue_name}.dead", message.body, message.message_id or "", headers
        )
        metrics.EVENTS_DEAD.labels(self.settings.service_name, self.handlers.queue, key).inc()
        with self._log_context(event) if event is not None else contextlib.nullcontext():
            log.error("event_parked", reason=reason, error=error, queue=self.handlers.queue)
        await message.ack()


def describe_parked(message: AbstractIncomingMessage) -> dict[str, Any]:
    """A JSON-friendly view of a parked message, for ops tools."""
    headers = message.headers or {}
    return {
        "message_id": message.message_id,
        "reason": headers.get("x-parked-reason"),
        "error": headers.get("x-error"),
        "attempts": headers.get("x-attempts"),
        "parked_at": headers.get("x-parked-at"),
        "body": json.loads(message.body)
        if message.body[:1] == b"{"
        else message.body.decode(errors="replace"),
    }
