"""Consumer: inbox dedup, retries with backoff, parking, bad events (real RabbitMQ + nx-27017)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aio_pika

from servicekit import metrics
from servicekit.bus import Handlers, PermanentError
from servicekit.events import Event, new_event
from servicekit.mongo import Tx
from servicekit.testing.helpers import eventually, get_all
from servicekit.testing.plugin import TestEnv


def _ping(n: int, fail: int = 0) -> Event:
    return new_event("kit", "kit.ping", f"ping-{n}", {"n": n, "fail": fail})


async def _count(k, subject: str) -> int:  # type: ignore[no-untyped-def]
    doc = await k.mongo.db.counters.find_one({"_id": subject})
    return 0 if doc is None else doc["n"]


def counting_handlers(queue: str) -> Handlers:
    handlers = Handlers(queue)

    @handlers.on("kit.ping")
    async def count(event: Event, tx: Tx) -> None:
        # A blind $inc: only the inbox stands between a redelivery and a double count.
        await tx.db.counters.update_one(
            {"_id": event.subject}, {"$inc": {"n": 1}}, upsert=True, session=tx.session
        )

    return handlers


async def test_same_event_delivered_twice_changes_state_once(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any]
) -> None:
    async with kit(env, test_contracts) as k:
        consumer = k.bus.consumer(counting_handlers("kit.dedup"), k.mongo, k.contracts)
        await consumer.start()
        event = _ping(1)
        await k.bus.publish(event)
        await k.bus.publish(event)
        await k.bus.publish(_ping(2))
        await eventually(lambda: _count(k, "ping-2"))
        await eventually(lambda: k.mongo.db.inbox.count_documents({}), timeout=5)
        assert await _count(k, "ping-1") == 1
        assert await k.mongo.db.inbox.count_documents({"_id": {"$regex": "^kit.dedup"}}) == 2


async def test_handler_failing_twice_then_succeeding_is_processed_once(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any]
) -> None:
    async with kit(env, test_contracts, consumer_max_attempts=5) as k:
        calls: list[str] = []
        handlers = Handlers("kit.flaky")

        @handlers.on("kit.ping")
        async def flaky(event: Event, tx: Tx) -> None:
            calls.append(event.id)
            await tx.db.counters.update_one(
                {"_id": event.subject}, {"$inc": {"n": 1}}, upsert=True, session=tx.session
            )
            if len(calls) <= 2:
                raise RuntimeError(f"transient failure {len(calls)}")

        await k.bus.consumer(handlers, k.mongo, k.contracts).start()
        await k.bus.publish(_ping(7))
        # Wait for the third call: on nx-27017 a read can see an open transaction's uncommitted
        # write, so the count is only meaningful once the attempt that commits has run.
        await eventually(lambda: len(calls) >= 3, timeout=15)
        await eventually(lambda: _count(k, "ping-7"))
        await asyncio.sleep(0.3)
        assert len(calls) == 3
        assert await _count(k, "ping-7") == 1  # the two failed attempts rolled back
        assert await get_all(k.bus.channel, f"{k.settings.ns('kit.flaky')}.dead") == []


async def test_always_failing_handler_is_parked_with_the_error(
    env: TestEnv, test_contracts: Path, kit
) -> None:
    async with kit(env, test_contracts, consumer_max_attempts=3) as k:
        calls: list[int] = []
        handlers = Handlers("kit.poison")

        @handlers.on("kit.ping")
        async def broken(event: Event, tx: Tx) -> None:
            calls.append(1)
            raise ValueError("cannot handle this one")

        await k.bus.consumer(handlers, k.mongo, k.contracts).start()
        event = _ping(9)
        await k.bus.publish(event)
        dead_queue = f"{k.settings.ns('kit.poison')}.dead"
        parked: list[aio_pika.abc.AbstractIncomingMessage] = []

        async def parked_one() -> bool:
            parked.extend(await get_all(k.bus.channel, dead_queue))
            return bool(parked)

        await eventually(parked_one, timeout=20)
        assert len(calls) == 3
        headers = parked[0].headers
        assert headers["x-parked-reason"] == "max_attempts"
        assert "ValueError: cannot handle this one" in headers["x-error"]
        assert headers["x-attempts"] == 3
        assert json.loads(parked[0].body)["id"] == event.id
        assert await k.mongo.db.inbox.count_documents({}) == 0


async def test_bad_events_are_parked_at_once_with_the_reason(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any]
) -> None:
    async with kit(env, test_contracts) as k:
        handlers = Handlers("kit.strict")
        seen: list[str] = []

        @handlers.on("kit.ping", "kit.poison")
        async def handle(event: Event, tx: Tx) -> None:
            seen.append(event.id)
            if event.routing_key == "kit.poison":
                raise PermanentError("campaign does not exist")

        await k.bus.consumer(handlers, k.mongo, k.contracts).start()
        exchange = k.bus.exchanges["events"]
        await exchange.publish(aio_pika.Message(b"not json at all"), routing_key="kit.ping")
        await exchange.publish(
            aio_pika.Message(_ping(1).model_copy(update={"data": {"n": "x"}}).to_json()),
            routing_key="kit.ping",
        )
        await k.bus.publish(new_event("kit", "kit.poison", "p", {"n": 1}))
        dead_queue = f"{k.settings.ns('kit.strict')}.dead"
        parked: list[aio_pika.abc.AbstractIncomingMessage] = []

        async def all_parked() -> bool:
            parked.extend(await get_all(k.bus.channel, dead_queue))
            return len(parked) == 3

        await eventually(all_parked, timeout=10)
        reasons = sorted(m.headers["x-parked-reason"] for m in parked)
        assert reasons == ["contract_violation", "malformed_envelope", "rejected_by_handler"]
        assert len(seen) == 1  # only the permanent failure reached the handler, once


async def test_a_burst_is_handled_in_batches_and_one_poison_event_is_isolated(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any]
) -> None:
    async with kit(env, test_contracts, consumer_max_attempts=2, consumer_batch_size=50) as k:
        handlers = Handlers("kit.burst")
        batch_sizes: list[int] = []

        @handlers.on("kit.ping")
        async def count(event: Event, tx: Tx) -> None:
            if event.data.get("fail"):
                raise ValueError("poison")
            await tx.db.counters.update_one(
                {"_id": "burst"}, {"$inc": {"n": 1}}, upsert=True, session=tx.session
            )

        consumer = k.bus.consumer(handlers, k.mongo, k.contracts)
        original = consumer.process_batch

        async def spy(messages: list) -> None:  # type: ignore[type-arg]
            batch_sizes.append(len(messages))
            await original(messages)

        consumer.process_batch = spy  # type: ignore[method-assign]
        # Queue the burst before consuming starts, so deliveries arrive together.
        await k.bus.declare_consumer_queue("kit.burst", ["kit.ping"])
        events = [_ping(i, fail=1 if i == 17 else 0) for i in range(60)]
        for event in events:
            await k.bus.publish(event)
        await k.bus.publish(events[3])  # a redelivery inside the burst
        await consumer.start()

        dead_queue = f"{k.settings.ns('kit.burst')}.dead"
        parked: list[aio_pika.abc.AbstractIncomingMessage] = []

        async def done() -> bool:
            parked.extend(await get_all(k.bus.channel, dead_queue))
            return bool(parked) and await _count(k, "burst") == 59

        await eventually(done, timeout=30)
        assert max(batch_sizes) > 1, "deliveries that arrive together share a transaction"
        assert [json.loads(m.body)["data"]["n"] for m in parked] == [17]
        assert await _count(k, "burst") == 59  # every other event exactly once, the duplicate skipped
        assert await k.mongo.db.inbox.count_documents({"_id": {"$regex": "^kit.burst"}}) == 59


async def test_a_batch_mixing_handled_new_and_repeated_events_runs_each_new_one_once(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any]
) -> None:
    """The batch's inbox write (one upsert per event) decides what is new: an event handled by
    an earlier batch and the second copy of one inside the batch are skipped."""
    async with kit(env, test_contracts, relay=False) as k:
        consumer = k.bus.consumer(counting_handlers("kit.mixed"), k.mongo, k.contracts)
        handler = consumer.handlers.find("kit.ping")
        assert handler is not None
        earlier, new, third = _ping(1), _ping(2), _ping(3)
        assert await k.mongo.transact(lambda tx: consumer._handle_once(tx, earlier, handler)) is True
        assert await k.mongo.transact(lambda tx: consumer._handle_once(tx, earlier, handler)) is False
        batch = [(None, e, handler) for e in (earlier, new, new, third)]
        fresh = await k.mongo.transact(lambda tx: consumer._handle_batch(tx, batch))  # type: ignore[arg-type]
        assert fresh == [False, True, False, True]
        assert [await _count(k, f"ping-{n}") for n in (1, 2, 3)] == [1, 1, 1]
        rows = await k.mongo.db.inbox.find({}).sort([("_id", 1)]).to_list()
        assert [r["_id"] for r in rows] == sorted(f"kit.mixed|{e.id}" for e in (earlier, new, third))
        assert all(r["type"] == "kit.ping" and r["received_at"] is not None for r in rows)


async def test_a_handled_batch_is_acked_at_once_and_nothing_stays_unacked(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any]
) -> None:
    """On nx-27017 one worker acks a handled batch with one `multiple` ack, which also covers a
    message of the batch already parked (and acked) on its own: the channel stays open, and once
    the consumer stops (its channel closed, so whatever was left unacked would go back to the
    queue) the queue is empty."""
    async with kit(env, test_contracts) as k:
        consumer = k.bus.consumer(counting_handlers("kit.acks"), k.mongo, k.contracts)
        batch_sizes: list[int] = []
        original = consumer.process_batch

        async def spy(messages: list) -> None:  # type: ignore[type-arg]
            batch_sizes.append(len(messages))
            await original(messages)

        consumer.process_batch = spy  # type: ignore[method-assign]
        await k.bus.declare_consumer_queue("kit.acks", ["kit.ping"])
        for i in range(30):
            await k.bus.publish(_ping(i))
            if i == 10:
                await k.bus._publish_body("events", "kit.ping", b"not an envelope", "bad-10")
        await consumer.start()

        dead_queue = f"{k.settings.ns('kit.acks')}.dead"
        parked: list[aio_pika.abc.AbstractIncomingMessage] = []

        def settled() -> float:
            # Counted after commit and ack (nx-27017 shows an open transaction's rows to reads).
            labels = {"service": k.settings.service_name, "queue": "kit.acks", "type": "kit.ping"}
            return metrics.EVENTS_CONSUMED.labels(**labels)._value.get()

        before = settled()

        async def done() -> bool:
            parked.extend(await get_all(k.bus.channel, dead_queue))
            return bool(parked) and settled() - before == 30

        await eventually(done, timeout=30)
        assert max(batch_sizes) > 1
        assert consumer._channel is not None and not consumer._channel.is_closed
        assert [m.message_id for m in parked] == ["bad-10"]
        await consumer.stop()
        await asyncio.sleep(1)  # the closed channel's unacked deliveries are requeued by now
        assert k.bus.channel is not None
        queue = await k.bus.channel.declare_queue(k.settings.ns("kit.acks"), passive=True)
        assert queue.declaration_result.message_count == 0
        assert [await _count(k, f"ping-{i}") for i in range(30)] == [1] * 30
