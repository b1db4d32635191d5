"""Background work on a real nx-27017: claimed items with lease, retry and exhaustion; periodic
loops that survive errors and stop promptly; named leases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from servicekit.jobs import Lease, WorkQueue, every
from servicekit.mongo import Mongo, Tx, epoch_ms
from servicekit.settings import ServiceSettings
from servicekit.testing.helpers import eventually
from servicekit.testing.plugin import TestEnv


@pytest.fixture
async def mongo(env: TestEnv, test_contracts: Path) -> AsyncIterator[Mongo]:
    settings = env.settings(ServiceSettings, "kitjobs", contracts_dir=str(test_contracts))
    m = Mongo(settings)
    probe = WorkQueue(m, "work", lease_s=1)
    await m.connect([*probe.indexes], ["work", "leases"])
    yield m
    await m.close()


async def _add(mongo: Mongo, queue: WorkQueue, *ids: str, due_ms: int | None = None) -> None:
    async def add(tx: Tx) -> None:
        for item_id in ids:
            await queue.add(tx, item_id, due_ms, payload=item_id.upper())

    await mongo.transact(add)


async def _doc(mongo: Mongo, item_id: str) -> dict[str, Any]:
    doc = await mongo.db.work.find_one({"_id": item_id})
    assert doc is not None
    return doc


async def test_claim_takes_each_due_item_once_and_an_expired_lease_again(mongo: Mongo) -> None:
    a = WorkQueue(mongo, "work", lease_s=60)
    b = WorkQueue(mongo, "work", lease_s=60)
    await _add(mongo, a, "w1")
    await _add(mongo, a, "later", due_ms=epoch_ms() + 600_000)
    item = await a.claim()
    assert item is not None and item["_id"] == "w1" and item["payload"] == "W1"
    assert item["attempts"] == 1 and item["status"] == "working" and item["lease_owner"] == a.owner
    assert await b.claim() is None  # leased by a; "later" is not due
    # a died while working: a minute later its lease has run out.
    taken = await b.claim(epoch_ms() + 61_000)
    assert taken is not None and taken["_id"] == "w1" and taken["attempts"] == 2
    assert not await a.complete("w1")  # a's late finish does not clobber b's claim
    assert await b.complete("w1", {"result": "ok"})
    doc = await _doc(mongo, "w1")
    assert doc["status"] == "done" and doc["result"] == "ok"
    assert await a.claim(epoch_ms() + 61_000) is None


async def test_retry_backs_off_then_gives_up_when_attempts_are_exhausted(mongo: Mongo) -> None:
    queue = WorkQueue(mongo, "work", lease_s=5, backoff_s=[30, 60], max_attempts=3)
    await _add(mongo, queue, "w2")
    assert await queue.claim() is not None
    before = epoch_ms()
    assert await queue.retry("w2", "boom 1")
    doc = await _doc(mongo, "w2")
    assert doc["status"] == "pending" and doc["last_error"] == "boom 1" and doc["attempts"] == 1
    assert before + 30_000 <= doc["due_ms"] <= epoch_ms() + 30_000
    assert await queue.claim() is None  # not due yet
    assert await queue.claim(epoch_ms() + 31_000) is not None
    assert await queue.retry("w2", "boom 2")
    doc = await _doc(mongo, "w2")
    assert doc["due_ms"] >= epoch_ms() + 59_000  # the second step of the backoff
    assert await queue.claim(epoch_ms() + 61_000) is not None
    assert not await queue.retry("w2", "boom 3")  # the third attempt was the last
    doc = await _doc(mongo, "w2")
    assert doc["status"] == "failed" and doc["attempts"] == 3 and doc["last_error"] == "boom 3"
    assert await queue.claim(epoch_ms() + 10**9) is None


async def test_run_works_items_concurrently_retries_failures_and_stops(mongo: Mongo) -> None:
    queue = WorkQueue(mongo, "work", lease_s=5, backoff_s=[0.05], max_attempts=2)
    seen: list[str] = []
    in_flight = 0
    most = 0

    async def worker(item: dict[str, Any]) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            seen.append(item["_id"])
            await asyncio.sleep(0.05)
            if item["_id"] == "bad":
                raise RuntimeError("always fails")
            if item["_id"] == "own":
                await queue.complete(item["_id"], {"status": "sent"})  # its own final word
        finally:
            in_flight -= 1

    await _add(mongo, queue, "i1", "i2", "i3", "i4", "bad", "own")
    stop = asyncio.Event()
    wake = asyncio.Event()
    task = asyncio.create_task(queue.run(worker, stop, concurrency=3, poll_s=30, wake=wake))

    async def settled() -> bool:
        docs = await mongo.db.work.find({}).to_list()
        return all(d["status"] in ("done", "failed", "sent") for d in docs)

    await eventually(settled)
    statuses = {d["_id"]: d["status"] for d in await mongo.db.work.find({}).to_list()}
    assert statuses == {
        "i1": "done",
        "i2": "done",
        "i3": "done",
        "i4": "done",
        "bad": "failed",
        "own": "sent",
    }
    assert seen.count("bad") == 2 and most == 3
    # Idle with a 30 s poll: new work is picked up at once when the producer wakes the loop.
    await _add(mongo, queue, "i5")
    wake.set()
    await eventually(lambda: "i5" in seen, timeout=3)
    stop.set()
    await asyncio.wait_for(task, timeout=1)


async def test_every_survives_errors_and_stops_promptly() -> None:
    runs = 0

    async def tick() -> None:
        nonlocal runs
        runs += 1
        if runs == 2:
            raise RuntimeError("one bad run")

    stop = asyncio.Event()
    task = asyncio.create_task(every(0.02, tick, stop, name="test-tick"))
    await eventually(lambda: runs >= 5, timeout=3)  # the failing second run did not end the loop
    slow_stop = asyncio.Event()
    slow = asyncio.create_task(every(3600, tick, slow_stop, name="test-hourly"))
    await asyncio.sleep(0.05)
    started = asyncio.get_running_loop().time()
    stop.set()
    slow_stop.set()
    await asyncio.wait_for(asyncio.gather(task, slow), timeout=1)
    assert asyncio.get_running_loop().time() - started < 0.5  # not after the hour's wait


async def test_every_again_when_busy_drains_before_waiting() -> None:
    batches = [3, 2, 0, 0]
    calls = 0

    async def drain() -> int:
        nonlocal calls
        calls += 1
        return batches[calls - 1] if calls <= len(batches) else 0

    stop = asyncio.Event()
    task = asyncio.create_task(every(3600, drain, stop, name="test-drain", again_when_busy=True))
    await eventually(lambda: calls >= 3, timeout=1)
    await asyncio.sleep(0.05)
    assert calls == 3  # two full batches in a row, then the first empty one waits
    stop.set()
    await asyncio.wait_for(task, timeout=1)


async def test_lease_has_one_holder_and_expires_when_its_holder_dies(mongo: Mongo) -> None:
    first = Lease(mongo, "singleton", ttl_s=1.5)
    second = Lease(mongo, "singleton", ttl_s=1.5)
    assert await first.acquire() > 0 and first.held
    assert await second.acquire() == 0 and not second.held
    assert await first.acquire() > 0  # renewing is taking it again
    assert not first.needs_renewal()
    await asyncio.sleep(1.6)
    assert first.needs_renewal()
    assert await second.acquire() > 0  # first stopped renewing (it died)
    assert await first.acquire() == 0
    await second.release()
    assert await first.acquire() > 0


async def test_release_gives_an_item_back_without_using_an_attempt(mongo: Mongo) -> None:
    queue = WorkQueue(mongo, "work", lease_s=60, max_attempts=1)
    await _add(mongo, queue, "w3")
    assert await queue.claim() is not None
    assert await queue.renew("w3")
    await queue.release("w3")  # e.g. back-pressure: not this replica's turn after all
    doc = await _doc(mongo, "w3")
    assert doc["status"] == "pending" and doc["attempts"] == 0 and doc["lease_owner"] == ""
    again = await queue.claim()
    assert again is not None and again["attempts"] == 1
    assert not await queue.retry("w3", "the only attempt failed")
    assert (await _doc(mongo, "w3"))["status"] == "failed"
    assert not await queue.renew("w3")
