"""Calls, proposals and votes."""

from __future__ import annotations

from servicekit.errors import DomainError

from ..store import Collection, Doc, Source

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
