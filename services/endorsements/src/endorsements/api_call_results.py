"""Resident votes on a call's proposals, reproducible results, and the selection of winners
with their award."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field
from pymongo.errors import DuplicateKeyError

from servicekit.auth import Principal, current_principal, optional_principal
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import store
from .access import ctx_of, db_of, require_official
from .api_calls import load_call
from .domain_calls import (
    jury_refusal,
    rank,
    results_digest,
    vote_refusal,
)
from .events_out import call_data, emit_with_public, proposal_data
from .fields import Id, Money

router = APIRouter(tags=["calls for projects"])


class Award(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proposal_id: Id
    award: Money


class SelectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    winners: list[Award] | None = Field(default=None, max_length=200, description="jury mode only")
    note: str = Field(default="", max_length=2000)


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
    call = await load_call(db, proposal["call_id"])
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
    call = await load_call(db, call_id)
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
    call = await load_call(db, call_id)
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
            c = await load_call(tx.db, call_id, tx.session)
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
