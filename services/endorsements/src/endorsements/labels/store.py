"""The `labels` collection (called `endorsements` before; `migrate` moves old data over)."""

from __future__ import annotations

from typing import Any

from servicekit.mongo import Tx

from .. import store
from ..store import Doc, Source
from .domain import OPEN_STATUSES

COLLECTION = "labels"


async def get(src: Source, label_id: str) -> Doc | None:
    return await store.find_one(src, COLLECTION, {"_id": label_id})


async def insert(tx: Tx, doc: Doc) -> Doc:
    return await store.insert(tx, COLLECTION, doc)


async def patch(tx: Tx, label_id: str, changes: dict[str, Any]) -> Doc:
    return await store.patch(tx, COLLECTION, label_id, changes)


async def open_in_city(src: Source, slug: str) -> list[Doc]:
    return await store.find(src, COLLECTION, {"municipality": slug, "status": {"$in": list(OPEN_STATUSES)}})


async def granted_in_city(src: Source, slug: str) -> list[Doc]:
    return await store.find(src, COLLECTION, {"municipality": slug, "status": "granted"}, sort=[("_id", 1)])


async def granted_for_campaign(src: Source, campaign_id: str) -> list[Doc]:
    return await store.find(src, COLLECTION, {"campaign_id": campaign_id, "status": "granted"})
