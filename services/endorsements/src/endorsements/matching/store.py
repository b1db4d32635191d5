"""Pools, commitments and match applications (one record per matched contribution)."""

from __future__ import annotations

from servicekit.mongo import Tx, utcnow

from .. import store
from ..store import Collection, Doc, Source
from .domain import OPEN_STATUSES, Seen

pools = Collection("pools")
commitments = Collection("commitments")
applications = Collection("match_applications")
# One document per campaign with commitments, rewritten by the transactions that must not
# interleave (a campaign's end and a payment for it): on a replica set one then retries.
campaign_marks = Collection("match_campaigns")


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


async def open_commitments(src: Source, campaign_id: str) -> list[Doc]:
    """Active ones and those closing (the campaign ended, payments still coming)."""
    query = {"campaign_id": campaign_id, "status": {"$in": list(OPEN_STATUSES)}}
    return await commitments.find(src, query, sort=[("_id", 1)])


async def closing_commitments(src: Source, campaign_id: str) -> list[Doc]:
    return await commitments.find(src, {"campaign_id": campaign_id, "status": "closing"}, sort=[("_id", 1)])


async def touch_campaign(tx: Tx, campaign_id: str) -> None:
    await campaign_marks.put(tx, {"_id": campaign_id, "at": utcnow()})


async def recorded_payments(src: Source, campaign_id: str) -> Seen:
    """The campaign's payments known here to have succeeded, refunds not subtracted, as
    payments tallies them: a refund recorded before its success says the payment succeeded
    too; one taken after the tally (`after_deadline`) is not in it."""
    found = await store.contributions.find(src, {"campaign_id": campaign_id})
    # nx-27017 stores a $set True as 1: the flags are read in code.
    seen = [int(c["amount"]) for c in found
            if (bool(c.get("succeeded")) or bool(c.get("refunded"))) and not bool(c.get("after_deadline"))]  # fmt: skip
    return Seen(len(seen), sum(seen))


async def commitments_of_city(src: Source, slug: str) -> list[Doc]:
    return await commitments.find(src, {"municipality": slug})


async def applications_for_backer(src: Source, commitment_id: str, backer_id: str) -> int:
    db, session = store.split(src)
    # A find with a projection, not count_documents: nx-27017 then fails the transaction's commit.
    found = db.match_applications.find(
        {"commitment_id": commitment_id, "backer_id": backer_id}, {"_id": 1}, session=session
    )
    return len([a async for a in found])
