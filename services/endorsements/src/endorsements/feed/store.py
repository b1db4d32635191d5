"""The `public_feed` collection: every public event of a city, exactly as `civicfund.public`
carries it, numbered per city in commit order. Rows are written in the transaction that emits
the event, so the feed holds what was committed and nothing else.

The number comes from a per-city counter document written in the same transaction: two
transactions of one city both write it, so MongoDB lets the second commit only after the first
(a write conflict, retried by `Mongo.transact`; nx-27017 serialises transactions anyway). A
reader who has seen number n therefore never sees a smaller number appear later, which is what
makes `after=<cursor>` a stable cursor."""

from __future__ import annotations

from servicekit.events import Event
from servicekit.mongo import Index, Tx

from ..store import Collection, Doc, Source, put

INDEXES = [Index("public_feed", [("municipality", 1), ("seq", 1)], unique=True)]
COLLECTIONS = ["public_feed", "public_feed_counters"]

feed = Collection("public_feed")
counters = Collection("public_feed_counters")


async def append(tx: Tx, slug: str, routing_key: str, event: Event) -> int:
    counter = await counters.get(tx, slug)
    seq = int(counter["seq"]) + 1 if counter else 1
    await put(tx, "public_feed_counters", {"_id": slug, "seq": seq})
    await feed.insert(
        tx,
        {
            "_id": event.id,
            "municipality": slug,
            "seq": seq,
            "routing_key": routing_key,
            # The body as published (the relay sends this very serialisation).
            "body": event.to_json().decode(),
        },
    )
    return seq


async def after(src: Source, slug: str, seq: int, limit: int) -> list[Doc]:
    return await feed.find(src, {"municipality": slug, "seq": {"$gt": seq}}, sort=[("seq", 1)], limit=limit)
