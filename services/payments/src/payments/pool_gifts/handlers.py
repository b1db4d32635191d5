"""pool.updated (endorsements) -> the pools projection, on its own queue."""

from __future__ import annotations

from servicekit.bus import Handlers
from servicekit.events import Event
from servicekit.mongo import Tx

from . import usecases

handlers = Handlers("payments.pools")


@handlers.on("pool.updated")
async def on_pool_updated(event: Event, tx: Tx) -> None:
    await usecases.pool_updated(tx, event.data)
