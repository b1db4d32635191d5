"""pool.gift_received (from payments) -> the pool's budget, on its own queue."""

from __future__ import annotations

from servicekit.bus import Handlers
from servicekit.events import Event
from servicekit.mongo import Tx

from . import usecases

handlers = Handlers("endorsements.pool_gifts")


@handlers.on("pool.gift_received")
async def on_gift_received(event: Event, tx: Tx) -> None:
    await usecases.gift_received(tx, event.data)
