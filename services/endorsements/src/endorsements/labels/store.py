"""The `labels` collection (called `endorsements` before; `store.migrate` moves old data over)."""

from __future__ import annotations

from ..store import Collection, Doc, Source
from .domain import OPEN_STATUSES

labels = Collection("labels")
get = labels.get
insert = labels.insert
patch = labels.patch


async def open_in_city(src: Source, slug: str) -> list[Doc]:
    return await labels.find(src, {"municipality": slug, "status": {"$in": list(OPEN_STATUSES)}})


async def granted_in_city(src: Source, slug: str) -> list[Doc]:
    return await labels.find(src, {"municipality": slug, "status": "granted"}, sort=[("_id", 1)])


async def granted_for_campaign(src: Source, campaign_id: str) -> list[Doc]:
    return await labels.find(src, {"campaign_id": campaign_id, "status": "granted"})


async def of_campaign(src: Source, campaign_id: str) -> list[Doc]:
    """Every label asked for or opened for a campaign, in any status, in any city."""
    return await labels.find(src, {"campaign_id": campaign_id})
