"""Calls for projects: a manager opens a call, moves its windows, closes it.

Proposals: api_proposals.py; votes, results and the selection of winners: api_call_results.py."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from servicekit.auth import Principal, current_principal
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import store
from .access import ctx_of, db_of, require_active, require_official
from .domain_calls import (
    CallRuleError,
    check_windows,
)
from .events_out import call_data, emit_with_public
from .fields import Category, Id, Money, Slug

router = APIRouter(tags=["calls for projects"])


class Eligibility(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: list[Category] = Field(default_factory=list, max_length=30)
    territory_only: bool = True


class CallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=3, max_length=140)
    theme: str = Field(default="", max_length=120)
    description: str = Field(default="", max_length=10_000)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    budget: Money
    max_award: Money
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    submission_opens_at: AwareDatetime
    submission_closes_at: AwareDatetime
    vote_opens_at: AwareDatetime | None = None
    vote_closes_at: AwareDatetime | None = None
    winners: int = Field(default=1, ge=1, le=200)
    selection_mode: Literal["jury", "vote", "jury_then_vote"] = "jury"
    votes_per_resident: int = Field(default=3, ge=1, le=50)


def call_out(c: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "municipality", "title", "theme", "description", "eligibility", "budget", "max_award", "currency",
        "submission_opens_at", "submission_closes_at", "vote_opens_at", "vote_closes_at", "winners",
        "selection_mode", "votes_per_resident", "status",
    )  # fmt: skip
    return {"id": c["_id"], **{k: c.get(k) for k in keys}}


async def load_call(db: Any, call_id: str, session: Any = None) -> dict[str, Any]:
    call = await db.calls.find_one({"_id": call_id}, session=session)
    if call is None:
        raise ApiError(404, "call_not_found", "no such call for projects")
    return call


@router.post("/municipalities/{slug}/calls", status_code=201)
async def open_call(
    slug: Slug, body: CallIn, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    db = db_of(request)
    muni = await store.municipality(db, slug)
    await require_official(db, principal, slug, "run_calls")
    try:
        check_windows(
            body.submission_opens_at, body.submission_closes_at, body.vote_opens_at, body.vote_closes_at,
            body.selection_mode,
        )  # fmt: skip
    except CallRuleError as exc:
        raise ApiError(422, "bad_call_windows", str(exc)) from exc
    if body.max_award > body.budget:
        raise ApiError(422, "bad_call_budget", "max_award cannot exceed the budget")
    doc = {
        "_id": f"call_{uuid.uuid4().hex}",
        "municipality": slug,
        **body.model_dump(),
        "status": "open",
        "opened_by": principal.sub,
        "created_at": utcnow(),
    }

    async def work(tx: Tx) -> None:
        await require_active(tx.db, muni, session=tx.session)
        await tx.db.calls.insert_one(doc, session=tx.session)
        emit_with_public(tx, slug, "call.opened", doc["_id"], call_data(doc))

    await ctx_of(request).mongo.transact(work)  # type: ignore[union-attr]
    return call_out(doc)


@router.get("/municipalities/{slug}/calls")
async def list_calls(slug: Slug, request: Request) -> dict[str, Any]:
    db = db_of(request)
    await store.municipality(db, slug)
    return {"items": [call_out(c) async for c in db.calls.find({"municipality": slug}).sort("_id", 1)]}


@router.get("/calls/{call_id}")
async def get_call(call_id: Id, request: Request) -> dict[str, Any]:
    return call_out(await load_call(db_of(request), call_id))


@router.post("/calls/{call_id}/close")
async def close_call(
    call_id: Id, request: Request, principal: Principal = Depends(current_principal)
) -> dict:
    """Close a call without winners (canceled or abandoned)."""
    db = db_of(request)
    call = await load_call(db, call_id)
    await require_official(db, principal, call["municipality"], "run_calls")

    async def work(tx: Tx) -> dict[str, Any]:
        c = await load_call(tx.db, call_id, tx.session)
        if c["status"] != "open":
            raise ApiError(409, "call_not_open", f"the call is {c['status']}")
        await store.patch(tx, "calls", call_id, {"status": "closed"})
        emit_with_public(tx, c["municipality"], "call.closed", call_id, call_data(c))
        return call_out({**c, "status": "closed"})

    return await ctx_of(request).mongo.transact(work)  # type: ignore[union-attr]


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    submission_closes_at: AwareDatetime | None = None
    vote_opens_at: AwareDatetime | None = None
    vote_closes_at: AwareDatetime | None = None


@router.post("/calls/{call_id}/schedule")
async def reschedule_call(
    call_id: Id, body: ScheduleIn, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    """Extend or shorten a running call's windows (e.g. close submissions early, open the vote)."""
    db = db_of(request)
    call = await load_call(db, call_id)
    await require_official(db, principal, call["municipality"], "run_calls")
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise ApiError(422, "nothing_to_change", "give at least one date to change")

    async def work(tx: Tx) -> dict[str, Any]:
        c = await load_call(tx.db, call_id, tx.session)
        if c["status"] != "open":
            raise ApiError(409, "call_not_open", f"the call is {c['status']}")
        merged = {**c, **changes}
        try:
            check_windows(
                merged["submission_opens_at"], merged["submission_closes_at"], merged.get("vote_opens_at"),
                merged.get("vote_closes_at"), merged["selection_mode"],
            )  # fmt: skip
        except CallRuleError as exc:
            raise ApiError(422, "bad_call_windows", str(exc)) from exc
        await store.patch(tx, "calls", call_id, changes)
        return call_out(merged)

    return await ctx_of(request).mongo.transact(work)  # type: ignore[union-attr]
