"""Endorsements' `official.*` events (queue `gateway.officials`) -> the municipal-roles use case
(officials.py). Here only the event's shape is checked; a malformed one is parked."""

from __future__ import annotations

from servicekit.bus import Handlers, PermanentError
from servicekit.events import Event
from servicekit.mongo import Tx

from .officials import record_official_event

handlers = Handlers("gateway.officials")


async def _apply(event: Event, tx: Tx, appointed: bool) -> None:
    user_id, municipality = event.data.get("user_id"), event.data.get("municipality")
    role = event.data.get("role")
    if not isinstance(user_id, str) or not user_id or not isinstance(municipality, str) or not municipality:
        raise PermanentError("official event without user_id or municipality")
    if appointed and role not in ("reviewer", "manager"):
        raise PermanentError(f"unknown municipal role {role!r}")
    await record_official_event(tx, user_id, municipality, appointed, role, event.time)


@handlers.on("official.appointed")
async def official_appointed(event: Event, tx: Tx) -> None:
    await _apply(event, tx, appointed=True)


@handlers.on("official.removed")
async def official_removed(event: Event, tx: Tx) -> None:
    await _apply(event, tx, appointed=False)
