"""match.* events and calls' awards -> the city's dues (its own queue, apart from the ledger's match
handlers)."""

from __future__ import annotations

from servicekit.bus import Handlers
from servicekit.events import Event
from servicekit.mongo import Tx

from . import usecases

handlers = Handlers("payments.city_dues")


@handlers.on("match.committed")
async def on_committed(event: Event, tx: Tx) -> None:
    await usecases.committed(tx, event.data)


@handlers.on("match.canceled")
async def on_canceled(event: Event, tx: Tx) -> None:
    await usecases.canceled(tx, event.data)


@handlers.on("match.due")
async def on_due(event: Event, tx: Tx) -> None:
    await usecases.due(tx, event.data)


@handlers.on("call.proposal_selected")
async def on_award(event: Event, tx: Tx) -> None:
    await usecases.award_selected(tx, event.data)
