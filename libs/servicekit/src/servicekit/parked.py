"""Parked events over HTTP, for ops and the site's admin pages: what each of this service's
consumer queues parked in `<queue>.dead` and why, and replaying them back to their queue.

One router every service mounts (`routers=[..., parked.router]`): `GET /ops/parked` and
`POST /ops/parked/{queue}/replay`, admins only. The same operations as `python -m
servicekit.replay`, which shares `peek` and `replay` below."""

from __future__ import annotations

from typing import Annotated, Any

import aio_pika
from aio_pika.abc import AbstractChannel
from fastapi import APIRouter, Query
from pydantic import BaseModel

from .app import ContextDep
from .auth import AdminDep
from .bus import describe_parked
from .errors import ApiError

router = APIRouter(tags=["operations"])


async def peek(channel: AbstractChannel, queue: str, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` parked messages of `queue` (namespaced), left where they are."""
    dead = await channel.get_queue(f"{queue}.dead", ensure=True)
    held = []
    try:
        while len(held) < limit:
            message = await dead.get(no_ack=False, fail=False)
            if message is None:
                break
            held.append(message)
        return [describe_parked(m) for m in held]
    finally:
        for message in held:  # only looking: everything goes back
            await message.nack(requeue=True)


async def replay(channel: AbstractChannel, queue: str, limit: int) -> list[str]:
    """Move up to `limit` parked messages back to `queue` (namespaced); their message ids."""
    dead = await channel.get_queue(f"{queue}.dead", ensure=True)
    moved: list[str] = []
    while len(moved) < limit:
        message = await dead.get(no_ack=False, fail=False)
        if message is None:
            break
        # A fresh start: the parking headers (x-...) would count the old attempts again.
        headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-")}
        await channel.default_exchange.publish(
            aio_pika.Message(
                message.body,
                content_type=message.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message.message_id,
                headers=headers,
            ),
            routing_key=queue,
        )
        await message.ack()
        moved.append(str(message.message_id or ""))
    return moved


class ParkedMessage(BaseModel):
    message_id: str | None
    reason: str | None
    error: str | None
    attempts: int | None
    parked_at: str | None
    event_type: str | None
    subject: str | None


class ParkedQueue(BaseModel):
    queue: str
    messages: list[ParkedMessage]


class ParkedQueues(BaseModel):
    service: str
    queues: list[ParkedQueue]


class Replayed(BaseModel):
    queue: str
    replayed: list[str]


def _message(parked: dict[str, Any]) -> ParkedMessage:
    body = parked.get("body") if isinstance(parked.get("body"), dict) else {}
    attempts = parked.get("attempts")
    return ParkedMessage(
        message_id=parked.get("message_id"),
        reason=str(parked["reason"]) if parked.get("reason") is not None else None,
        error=str(parked["error"])[:2000] if parked.get("error") is not None else None,
        attempts=int(attempts) if isinstance(attempts, int) else None,
        parked_at=str(parked["parked_at"]) if parked.get("parked_at") is not None else None,
        event_type=body.get("type"),
        subject=body.get("subject"),
    )


def _queues(ctx: Any) -> list[str]:
    """This service's consumer queues, as the handlers name them (without the namespace)."""
    if ctx.bus is None:
        return []
    return [c.handlers.queue for c in ctx.bus._consumers]


async def _channel(ctx: Any) -> AbstractChannel:
    if ctx.bus is None or ctx.bus.connection is None or ctx.bus.connection.is_closed:
        raise ApiError(503, "unavailable", "the broker is not connected")
    return await ctx.bus.connection.channel(publisher_confirms=True)


@router.get("/ops/parked", response_model=ParkedQueues)
async def list_parked(
    ctx: ContextDep, principal: AdminDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> ParkedQueues:
    """Admins: each consumer queue of this service with what it parked (first `limit`) and why."""
    channel = await _channel(ctx)
    try:
        queues = [
            ParkedQueue(
                queue=q, messages=[_message(m) for m in await peek(channel, ctx.settings.ns(q), limit)]
            )
            for q in _queues(ctx)
        ]
    finally:
        await channel.close()
    return ParkedQueues(service=ctx.settings.service_name, queues=queues)


@router.post("/ops/parked/{queue}/replay", response_model=Replayed)
async def replay_parked(
    queue: str, ctx: ContextDep, principal: AdminDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> Replayed:
    """Admins: move up to `limit` parked messages of one of this service's queues back to it."""
    if queue not in _queues(ctx):
        raise ApiError(404, "not_found", f"this service has no consumer queue {queue!r}")
    channel = await _channel(ctx)
    try:
        moved = await replay(channel, ctx.settings.ns(queue), limit)
    finally:
        await channel.close()
    return Replayed(queue=queue, replayed=moved)
