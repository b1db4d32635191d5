"""The endorsements database: collections, indexes, the one write idiom, and the reads every
feature shares (cities, officials, subscriptions, and the projections of other services' facts).

Each feature package's `store.py` holds the reads and writes of the collections only it owns;
nothing else in the service touches the database. Writes take the use case's `Tx`; reads take a
`Tx` (inside a transaction) or the database (outside one).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from servicekit.errors import DomainError
from servicekit.mongo import Index, Tx, utcnow

from .municipalities.domain import Territory
from .officials.domain import subscription_active

Source = Tx | AsyncDatabase
Doc = dict[str, Any]

INDEXES = [
    Index("municipalities", [("slug", 1)], unique=True),
    Index("subscriptions", [("municipality", 1)]),
    Index("officials", [("municipality", 1)]),
    Index("officials", [("user_id", 1)]),
    Index("invitations", [("digest", 1)], unique=True),
    Index("users", [("email", 1)]),
    Index("campaigns", [("municipality", 1)]),
    Index("campaigns", [("postcode", 1)]),
    Index("campaigns", [("lat", 1), ("lon", 1)]),
    Index("labels", [("open_key", 1)], unique=True),
    Index("labels", [("municipality", 1), ("status", 1)]),
    Index("labels", [("campaign_id", 1)]),
    Index("pools", [("municipality", 1), ("name", 1), ("year", 1)], unique=True),
    Index("commitments", [("campaign_id", 1), ("status", 1)]),
    Index("commitments", [("pool_id", 1)]),
    Index("commitments", [("label_id", 1)]),
    Index("contributions", [("campaign_id", 1)]),
    Index("match_applications", [("commitment_id", 1), ("backer_id", 1)]),
    Index("calls", [("municipality", 1), ("status", 1)]),
    Index("proposals", [("call_id", 1)]),
    Index("proposals", [("campaign_id", 1)]),
    Index("proposals", [("proposer_id", 1)]),
    Index("votes", [("voter_id", 1)]),
    Index("votes", [("call_id", 1), ("voter_id", 1)]),
    Index("ballots", [("call_id", 1), ("status", 1)]),
    Index("ballots", [("voter_id", 1)]),
]
COLLECTIONS = [
    "municipalities", "subscriptions", "officials", "invitations", "campaigns", "users",
    "labels", "pools", "commitments", "contributions", "match_applications",
    "calls", "proposals", "votes", "ballots", "idempotency",
]  # fmt: skip


def split(src: Source) -> tuple[AsyncDatabase, AsyncClientSession | None]:
    """The database and session of a read source."""
    return (src.db, src.session) if isinstance(src, Tx) else (src, None)


async def find_one(src: Source, collection: str, query: Doc, projection: Doc | None = None) -> Doc | None:
    db, session = split(src)
    return await db[collection].find_one(query, projection, session=session)


async def find(
    src: Source, collection: str, query: Doc, sort: list[tuple[str, int]] | None = None, limit: int = 0
) -> list[Doc]:
    db, session = split(src)
    cursor = db[collection].find(query, session=session)
    if sort:
        cursor = cursor.sort(sort)
    if limit:
        cursor = cursor.limit(limit)
    return [doc async for doc in cursor]


# The write idiom: whole documents, by _id. nx-27017 turns a top-level `$set` datetime into a
# naive string and a boolean into 1, and drops `$setOnInsert`; a whole-document replace keeps
# the types and behaves the same on MongoDB.


async def insert(tx: Tx, collection: str, doc: Doc) -> Doc:
    """Insert; a unique index refusing it raises DuplicateKeyError for the use case to name."""
    await tx.db[collection].insert_one(doc, session=tx.session)
    return doc


async def put(tx: Tx, collection: str, doc: Doc) -> Doc:
    """Insert or replace by _id (no upsert, which nx-27017 handles partially)."""
    if await tx.db[collection].find_one({"_id": doc["_id"]}, {"_id": 1}, session=tx.session) is None:
        await tx.db[collection].insert_one(doc, session=tx.session)
    else:
        await tx.db[collection].replace_one({"_id": doc["_id"]}, doc, session=tx.session)
    return doc


async def patch(tx: Tx, collection: str, doc_id: str, changes: Doc) -> Doc:
    """Change fields of one document by replacing it whole; returns the new document."""
    doc = await tx.db[collection].find_one({"_id": doc_id}, session=tx.session)
    if doc is None:
        raise LookupError(f"{collection}/{doc_id} vanished inside its transaction")
    doc.update(changes)
    await tx.db[collection].replace_one({"_id": doc_id}, doc, session=tx.session)
    return doc


async def delete(tx: Tx, collection: str, doc_id: str) -> None:
    await tx.db[collection].delete_one({"_id": doc_id}, session=tx.session)


@dataclass(frozen=True)
class Collection:
    """One collection with the write idiom above, for the feature stores."""

    name: str

    async def get(self, src: Source, doc_id: str) -> Doc | None:
        return await find_one(src, self.name, {"_id": doc_id})

    async def find_one(self, src: Source, query: Doc) -> Doc | None:
        return await find_one(src, self.name, query)

    async def find(
        self, src: Source, query: Doc, sort: list[tuple[str, int]] | None = None, limit: int = 0
    ) -> list[Doc]:
        return await find(src, self.name, query, sort, limit)

    async def insert(self, tx: Tx, doc: Doc) -> Doc:
        return await insert(tx, self.name, doc)

    async def put(self, tx: Tx, doc: Doc) -> Doc:
        return await put(tx, self.name, doc)

    async def patch(self, tx: Tx, doc_id: str, changes: Doc) -> Doc:
        return await patch(tx, self.name, doc_id, changes)

    async def delete(self, tx: Tx, doc_id: str) -> None:
        await delete(tx, self.name, doc_id)


# The collections every feature shares.
municipalities = Collection("municipalities")
subscriptions = Collection("subscriptions")
officials = Collection("officials")
invitations = Collection("invitations")
campaigns = Collection("campaigns")
users = Collection("users")
contributions = Collection("contributions")

# Cities, officials and subscriptions: every feature authorises with them.


async def find_municipality(src: Source, slug: str) -> Doc | None:
    return await municipalities.find_one(src, {"slug": slug})


async def municipality(src: Source, slug: str) -> Doc:
    doc = await find_municipality(src, slug)
    if doc is None:
        raise DomainError("municipality_not_found", 404, f"no municipality {slug!r}")
    return doc


async def all_municipalities(src: Source, limit: int) -> list[Doc]:
    return await municipalities.find(src, {}, sort=[("slug", 1)], limit=limit)


def territory_of(muni: Doc) -> Territory:
    return Territory.build(muni.get("postcodes"), muni.get("polygon_json"))


async def official(src: Source, slug: str, user_id: str) -> Doc | None:
    return await officials.get(src, f"{slug}|{user_id}")


async def official_role(src: Source, slug: str, user_id: str) -> str | None:
    doc = await official(src, slug, user_id)
    return doc["role"] if doc else None


async def officials_of(src: Source, slug: str) -> list[Doc]:
    return await officials.find(src, {"municipality": slug}, sort=[("_id", 1)])


async def roles_of_user(src: Source, user_id: str) -> list[Doc]:
    return await officials.find(src, {"user_id": user_id})


async def invitation_by_digest(src: Source, digest: str) -> Doc | None:
    return await invitations.find_one(src, {"digest": digest})


async def city_active(src: Source, muni: Doc, now: datetime) -> bool:
    subs = await subscriptions.find(src, {"municipality": muni["slug"]})
    return subscription_active(muni.get("trial_until"), subs, now)


# Projections of other services' facts (campaigns, payments, users).


async def campaign(src: Source, campaign_id: str) -> Doc | None:
    return await campaigns.get(src, campaign_id)


async def campaigns_in_territory(src: Source, muni: Doc, query: Doc | None = None) -> list[Doc]:
    """Campaigns naming the city, in its postcodes, or inside its polygon (bbox range query on
    indexed lat/lon, exact test in code: nx-27017 has no $geoWithin)."""
    territory = territory_of(muni)
    ors: list[Doc] = [{"municipality": muni["slug"]}]
    if territory.postcodes:
        ors.append({"postcode": {"$in": sorted(territory.postcodes)}})
    if (bbox := territory.bbox) is not None:
        ors.append({"lon": {"$gte": bbox[0], "$lte": bbox[2]}, "lat": {"$gte": bbox[1], "$lte": bbox[3]}})
    found = await campaigns.find(src, {"$and": [{"$or": ors}, query or {}]}, sort=[("_id", 1)])
    return [
        c
        for c in found
        if c.get("municipality") == muni["slug"]
        or territory.contains(c.get("postcode"), c.get("lat"), c.get("lon"))
    ]


async def user(src: Source, user_id: str) -> Doc | None:
    return await users.get(src, user_id)


async def user_by_email(src: Source, email: str) -> Doc | None:
    return await users.find_one(src, {"email": email.strip().lower()})


async def contribution(src: Source, payment_id: str) -> Doc | None:
    return await contributions.get(src, payment_id)


async def charged_contributions(src: Source, campaign_ids: list[str]) -> list[Doc]:
    """Charged and not refunded, oldest first (first come, first served)."""
    found = await contributions.find(
        src,
        {"campaign_id": {"$in": campaign_ids}, "succeeded": True},
        sort=[("succeeded_at", 1), ("_id", 1)],
    )
    # nx-27017 stores a $set True as 1: filter the flag in code rather than with $ne.
    return [c for c in found if not bool(c.get("refunded"))]


async def event_time(src: Source, collection: str, key: str) -> datetime | None:
    """When the last event we applied for `key` happened (events may arrive out of order)."""
    doc = await find_one(src, collection, {"_id": key}, {"event_time": 1})
    return doc["event_time"] if doc else None


async def migrate(db: AsyncDatabase) -> None:
    """Start-up migration from the older vocabulary: labels lived in `endorsements` and
    commitments named theirs `endorsement_id`. Idempotent and safe for replicas starting
    together (copies by _id, duplicates skipped), so it can stay until every deployment ran it."""
    if "endorsements" in await db.list_collection_names():
        async for doc in db.endorsements.find({}):
            if await db.labels.find_one({"_id": doc["_id"]}, {"_id": 1}) is None:
                with contextlib.suppress(DuplicateKeyError):  # another replica copied it first
                    await db.labels.insert_one(doc)
        await db.endorsements.drop()
    async for c in db.commitments.find({"endorsement_id": {"$exists": True}}):
        c["label_id"] = c.pop("endorsement_id")
        await db.commitments.replace_one({"_id": c["_id"]}, c)
    # Older Idempotency-Key records have no creation time, so the TTL index would never expire them.
    async for r in db.idempotency.find({"created_at": {"$exists": False}}):
        await db.idempotency.replace_one({"_id": r["_id"]}, {**r, "created_at": utcnow()})
