"""Municipal roles for tokens, kept from endorsements' `official.*` events (queue
`gateway.officials`). Events may come twice or out of order: per (user, municipality) the state
set by the latest event time wins; the next login or refresh puts it in the token."""

from __future__ import annotations

from servicekit.bus import Handlers, PermanentError
from servicekit.events import Event
from servicekit.mongo import Tx

from .domain import apply_official_event
from .store import AccountStore

handlers = Handlers("gateway.officials")


async def _apply(event: Event, tx: Tx, appointed: bool) -> None:
    user_id, municipality = event.data.get("user_id"), event.data.get("municipality")
    role = event.data.get("role")
    if not isinstance(user_id, str) or not user_id or not isinstance(municipality, str) or not municipality:
        raise PermanentError("official event without user_id or municipality")
    if appointed and role not in ("reviewer", "manager"):
        raise PermanentError(f"unknown municipal role {role!r}")
    store = AccountStore(tx.db)
    current = await store.official_state(tx, user_id, municipality)
    new = apply_official_event(current, appointed, role, event.time)
    if new is not None:
        await store.put_official_state(tx, user_id, municipality, new, existed=current is not None)


@handlers.on("official.appointed")
async def official_appointed(event: Event, tx: Tx) -> None:
    await _apply(event, tx, appointed=True)


@handlers.on("official.removed")
async def official_removed(event: Event, tx: Tx) -> None:
    await _apply(event, tx, appointed=False)
