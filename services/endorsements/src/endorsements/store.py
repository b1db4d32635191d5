"""The endorsements database: collections, indexes and the reads several modules share.

Writes happen in the api_*/handlers modules, always inside `ctx.mongo.transact`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from servicekit.errors import ApiError
from servicekit.mongo import Index, Tx

from .domain_officials import subscription_active
from .domain_territory import Territory

INDEXES = [
    Index("municipalities", [("slug", 1)], unique=True),
    Index("subscriptions", [("municipality", 1)]),
    Index("officials", [("municipality", 1)]),
    Index("officials", [("user_id", 1)]),
    Index("invitations", [("digest", 1)], unique=True),
    Index("campaigns", [("municipality", 1)]),
    Index("campaigns", [("postcode", 1)]),
    Index("campaigns", [("lat", 1), ("lon", 1)]),
    Index("endorsements", [("open_key", 1)], unique=True),
    Index("endorsements", [("municipality", 1), ("status", 1)]),
    Index("endorsements", [("campaign_id", 1)]),
    Index("pools", [("municipality", 1), ("name", 1), ("year", 1)], unique=True),
    Index("commitments", [("campaign_id", 1), ("status", 1)]),
    Index("commitments", [("pool_id", 1)]),
    Index("commitments", [("endorsement_id", 1)]),
    Index("contributions", [("campaign_id", 1)]),
    Index("match_applications", [("commitment_id", 1), ("backer_id", 1)]),
    Index("calls", [("municipality", 1), ("status", 1)]),
    Index("proposals", [("call_id", 1)]),
    Index("proposals", [("campaign_id", 1)]),
    Index("proposals", [("proposer_id", 1)]),
    Index("votes", [("voter_id", 1)]),
    Index("votes", [("call_id", 1), ("voter_id", 1)]),
]
COLLECTIONS = [
    "municipalities", "subscriptions", "officials", "invitations", "campaigns", "users",
    "endorsements", "pools", "commitments", "contributions", "match_applications",
    "calls", "proposals", "votes", "idempotency",
]  # fmt: skip


async def municipality(db: AsyncDatabase, slug: str, session: Any = None) -> dict[str, Any]:
    doc = await db.municipalities.find_one({"slug": slug}, session=session)
    if doc is None:
        raise ApiError(404, "municipality_not_found", f"no municipality {slug!r}")
    return doc


def territory_of(muni: dict[str, Any]) -> Territory:
    return Territory.build(muni.get("postcodes"), muni.get("polygon_json"))


async def official_role(db: AsyncDatabase, slug: str, user_id: str, session: Any = None) -> str | None:
    doc = await db.officials.find_one({"_id": f"{slug}|{user_id}"}, session=session)
    return doc["role"] if doc else None


async def city_active(db: AsyncDatabase, muni: dict[str, Any], now: datetime, session: Any = None) -> bool:
    subs = [s async for s in db.subscriptions.find({"municipality": muni["slug"]}, session=session)]
    return subscription_active(muni.get("trial_until"), subs, now)


async def campaigns_in_territory(
    db: AsyncDatabase, muni: dict[str, Any], query: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Campaigns naming the city, in its postcodes, or inside its polygon (bbox range query on
    indexed lat/lon, exact test in code: nx-27017 has no $geoWithin)."""
    territory = territory_of(muni)
    ors: list[dict[str, Any]] = [{"municipality": muni["slug"]}]
    if territory.postcodes:
        ors.append({"postcode": {"$in": sorted(territory.postcodes)}})
    if (bbox := territory.bbox) is not None:
        ors.append({"lon": {"$gte": bbox[0], "$lte": bbox[2]}, "lat": {"$gte": bbox[1], "$lte": bbox[3]}})
    found = db.campaigns.find({"$and": [{"$or": ors}, query or {}]}).sort("_id", 1)
    out = []
    async for c in found:
        if c.get("municipality") == muni["slug"] or territory.contains(
            c.get("postcode"), c.get("lat"), c.get("lon")
        ):
            out.append(c)
    return out


def request_fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


async def idempotent(
    tx: Tx, scope: str, key: str | None, fingerprint: str, fn: Callable[[], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """Run a money-moving write once per Idempotency-Key; a retry gets the first answer back.

    The record is written in the same transaction as the change, so a crash leaves neither."""
    if not key:
        raise ApiError(400, "idempotency_key_required", "this endpoint needs an Idempotency-Key header")
    if len(key) > 200:
        raise ApiError(400, "bad_idempotency_key", "Idempotency-Key is at most 200 characters")
    rid = f"{scope}|{key}"
    seen = await tx.db.idempotency.find_one({"_id": rid}, session=tx.session)
    if seen is not None:
        if seen["fingerprint"] != fingerprint:
            raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used for another request")
        return json.loads(seen["response"])
    result = await fn()
    try:
        await tx.db.idempotency.insert_one(
            {"_id": rid, "fingerprint": fingerprint, "response": json.dumps(result, default=str)},
            session=tx.session,
        )
    except DuplicateKeyError as exc:
        raise ApiError(409, "concurrent_request", "the same request is being processed") from exc
    return result


async def put(tx: Tx, collection: str, doc: dict[str, Any]) -> None:
    """Insert or replace by _id (portable: no upsert, which nx-27017 handles partially)."""
    if await tx.db[collection].find_one({"_id": doc["_id"]}, {"_id": 1}, session=tx.session) is None:
        await tx.db[collection].insert_one(doc, session=tx.session)
    else:
        await tx.db[collection].replace_one({"_id": doc["_id"]}, doc, session=tx.session)


async def patch(tx: Tx, collection: str, doc_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change fields of one document by replacing it whole. nx-27017 turns a top-level `$set`
    datetime into a naive string and a boolean into 1; a replace keeps both types."""
    doc = await tx.db[collection].find_one({"_id": doc_id}, session=tx.session)
    if doc is None:
        raise LookupError(f"{collection}/{doc_id} vanished inside its transaction")
    doc.update(changes)
    await tx.db[collection].replace_one({"_id": doc_id}, doc, session=tx.session)
    return doc
