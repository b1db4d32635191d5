"""Calls for projects: a manager opens a call, citizens submit proposals, officials shortlist,
residents vote, results are computed reproducibly, the manager selects the winners."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from pymongo.errors import DuplicateKeyError

from servicekit.auth import Principal, current_principal, optional_principal
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import store
from .access import ctx_of, db_of, require_active, require_official
from .domain_calls import (
    CallRuleError,
    check_windows,
    eligibility_refusal,
    jury_refusal,
    rank,
    results_digest,
    submission_refusal,
    vote_refusal,
)
from .events_out import call_data, emit_with_public, proposal_data

router = APIRouter(tags=["calls for projects"])

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{2,60}$")]
Id = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
Category = Annotated[str, StringConstraints(min_length=2, max_length=40, pattern=r"^[a-z0-9_-]+$")]
Money = Annotated[int, Field(ge=1, le=10_000_000_000, description="minor units")]


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


class Award(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proposal_id: Id
    award: Money


class SelectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    winners: list[Award] | None = Field(default=None, max_length=200, description="jury mode only")
    note: str = Field(default="", max_length=2000)


def call_out(c: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "municipality", "title", "theme", "description", "eligibility", "budget", "max_award", "currency",
        "submission_opens_at", "submission_closes_at", "vote_opens_at", "vote_closes_at", "winners",
        "selection_mode", "votes_per_resident", "status",
    )  # fmt: skip
    return {"id": c["_id"], **{k: c.get(k) for k in keys}}


def proposal_out(p: dict[str, Any], votes: int | None = None) -> dict[str, Any]:
    keys = ("call_id", "title", "summary", "category", "requested_amount", "goal", "postcode", "campaign_id",
            "status", "note", "award", "submitted_at")  # fmt: skip
    out = {"id": p["_id"], **{k: p.get(k) for k in keys}}
    if votes is not None:
        out["votes"] = votes
    return out


async def _call(db: Any, call_id: str, session: Any = None) -> dict[str, Any]:
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
    return call_out(await _call(db_of(request), call_id))


@router.post("/calls/{call_id}/proposals", status_code=201)
async def submit_proposal(
    call_id: Id, body: ProposalIn, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    db = db_of(request)
    call = await _call(db, call_id)
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
    await _call(db, call_id)
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
        call = await _call(tx.db, p["call_id"], tx.session)  # type: ignore[index]
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


@router.post("/proposals/{proposal_id}/votes", status_code=201)
async def cast_vote(
    proposal_id: Id, request: Request, principal: Principal = Depends(current_principal)
) -> dict:
    """One vote per proposal, `votes_per_resident` per call; residents only (declared postcode)."""
    if principal.kind != "user":
        raise ApiError(403, "forbidden", "only residents vote")
    db = db_of(request)
    proposal = await db.proposals.find_one({"_id": proposal_id})
    if proposal is None:
        raise ApiError(404, "proposal_not_found", "no such proposal")
    call = await _call(db, proposal["call_id"])
    muni = await store.municipality(db, call["municipality"])
    user = await db.users.find_one({"_id": principal.sub}) or {}
    is_resident = bool(user.get("postcode")) and store.territory_of(muni).contains(user.get("postcode"))

    async def work(tx: Tx) -> dict[str, Any]:
        # A find, not count_documents: nx-27017 loses the transaction after an aggregate in it.
        mine = tx.db.votes.find(
            {"call_id": call["_id"], "voter_id": principal.sub}, {"_id": 1}, session=tx.session
        )
        already = len([v async for v in mine])
        vote_id = f"{call['_id']}|{principal.sub}|{proposal_id}"
        if await tx.db.votes.find_one({"_id": vote_id}, session=tx.session) is not None:
            raise ApiError(409, "already_voted", "you already voted for this proposal")
        if refusal := vote_refusal(call, proposal, already, is_resident, utcnow()):
            raise ApiError(409 if "votes in this call" in refusal else 403, "vote_refused", refusal)
        await tx.db.votes.insert_one(
            {"_id": vote_id, "call_id": call["_id"], "proposal_id": proposal_id, "voter_id": principal.sub,
             "at": utcnow()}, session=tx.session,
        )  # fmt: skip
        tx.emit("call.vote_cast", vote_id, proposal_data(proposal, voter_id=principal.sub))
        return {"proposal_id": proposal_id, "votes_left": int(call["votes_per_resident"]) - already - 1}

    try:
        return await ctx_of(request).mongo.transact(work)  # type: ignore[union-attr]
    except DuplicateKeyError as exc:
        raise ApiError(409, "already_voted", "you already voted for this proposal") from exc


async def _results(db: Any, call: dict[str, Any]) -> dict[str, Any]:
    statuses = ["shortlisted"] if call["selection_mode"] == "jury_then_vote" else ["submitted", "shortlisted"]
    if call["status"] == "decided":
        statuses = [*statuses, "selected", "not_selected"]
    proposals = [p async for p in db.proposals.find({"call_id": call["_id"], "status": {"$in": statuses}})]
    ballots = [(v["voter_id"], v["proposal_id"]) async for v in db.votes.find({"call_id": call["_id"]})]
    counts: dict[str, int] = {}
    for _, pid in ballots:
        counts[pid] = counts.get(pid, 0) + 1
    ranked = rank(proposals, counts, int(call["budget"]), int(call["max_award"]), int(call["winners"]))
    return {
        "call_id": call["_id"],
        "final": call.get("vote_closes_at") is not None and utcnow() >= call["vote_closes_at"],
        "digest": results_digest([p["_id"] for p in proposals], ballots),
        "ballots": len(ballots),
        "ranking": [r.__dict__ for r in ranked],
    }


@router.get("/calls/{call_id}/results")
async def call_results(
    call_id: Id, request: Request, principal: Principal | None = Depends(optional_principal)
) -> dict[str, Any]:
    """Public once the vote closed (no bandwagon effect while it runs); officials see it live."""
    db = db_of(request)
    call = await _call(db, call_id)
    if call["selection_mode"] == "jury":
        raise ApiError(409, "no_vote", "this call is decided by a jury, without a vote")
    closed = utcnow() >= call["vote_closes_at"]
    if not closed and not (principal and await store.official_role(db, call["municipality"], principal.sub)):
        raise ApiError(403, "vote_running", "results are published when the vote closes")
    return await _results(db, call)


@router.post("/calls/{call_id}/selection")
async def select_winners(
    call_id: Id,
    body: SelectionIn,
    request: Request,
    principal: Principal = Depends(current_principal),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> dict[str, Any]:
    """Award the winners (money: Idempotency-Key). Jury mode takes the winners in the body;
    vote modes take the computed ranking once the vote closed."""
    db = db_of(request)
    call = await _call(db, call_id)
    await require_official(db, principal, call["municipality"], "run_calls")
    now = utcnow()
    if call["selection_mode"] == "jury":
        if not body.winners:
            raise ApiError(422, "winners_required", "a jury call needs the list of winners and awards")
        if now < call["submission_closes_at"]:
            raise ApiError(409, "too_early", "submissions are still open")
        if refusal := jury_refusal(
            [(w.proposal_id, w.award) for w in body.winners],
            call["budget"],
            call["max_award"],
            call["winners"],
        ):
            raise ApiError(422, "bad_selection", refusal)
        chosen = {w.proposal_id: w.award for w in body.winners}
    else:
        if body.winners:
            raise ApiError(422, "computed_selection", "winners of a voting call come from the results")
        if now < call["vote_closes_at"]:
            raise ApiError(409, "too_early", "the vote is still open")
        results = await _results(db, call)
        chosen = {r["proposal_id"]: r["award"] for r in results["ranking"] if r["selected"]}
    fingerprint = store.request_fingerprint({"call": call_id, **body.model_dump()})

    async def work(tx: Tx) -> dict[str, Any]:
        async def select() -> dict[str, Any]:
            c = await _call(tx.db, call_id, tx.session)
            if c["status"] != "open":
                raise ApiError(409, "call_not_open", f"the call is {c['status']}")
            proposals = {
                p["_id"]: p async for p in tx.db.proposals.find({"call_id": call_id}, session=tx.session)
            }
            for pid in chosen:
                if pid not in proposals or proposals[pid]["status"] not in ("submitted", "shortlisted"):
                    raise ApiError(422, "bad_selection", f"{pid} is not a candidate proposal of this call")
            for pid, p in sorted(proposals.items()):
                selected = pid in chosen
                changes: dict[str, Any] = {"status": "selected" if selected else "not_selected"}
                if selected:
                    changes["award"] = chosen[pid]
                await store.patch(tx, "proposals", pid, changes)
                if selected:
                    p = {**p, **changes}
                    extra = {"award": chosen[pid], "currency": c["currency"], "summary": p["summary"][:1000]}
                    if p.get("goal"):
                        extra["goal"] = p["goal"]
                    if p.get("category"):
                        extra["category"] = p["category"]
                    if body.note:
                        extra["note"] = body.note
                    data = proposal_data(p, **extra)
                    emit_with_public(tx, c["municipality"], "call.proposal_selected", pid, data)
            await store.patch(tx, "calls", call_id, {"status": "decided", "decided_at": utcnow()})
            emit_with_public(tx, c["municipality"], "call.closed", call_id, call_data(c))
            return {
                "call_id": call_id,
                "winners": [{"proposal_id": k, "award": v} for k, v in sorted(chosen.items())],
            }

        return await store.idempotent(tx, f"select|{principal.sub}", idempotency_key, fingerprint, select)

    return await ctx_of(request).mongo.transact(work)  # type: ignore[union-attr]


@router.post("/calls/{call_id}/close")
async def close_call(
    call_id: Id, request: Request, principal: Principal = Depends(current_principal)
) -> dict:
    """Close a call without winners (canceled or abandoned)."""
    db = db_of(request)
    call = await _call(db, call_id)
    await require_official(db, principal, call["municipality"], "run_calls")

    async def work(tx: Tx) -> dict[str, Any]:
        c = await _call(tx.db, call_id, tx.session)
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
    call = await _call(db, call_id)
    await require_official(db, principal, call["municipality"], "run_calls")
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise ApiError(422, "nothing_to_change", "give at least one date to change")

    async def work(tx: Tx) -> dict[str, Any]:
        c = await _call(tx.db, call_id, tx.session)
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
