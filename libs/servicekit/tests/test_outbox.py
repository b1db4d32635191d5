"""Transactional outbox against real RabbitMQ and a real nx-27017."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from servicekit import outbox as outbox_module
from servicekit.mongo import Tx, as_utc, epoch_ms
from servicekit.testing.helpers import eventually, tap
from servicekit.testing.plugin import TestEnv
from servicekit.testing.proxy import CuttableProxy


async def _write(k, n: int, prefix: str = "thing") -> list[str]:  # type: ignore[no-untyped-def]
    ids = []
    for i in range(n):

        async def work(tx: Tx, i: int = i) -> None:
            await tx.db.things.insert_one({"_id": f"{prefix}-{i}"}, session=tx.session)
            ids.append(tx.emit("kit.ping", f"{prefix}-{i}", {"n": i}).id)

        await k.mongo.transact(work)
    return ids


async def test_relay_stopped_keeps_rows_pending_then_publishes_each_once(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any]
) -> None:
    async with kit(env, test_contracts, relay=False) as k:
        _, received = await tap(k.bus, "kit.#")
        ids = await _write(k, 20)
        await asyncio.sleep(0.5)
        assert received == []
        assert await k.outbox.backlog() == 20
        k.start_relay()
        await eventually(lambda: len(received) >= 20)
        await asyncio.sleep(0.5)  # anything published twice would show up by now
        got = [json.loads(m.body)["id"] for m in received]
        assert sorted(got) == sorted(ids)
        assert await k.outbox.backlog() == 0


async def test_aborted_transaction_publishes_nothing(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any]
) -> None:
    async with kit(env, test_contracts) as k:
        _, received = await tap(k.bus, "kit.#")

        async def fails(tx: Tx) -> None:
            await tx.db.things.insert_one({"_id": "doomed"}, session=tx.session)
            tx.emit("kit.ping", "doomed", {"n": 1})
            raise RuntimeError("business rule refused")

        with pytest.raises(RuntimeError):
            await k.mongo.transact(fails)
        await _write(k, 1)  # a committed event after it proves the relay is running
        await eventually(lambda: len(received) == 1)
        await asyncio.sleep(0.3)
        assert [json.loads(m.body)["subject"] for m in received] == ["thing-0"]
        assert await k.mongo.db.things.find_one({"_id": "doomed"}) is None
        assert await k.mongo.db.outbox.count_documents({}) == 1


async def test_contract_violation_aborts_the_transaction(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any]
) -> None:
    async with kit(env, test_contracts, relay=False) as k:

        async def bad(tx: Tx) -> None:
            await tx.db.things.insert_one({"_id": "bad"}, session=tx.session)
            tx.emit("kit.ping", "bad", {"n": "not a number"})

        with pytest.raises(ValueError, match=r"kit\.ping"):
            await k.mongo.transact(bad)
        assert await k.mongo.db.things.find_one({"_id": "bad"}) is None
        assert await k.outbox.backlog() == 0


async def test_broker_outage_events_flow_once_it_is_back(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any]
) -> None:
    host, port = "127.0.0.1", 5672
    proxy = await CuttableProxy(host, port).start()
    vhost_path = env.amqp_url.split("5672", 1)[1]
    proxied_url = f"amqp://guest:guest@127.0.0.1:{proxy.port}{vhost_path}"
    try:
        async with (
            kit(env, test_contracts, amqp_url=proxied_url) as k,
            kit(env, test_contracts, relay=False) as observer,
        ):
            _, received = await tap(observer.bus, "kit.#")
            first = await _write(k, 5)
            await eventually(lambda: len(received) == 5)

            proxy.cut()
            await eventually(lambda: not k.bus.ready)
            during = await _write(k, 10, "during")  # the service keeps committing while the broker is away
            await asyncio.sleep(1.0)
            assert len(received) == 5
            assert await k.outbox.backlog() == 10

            proxy.restore()
            await eventually(lambda: len(received) == 15, timeout=30)
            await asyncio.sleep(0.5)
            got = sorted(json.loads(m.body)["id"] for m in received)
            assert got == sorted(first + during)
            assert await k.outbox.backlog() == 0
    finally:
        await proxy.stop()


async def test_public_events_use_the_city_routing_key(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any]
) -> None:
    async with kit(env, test_contracts) as k:
        _, montreuil = await tap(k.bus, "montreuil.#", exchange="public")
        _, other = await tap(k.bus, "lyon.#", exchange="public")

        async def work(tx: Tx) -> None:
            tx.emit_public("montreuil", "kit.ping", "x", {"n": 1})

        await k.mongo.transact(work)
        await eventually(lambda: len(montreuil) == 1)
        assert montreuil[0].routing_key == "montreuil.kit.ping"
        assert json.loads(montreuil[0].body)["type"] == "org.civicfund.public.kit.ping"
        assert other == []


async def test_two_replicas_relay_each_row_once(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any]
) -> None:
    """Two replicas of a service share one outbox: the lease lets one relay at a time."""
    async with kit(env, test_contracts, relay=False) as first:
        db_name = first.settings.mongo_db
        async with kit(env, test_contracts, relay=False, mongo_db=db_name) as second:
            _, received = await tap(first.bus, "kit.#")
            ids = await _write(first, 30)
            first.start_relay()
            second.start_relay()
            ids += await _write(second, 30, "second")
            await eventually(lambda: len(received) >= 60, timeout=20)
            await asyncio.sleep(1.0)
            got = [json.loads(m.body)["id"] for m in received]
            assert sorted(got) == sorted(ids)


async def test_a_crashed_relays_lease_expires_and_a_new_process_takes_over(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any]
) -> None:
    async with kit(env, test_contracts, relay=False) as k:
        # A previous process died holding the lease (no release): it carries an old expiry.
        async def stale(tx: Tx) -> None:
            await tx.db.leases.insert_one(
                {"_id": "outbox-relay", "owner": "dead-process", "expires_ms": 1}, session=tx.session
            )

        await k.mongo.transact(stale)
        _, received = await tap(k.bus, "kit.#")
        ids = await _write(k, 3)
        k.start_relay()
        await eventually(lambda: len(received) == 3)
        assert sorted(json.loads(m.body)["id"] for m in received) == sorted(ids)
        lease = await k.mongo.db.leases.find_one({"_id": "outbox-relay"})
        assert lease["owner"] != "dead-process"


async def test_gauges_count_the_backlog_without_the_datastore_falling_back(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any]
) -> None:
    """The relay refreshes its gauges every poll in every service: nx-27017 must run those
    queries in SQL (a fallback logs a warning each time and reads every row in Python)."""
    log = env.workdir / "nx.out"

    def gauge(name: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"service": "kit"})

    async with kit(env, test_contracts, relay=False) as k:
        await _write(k, 3, "gauged")
        seen = log.stat().st_size
        await k.outbox._update_gauges()
        assert gauge("outbox_backlog") == 3
        assert gauge("outbox_oldest_pending_age_seconds") >= 0
        with open(log, "rb") as out:
            out.seek(seen)
            assert b"fallback" not in out.read()
        k.start_relay()

        async def drained() -> bool:
            return await k.outbox.backlog() == 0

        await eventually(drained)
        await k.outbox._update_gauges()
        assert gauge("outbox_backlog") == 0
        assert gauge("outbox_oldest_pending_age_seconds") == 0


async def test_a_steady_flow_is_relayed_on_wake_and_every_row_ends_marked_sent(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any]
) -> None:
    """With a poll far away, only the commit wake-ups move events: a commit that lands while
    the relay publishes or marks (its wake-up must not be lost) is relayed at once. The marks
    ride on the next batch's read; the last one is made before the relay goes idle."""
    async with kit(env, test_contracts, outbox_poll_interval_s=60) as k:
        _, received = await tap(k.bus, "kit.#")
        await asyncio.sleep(0.3)  # the relay has its lease and waits for a wake-up
        ids: list[list[str]] = []
        for burst in range(15):
            ids += await asyncio.gather(*(_write(k, 1, f"flow-{burst}-{j}") for j in range(3)))
            # Well before the poll: relayed because of the commits' wake-ups.
            expected = 3 * (burst + 1)
            await eventually(lambda n=expected: len(received) >= n, timeout=5, interval=0.005)
            await asyncio.sleep(0.007 * (burst % 4))  # commits land in every phase of the relay
        got = [json.loads(m.body)["id"] for m in received]
        assert sorted(got) == sorted(i for one in ids for i in one)

        async def all_sent() -> bool:
            return await k.mongo.db.outbox.count_documents({"status": {"$eq": "sent"}}) == len(got)

        await eventually(all_sent, timeout=2)
        assert await k.outbox.backlog() == 0
        rows = await k.mongo.db.outbox.find({}, {"sent_at": 1, "created_at": 1}).to_list()
        assert all(as_utc(r["sent_at"]) >= as_utc(r["created_at"]) for r in rows)  # type: ignore[operator]


