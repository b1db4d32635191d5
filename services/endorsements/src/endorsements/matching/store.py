"""Pools, commitments and match applications (one record per matched contribution)."""

from __future__ import annotations

from typing import Any

from servicekit.mongo import Tx

from .. import store
from ..store import Doc, Source


async def pool(src: Source, pool_id: str) -> Doc | None:
    return await store.find_one(src, "pools", {"_id": pool_id})


async def pools_of(src: Source, slug: str) -> list[Doc]:
    return await store.find(src, "pools", {"municipality": slug}, sort=[("_id", 1)])


async def insert_pool(tx: Tx, doc: Doc) -> Doc:
    return await store.insert(tx, "pools", doc)


async def touch_pool(tx: Tx, pool_doc: Doc) -> None:
    """Rewrite the pool, so that two concurrent commitments on a replica set conflict (one
    retries and then sees the other's reservation) instead of both passing the budget check."""
    await store.patch(tx, "pools", pool_doc["_id"], {"rev": int(pool_doc.get("rev", 0)) + 1})


async def commitment(src: Source, commitment_id: str) -> Doc | None:
    return await store.find_one(src, "commitments", {"_id": commitment_id})


async def commitments_of_pool(src: Source, pool_id: str) -> list[Doc]:
    return await store.find(src, "commitments", {"pool_id": pool_id})


async def commitments_of_campaign(src: Source, campaign_id: str) -> list[Doc]:
    return await store.find(src, "commitments", {"campaign_id": campaign_id}, sort=[("_id", 1)])


async def active_commitments(src: Source, campaign_id: str) -> list[Doc]:
    return await store.find(
        src, "commitments", {"campaign_id": campaign_id, "status": "active"}, sort=[("_id", 1)]
    )


async def commitments_of_city(src: Source, slug: str) -> list[Doc]:
    return await store.find(src, "commitments", {"municipality": slug})


async def insert_commitment(tx: Tx, doc: Doc) -> Doc:
    return await store.insert(tx, "commitments", doc)


async def patch_commitment(tx: Tx, commitment_id: str, changes: dict[str, Any]) -> Doc:
    return await store.patch(tx, "commitments", commitment_id, changes)


async def application(src: Source, application_id: str) -> Doc | None:
    return await store.find_one(src, "match_applications", {"_id": application_id})


async def applications_for_backer(src: Source, commitment_id: str, backer_id: str) -> int:
    db, session = store.split(src)
    # A find, not count_documents: nx-27017 then fails the transaction's commit.
    found = db.match_applications.find(
        {"commitment_id": commitment_id, "backer_id": backer_id}, {"_id": 1}, session=session
    )
    return len([a async for a in found])


async def insert_application(tx: Tx, doc: Doc) -> Doc:
    return await store.insert(tx, "match_applications", doc)
