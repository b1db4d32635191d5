"""Proposals to a call: citizens submit, officials shortlist with notes."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from servicekit.auth import Principal, current_principal
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import store
from .access import ctx_of, db_of, require_official
from .api_calls import load_call
from .domain_calls import (
    eligibility_refusal,
    submission_refusal,
)
from .events_out import emit_with_public, proposal_data
from .fields import Category, Id, Money

router = APIRouter(tags=["calls for projects"])


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=3, max_length=140)
    summary: str = Field(min_length=10, max_length=5000)
    category: Category | None = None
    requested_amount: Money
    goal: Money | None = Field(default=None, description="the campaign goal if it becomes a campaign")
    postcode: str = Field(pattern=r"^[A-Za-z0-9 -]{2,10}$")
    campaign_id: Id | None = Field(default=None, description="a campaign draft this proposal stands for")


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)


def proposal_out(p: dict[str, Any], votes: int | None = None) -> dict[str, Any]:
    keys = ("call_id", "title", "summary", "category", "requested_amount", "goal", "postcode", "campaign_id",
            "status", "note", "award", "submitted_at")  # fmt: skip
    out = {"id": p["_id"], **{k: p.get(k) for k in keys}}
    if votes is not None:
        out["votes"] = votes
    return out


@router.post("/calls/{call_id}/proposals", status_code=201)
async def submit_proposal(
    call_id: Id, body: ProposalIn, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    db = db_of(request)
    call = await load_call(db, call_id)
    muni = await store.municipality(db, call["municipality"])
    if refusal := submission_refusal(call, utcnow()):
        raise ApiError(409, "submissions_closed", refusal)
    in_territory = store.territory_of(muni).contains(body.postcode)
    if refusal := eligibility_refusal(call, body.category, in_territory):
        raise ApiError(422, "not_eligible", refusal)
    if body.campaign_id is not None:
        campaign = await db.campaigns.find_one({"_id": body.campaign_id})
        if campaign is None or campaign["owner_id"] != principal.sub:
            raise ApiError(422, "not_your_campaign", "campaign_id must be a campaign of yours")
        if await db.proposals.find_one({"campaign_id": body.campaign_id}) is not None:
            raise ApiError(409, "already_proposed", "this campaign is already a proposal")
    doc = {
        "_id": f"prp_{uuid.uuid4().hex}",
        "call_id": call_id,
        "municipality": call["municipality"],
        "proposer_id": principal.sub,
        **body.model_dump(),
        "postcode": body.postcode.strip().upper(),
        "status": "submitted",
        "note": "",
        "submitted_at": utcnow(),
    }

    async def work(tx: Tx) -> None:
        await tx.db.proposals.insert_one(doc, session=tx.session)
        emit_with_public(tx, call["municipality"], "call.proposal_submitted", doc["_id"], proposal_data(doc))

    await ctx_of(request).mongo.transact(work)  # type: ignore[union-attr]
    return proposal_out(doc)


@router.get("/calls/{call_id}/proposals")
async def list_proposals(call_id: Id, request: Request) -> dict[str, Any]:
    db = db_of(request)
    await load_call(db, call_id)
    return {"items": [proposal_out(p) async for p in db.proposals.find({"call_id": call_id}).sort("_id", 1)]}


@router.post("/proposals/{proposal_id}/shortlist")
async def shortlist_proposal(
    proposal_id: Id, body: NoteIn, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    db = db_of(request)
    proposal = await db.proposals.find_one({"_id": proposal_id})
    if proposal is None:
        raise ApiError(404, "proposal_not_found", "no such proposal")
    await require_official(db, principal, proposal["municipality"], "shortlist")

    async def work(tx: Tx) -> dict[str, Any]:
        p = await tx.db.proposals.find_one({"_id": proposal_id}, session=tx.session)
        call = await load_call(tx.db, p["call_id"], tx.session)  # type: ignore[index]
        if call["status"] != "open":
            raise ApiError(409, "call_not_open", f"the call is {call['status']}")
        if p["status"] != "submitted":  # type: ignore[index]
            raise ApiError(409, "bad_transition", f"the proposal is {p['status']}")  # type: ignore[index]
        changes = {"status": "shortlisted", "note": body.note, "shortlisted_by": principal.sub}
        await store.patch(tx, "proposals", proposal_id, changes)
        p = {**p, **changes}
        emit_with_public(tx, p["municipality"], "call.proposal_shortlisted", proposal_id, proposal_data(p))
        return p

    return proposal_out(await ctx_of(request).mongo.transact(work))  # type: ignore[union-attr]
