"""Use cases: keep the recipients projection (who people are, what they follow or back, who
the cities' officials are) from other services' events. Order tolerant: users, follows and
officials keep the newest by event time, campaigns the highest version."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from servicekit.mongo import Tx

from . import store

CONTACT_FIELDS = ("email", "display_name", "locale", "postcode")


async def user_changed(tx: Tx, data: Mapping[str, Any], at: datetime) -> None:
    fields = {k: data[k] for k in CONTACT_FIELDS if k in data}
    await store.upsert_user(tx, data["user_id"], fields, at)


async def user_deleted(tx: Tx, user_id: str, at: datetime) -> None:
    """Keeps a tombstone; drops the inbox and preferences."""
    await store.forget_user(tx, user_id, at)


async def municipality_registered(tx: Tx, slug: str, name: str, postcodes: list[Any]) -> None:
    await store.upsert_municipality(tx, slug, name, [str(p) for p in postcodes])


async def official_changed(
    tx: Tx, municipality: str, user_id: str, role: str | None, active: bool, at: datetime
) -> None:
    await store.set_official(tx, municipality, user_id, role, active, at)


async def campaign_changed(tx: Tx, data: dict[str, Any]) -> None:
    await store.upsert_campaign(tx, data)


async def follow_changed(tx: Tx, campaign_id: str, user_id: str, following: bool, at: datetime) -> None:
    await store.set_follow(tx, campaign_id, user_id, following, at)


async def backed(tx: Tx, campaign_id: str, user_id: str, at: datetime) -> None:
    await store.add_backer(tx, campaign_id, user_id, at)