async def test_a_relay_dying_between_confirm_and_mark_loses_nothing(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Confirmed rows are marked sent with the relay's next read: a relay killed before that
    leaves them pending, and the next relay publishes them again (consumers dedupe by id)."""
    monkeypatch.setattr(outbox_module, "MARK_DELAY_S", 30)  # hold the marks back for the test
    async with kit(env, test_contracts, relay=False) as k:
        _, received = await tap(k.bus, "kit.#")
        ids = await _write(k, 3, "crash")
        relaying = asyncio.create_task(k.outbox.relay_pending(k.bus))
        await eventually(lambda: len(received) == 3)
        assert await k.outbox.backlog() == 3  # on the broker, not yet marked
        relaying.cancel()  # the process dies here
        with pytest.raises(asyncio.CancelledError):
            await relaying

        monkeypatch.setattr(outbox_module, "MARK_DELAY_S", 0.02)
        k.start_relay()
        await eventually(lambda: len(received) == 6)

        async def drained() -> bool:
            return await k.outbox.backlog() == 0

        await eventually(drained)
        got = [json.loads(m.body)["id"] for m in received]
        assert sorted(got) == sorted(ids * 2)  # each at least once: here exactly twice


async def test_the_lease_is_renewed_while_a_steady_flow_keeps_the_relay_busy(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits closer together than the mark delay never let the outbox be found empty: the
    relay still steps out to renew its lease, so no other replica takes over mid-flow."""
    monkeypatch.setattr(outbox_module, "LEASE_TTL_S", 1.5)  # renewed once 0.5 s is left
    async with kit(env, test_contracts) as k:
        _, received = await tap(k.bus, "kit.#")
        loop = asyncio.get_running_loop()
        end = loop.time() + 3.5
        written = 0
        while loop.time() < end:
            await _write(k, 1, f"steady-{written}")
            written += 1
            await asyncio.sleep(0.005)
        lease = await k.mongo.db.leases.find_one({"_id": "outbox-relay"})
        assert lease is not None and lease["expires_ms"] > epoch_ms()  # renewed during the flow
        await eventually(lambda: len(received) == written)


async def test_a_commit_is_published_from_memory_without_reading_the_outbox(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay gets the rows its own process commits handed over: between a commit and its
    publish no transaction waits for the datastore's lock; only the marks take one, later."""
    async with kit(env, test_contracts, outbox_poll_interval_s=60) as k:
        _, received = await tap(k.bus, "kit.#")
        await asyncio.sleep(0.5)  # the lease is held and the first read (of nothing) made
        reads: list[int] = []
        mark_and_read = k.outbox._mark_and_read

        async def counted(sent: list[str], sent_at: Any, limit: int) -> list[dict[str, Any]]:
            if limit:
                reads.append(limit)
            return await mark_and_read(sent, sent_at, limit)

        monkeypatch.setattr(k.outbox, "_mark_and_read", counted)
        ids = await _write(k, 5, "fresh")
        await eventually(lambda: len(received) == 5, timeout=5, interval=0.005)
        assert sorted(json.loads(m.body)["id"] for m in received) == sorted(ids)

        async def drained() -> bool:
            return await k.outbox.backlog() == 0

        await eventually(drained, timeout=2)
        assert reads == []


async def test_commits_are_published_while_the_marks_are_written(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The marks' transaction queues for the datastore's lock behind every write waiting there:
    the relay goes on publishing meanwhile instead of holding back what is committed."""
    monkeypatch.setattr(outbox_module, "MARK_DELAY_S", 0.01)
    async with kit(env, test_contracts, outbox_poll_interval_s=60) as k:
        _, received = await tap(k.bus, "kit.#")
        await asyncio.sleep(0.5)  # the lease is held and the first read (of nothing) made
        mark_and_read = k.outbox._mark_and_read
        marking, written = asyncio.Event(), asyncio.Event()

        async def slow_marks(sent: list[str], sent_at: Any, limit: int) -> list[dict[str, Any]]:
            if sent and not limit:
                marking.set()
                await written.wait()  # as if queued behind other transactions
            return await mark_and_read(sent, sent_at, limit)

        monkeypatch.setattr(k.outbox, "_mark_and_read", slow_marks)
        try:
            first = await _write(k, 1, "first")
            await asyncio.wait_for(marking.wait(), timeout=5)  # the first event's marks are under way
            second = await _write(k, 2, "second")
            await eventually(lambda: len(received) == 3, timeout=2, interval=0.005)
            assert sorted(json.loads(m.body)["id"] for m in received) == sorted(first + second)
            assert await k.outbox.backlog() == 3  # all on the broker, none marked yet
        finally:
            written.set()

        async def drained() -> bool:
            return await k.outbox.backlog() == 0

        await eventually(drained, timeout=2)
        assert len(received) == 3


async def test_rows_the_hand_off_misses_are_read_from_the_outbox(
    env: TestEnv, test_contracts: Path, kit: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row not handed over (the in-memory queue full) is published from the outbox read the
    miss triggers, at once rather than at the next poll, and once."""
    monkeypatch.setattr(outbox_module, "FRESH_BATCHES", 0)  # every commit misses the hand-off
    async with kit(env, test_contracts, outbox_poll_interval_s=60) as k:
        _, received = await tap(k.bus, "kit.#")
        await asyncio.sleep(0.3)
        ids = await _write(k, 5, "missed")
        await eventually(lambda: len(received) == 5, timeout=5)
        await asyncio.sleep(0.5)  # anything published twice would show up by now
        assert sorted(json.loads(m.body)["id"] for m in received) == sorted(ids)
        assert await k.outbox.backlog() == 0
