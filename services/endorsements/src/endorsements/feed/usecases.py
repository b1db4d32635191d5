"""Reading a city's public events after a cursor, oldest first."""

from __future__ import annotations

import json

from servicekit.mongo import Mongo

from ..access import CityOfficial
from . import store
from .models import FeedItem, FeedOut


async def read(mongo: Mongo, reader: CityOfficial, after: int, limit: int) -> FeedOut:
    rows = await store.after(mongo.db, reader.slug, after, limit + 1)
    page = rows[:limit]
    items = [
        FeedItem(cursor=str(r["seq"]), routing_key=r["routing_key"], event=json.loads(r["body"]))
        for r in page
    ]
    return FeedOut(
        items=items,
        next_cursor=items[-1].cursor if items else str(after),
        has_more=len(rows) > limit,
    )
