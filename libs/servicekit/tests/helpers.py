"""Wiring of the plumbing without FastAPI, for the bus/outbox tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from servicekit.bus import INBOX_INDEXES, Bus, Handlers
from servicekit.events import Contracts
from servicekit.mongo import Mongo
from servicekit.outbox import OUTBOX_INDEXES, Outbox
from servicekit.settings import ServiceSettings
from servicekit.testing.plugin import TestEnv


@dataclass
class Kit:
    settings: ServiceSettings
    mongo: Mongo
    bus: Bus
    outbox: Outbox
    contracts: Contracts
    stop: asyncio.Event
    relay_task: asyncio.Task | None = None

    def start_relay(self) -> None:
        self.stop = asyncio.Event()
        self.relay_task = asyncio.create_task(self.outbox.run_relay(self.bus, self.stop))

    async def stop_relay(self) -> None:
        if self.relay_task is not None:
            self.stop.set()
            self.outbox._wake.set()
            await self.relay_task
            self.relay_task = None


@contextlib.asynccontextmanager
async def kit(
    env: TestEnv, contracts_dir: Path, relay: bool = True, **overrides: object
) -> AsyncIterator[Kit]:
    settings = env.settings(ServiceSettings, "kit", contracts_dir=str(contracts_dir), **overrides)
    mongo = Mongo(settings)
    await mongo.connect([*OUTBOX_INDEXES, *INBOX_INDEXES], ["things", "counters"])
    contracts = Contracts(contracts_dir)
    outbox = Outbox(mongo, contracts)
    bus = Bus(settings)
    await bus.connect()
    k = Kit(settings, mongo, bus, outbox, contracts, asyncio.Event())
    if relay:
        k.start_relay()
    try:
        yield k
    finally:
        await k.stop_relay()
        await bus.close()
        await mongo.close()


async def tap(
    bus: Bus, binding: str, exchange: str = "events"
) -> tuple[AbstractQueue, list[AbstractIncomingMessage]]:
    """An exclusive queue bound to `binding` that collects every message it gets."""
    assert bus.channel is not None
    queue = await bus.channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(bus.exchanges[exchange], routing_key=binding)
    received: list[AbstractIncomingMessage] = []

    async def collect(message: AbstractIncomingMessage) -> None:
        received.append(message)
        await message.ack()

    await queue.consume(collect)
    return queue, received


async def eventually(predicate, timeout: float = 10.0, interval: float = 0.05) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


async def get_all(channel: aio_pika.abc.AbstractChannel, queue_name: str) -> list[AbstractIncomingMessage]:
    queue = await channel.get_queue(queue_name, ensure=False)
    out = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        out.append(message)
    return out


__all__ = ["Handlers", "Kit", "eventually", "get_all", "kit", "tap"]
