"""Calls, proposals and votes."""

from __future__ import annotations

from typing import Any

from servicekit.errors import DomainError
from servicekit.mongo import Tx

from .. import store
from ..store import Doc, Source


async def call(src: Source, call_id: str) -> Doc:
    doc = await store.find_one(src, "calls", {"_id": call_id})
    if doc is None:
        raise DomainError("call_not_found", 404, "no such call for projects")
    return doc


async def find_call(src: Source, call_id: str) -> Doc | None:
    return await store.find_one(src, "calls", {"_id": call_id})


async def calls_of(src: Source, slug: str, status: str | None = None) -> list[Doc]:
    query = {"municipality": slug} | ({"status": status} if status else {})
    return await store.find(src, "calls", query, sort=[("_id", 1)])


async def insert_call(tx: Tx, doc: Doc) -> Doc:
    return await store.insert(tx, "calls", doc)


async def patch_call(tx: Tx, call_id: str, changes: dict[str, Any]) -> Doc:
    return await store.patch(tx, "calls", call_id, changes)


async def proposal(src: Source, proposal_id: str) -> Doc | None:
    return await store.find_one(src, "proposals", {"_id": proposal_id})


async def proposal_for_campaign(src: Source, campaign_id: str) -> Doc | None:
    return await store.find_one(src, "proposals", {"campaign_id": campaign_id})


async def proposals_of(src: Source, call_id: str, statuses: list[str] | None = None) -> list[Doc]:
    query: Doc = {"call_id": call_id}
    if statuses is not None:
        query["status"] = {"$in": statuses}
    return await store.find(src, "proposals", query, sort=[("_id", 1)])


async def proposals_by(src: Source, proposer_id: str) -> list[Doc]:
    return await store.find(src, "proposals", {"proposer_id": proposer_id})


async def insert_proposal(tx: Tx, doc: Doc) -> Doc:
    return await store.insert(tx, "proposals", doc)


async def patch_proposal(tx: Tx, proposal_id: str, changes: dict[str, Any]) -> Doc:
    return await store.patch(tx, "proposals", proposal_id, changes)


async def vote(src: Source, vote_id: str) -> Doc | None:
    return await store.find_one(src, "votes", {"_id": vote_id})


async def votes_of_call(src: Source, call_id: str) -> list[Doc]:
    return await store.find(src, "votes", {"call_id": call_id})


async def votes_by(src: Source, voter_id: str, call_id: str | None = None) -> list[Doc]:
    query = {"voter_id": voter_id} | ({"call_id": call_id} if call_id else {})
    return await store.find(src, "votes", query)


async def insert_vote(tx: Tx, doc: Doc) -> Doc:
    return await store.insert(tx, "votes", doc)


async def delete_vote(tx: Tx, vote_id: str) -> None:
    await store.delete(tx, "votes", vote_id)
