"""Helpers for asserting on the bus from tests: tap a routing key, poll for a condition."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

from ..bus import Bus


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


async def eventually(
    predicate: Callable[[], object | Awaitable[object]], timeout: float = 10.0, interval: float = 0.05
) -> None:
    """Poll `predicate` (sync or async) until truthy; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def get_all(channel: aio_pika.abc.AbstractChannel, queue_name: str) -> list[AbstractIncomingMessage]:
    """Drain a queue (e.g. a `.dead` parking queue) and return what was in it."""
    queue = await channel.get_queue(queue_name, ensure=False)
    out = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        out.append(message)
    return out
