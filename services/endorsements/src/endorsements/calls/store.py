"""Calls, proposals and votes."""

from __future__ import annotations

from servicekit.errors import DomainError

from ..store import Collection, Doc, Source, split

calls = Collection("calls")
proposals = Collection("proposals")
votes = Collection("votes")


async def call(src: Source, call_id: str) -> Doc:
    doc = await calls.get(src, call_id)
    if doc is None:
        raise DomainError("call_not_found", 404, "no such call for projects")
    return doc


async def calls_of(src: Source, slug: str, status: str | None = None) -> list[Doc]:
    query = {"municipality": slug} | ({"status": status} if status else {})
    return await calls.find(src, query, sort=[("_id", 1)])


async def proposal_for_campaign(src: Source, campaign_id: str) -> Doc | None:
    return await proposals.find_one(src, {"campaign_id": campaign_id})


async def proposals_of(src: Source, call_id: str, statuses: list[str] | None = None) -> list[Doc]:
    query: Doc = {"call_id": call_id}
    if statuses is not None:
        query["status"] = {"$in": statuses}
    return await proposals.find(src, query, sort=[("_id", 1)])


async def proposals_by(src: Source, proposer_id: str) -> list[Doc]:
    return await proposals.find(src, {"proposer_id": proposer_id})


async def votes_of_call(src: Source, call_id: str) -> list[Doc]:
    return await votes.find(src, {"call_id": call_id})


async def votes_by(src: Source, voter_id: str, call_id: str | None = None) -> list[Doc]:
    query = {"voter_id": voter_id} | ({"call_id": call_id} if call_id else {})
    return await votes.find(src, query)


# Ballots of a participatory budget: one per resident per call (`{call}|{voter}`), and paper
# ballots (`pb_...`, no voter) in the same collection so a count reads one collection.
ballots = Collection("ballots")


async def ballot(src: Source, call_id: str, voter_id: str) -> Doc | None:
    return await ballots.get(src, f"{call_id}|{voter_id}")


async def counted_ballots(src: Source, call_id: str, skip: int = 0, limit: int = 0) -> list[Doc]:
    """The counted ballots of a call, only the fields a count needs (a page: in _id order)."""
    db, session = split(src)
    cursor = db[ballots.name].find(
        {"call_id": call_id, "status": "counted"},
        {"counted": 1, "channel": 1, "postcode": 1, "voter_id": 1},
        session=session,
    )
    if limit:
        cursor = cursor.sort([("_id", 1)]).skip(skip).limit(limit)
    return [doc async for doc in cursor]


async def ballots_by(src: Source, voter_id: str) -> list[Doc]:
    return await ballots.find(src, {"voter_id": voter_id})


async def ballot_groups(src: Source, call_id: str, slices: int) -> list[Doc]:
    """The counted ballots grouped by their proposals (`key`), with how many there are and the
    sums of their fingerprints: one `$group` the datastore runs, however many ballots."""
    db, session = split(src)
    sums = {f"f{i}": {"$sum": f"$f{i}"} for i in range(slices)}
    pipeline = [
        {"$match": {"call_id": call_id, "status": "counted"}},
        {"$group": {"_id": "$key", "n": {"$sum": 1}, **sums}},
    ]
    return [doc async for doc in await db[ballots.name].aggregate(pipeline, session=session)]


async def ballot_counts(src: Source, call_id: str, by: str, channel: str | None = None) -> dict[str, int]:
    """How many counted ballots per value of `by` (channel, postcode), of one channel or all."""
    db, session = split(src)
    match: Doc = {"call_id": call_id, "status": "counted"} | ({"channel": channel} if channel else {})
    pipeline = [{"$match": match}, {"$group": {"_id": f"${by}", "n": {"$sum": 1}}}]
    cursor = await db[ballots.name].aggregate(pipeline, session=session)
    return {str(doc["_id"]): int(doc["n"]) async for doc in cursor}
