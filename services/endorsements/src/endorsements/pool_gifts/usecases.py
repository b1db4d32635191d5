"""Residents' gifts, the use cases: a manager marks a pool as accepting them (pool.updated, which
payments projects), and a gift payments took (pool.gift_received) adds to the pool's budget once
per pledge."""

from __future__ import annotations

from typing import Any

from servicekit.bus import PermanentError
from servicekit.errors import DomainError
from servicekit.mongo import Mongo, Tx, utcnow

from ..access import CityOfficial
from ..matching import store as matching
from ..matching.models import PoolOut
from ..matching.usecases import _pool_out
from . import domain
from . import store as gifts


async def mark(mongo: Mongo, manager: CityOfficial, pool_id: str, accepts: bool) -> PoolOut:
    """Accept residents' gifts into this pool, or stop (setting it twice changes nothing)."""

    async def work(tx: Tx) -> PoolOut:
        pool = await matching.pools.get(tx, pool_id)
        if pool is None or pool["municipality"] != manager.slug:
            raise DomainError("pool_not_found", 404, f"{manager.slug} has no pool {pool_id!r}")
        try:
            domain.check_marking(pool, accepts, await matching.pools_of(tx, manager.slug))
        except domain.GiftsRefused as exc:
            raise DomainError(exc.code, 409, str(exc)) from exc
        if bool(pool.get("accepts_gifts", False)) != accepts:
            # The rev moves with it: payments keeps the newest word on the pool.
            pool = await matching.pools.patch(
                tx, pool_id, {"accepts_gifts": accepts, "rev": int(pool.get("rev", 0)) + 1}
            )
            tx.emit("pool.updated", pool_id, domain.pool_event(pool))
        return await _pool_out(tx, pool)

    return await mongo.transact(work)


async def gift_received(tx: Tx, data: dict[str, Any]) -> None:
    """Add the gift to the pool's budget, once per pledge (a redelivery or a copy under another
    event id finds its record)."""
    pledge_id = data.get("pledge_id")
    if not isinstance(pledge_id, str) or not pledge_id:
        raise PermanentError("pool.gift_received without a pledge_id")
    if await gifts.gifts.get(tx, pledge_id) is not None:
        return
    pool = await matching.pools.get(tx, str(data.get("pool_id", "")))
    problem = domain.gift_problem(pool, data)
    if problem is not None:
        raise PermanentError(problem)
    assert pool is not None
    amount = int(data["amount"])
    await gifts.gifts.insert(
        tx,
        {
            "_id": pledge_id,
            "pool_id": pool["_id"],
            "municipality": pool["municipality"],
            "amount": amount,
            "currency": pool["currency"],
            "payment_intent_id": data.get("payment_intent_id"),
            "received_at": utcnow(),
        },
    )
    # Rewriting the pool makes a commitment checking its budget meanwhile conflict and retry.
    await matching.pools.patch(
        tx,
        pool["_id"],
        {"gifts_received": int(pool.get("gifts_received", 0)) + amount, "rev": int(pool.get("rev", 0)) + 1},
    )
