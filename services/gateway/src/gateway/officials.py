"""Municipal roles for tokens, kept from endorsements' `official.*` events (the use case the
handlers call). Events may come twice or out of order: per (user, municipality) the state set by
the latest event time wins (domain.apply_official_event); the next login or refresh puts it in
the token."""

from __future__ import annotations

from datetime import datetime

from servicekit.mongo import Tx

from .domain import apply_official_event
from .store import AccountStore


async def record_official_event(
    tx: Tx, user_id: str, municipality: str, appointed: bool, role: str | None, at: datetime
) -> None:
    store = AccountStore(tx.db)
    current = await store.official_state(tx, user_id, municipality)
    new = apply_official_event(current, appointed, role, at)
    if new is not None:
        await store.put_official_state(tx, user_id, municipality, new, existed=current is not None)
