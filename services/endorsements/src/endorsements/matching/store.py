"""Pools, commitments and match applications (one record per matched contribution)."""

from __future__ import annotations

from servicekit.mongo import Tx

from .. import store
from ..store import Collection, Doc, Source

pools = Collection("pools")
commitments = Collection("commitments")
applications = Collection("match_applications")


async def pools_of(src: Source, slug: str) -> list[Doc]:
    return await pools.find(src, {"municipality": slug}, sort=[("_id", 1)])


async def touch_pool(tx: Tx, pool: Doc) -> None:
    """Rewrite the pool, so that two concurrent commitments on a replica set conflict (one
    retries and then sees the other's reservation) instead of both passing the budget check."""
    await pools.patch(tx, pool["_id"], {"rev": int(pool.get("rev", 0)) + 1})


async def commitments_of_pool(src: Source, pool_id: str) -> list[Doc]:
    return await commitments.find(src, {"pool_id": pool_id})


async def commitments_of_campaign(src: Source, campaign_id: str) -> list[Doc]:
    return await commitments.find(src, {"campaign_id": campaign_id}, sort=[("_id", 1)])


async def active_commitments(src: Source, campaign_id: str) -> list[Doc]:
    return await commitments.find(src, {"campaign_id": campaign_id, "status": "active"}, sort=[("_id", 1)])


async def commitments_of_city(src: Source, slug: str) -> list[Doc]:
    return await commitments.find(src, {"municipality": slug})


async def applications_for_backer(src: Source, commitment_id: str, backer_id: str) -> int:
    db, session = store.split(src)
    # A find with a projection, not count_documents: nx-27017 then fails the transaction's commit.
    found = db.match_applications.find(
        {"commitment_id": commitment_id, "backer_id": backer_id}, {"_id": 1}, session=session
    )
    return len([a async for a in found])
