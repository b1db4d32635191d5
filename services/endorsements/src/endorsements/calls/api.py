"""Call-for-projects routes: the call, its proposals, votes, results and winners."""

from __future__ import annotations

from fastapi import APIRouter

from servicekit.auth import OptionalCallerDep

from ..access import CallRunner
from ..deps import IdempotencyDep, IdempotencyKey, MongoDep, PrincipalDep
from ..fields import Id, Slug
from . import usecases
from .models import (
    CallIn,
    CallOut,
    CallsOut,
    NoteIn,
    ProposalIn,
    ProposalOut,
    ProposalsOut,
    ResultsOut,
    ScheduleIn,
    SelectionIn,
    SelectionOut,
    VoteOut,
)

router = APIRouter(tags=["calls for projects"])


@router.post("/municipalities/{slug}/calls", status_code=201)
async def open_call(body: CallIn, manager: CallRunner, mongo: MongoDep) -> CallOut:
    return await usecases.open_call(mongo, manager, body)


@router.get("/municipalities/{slug}/calls")
async def list_calls(slug: Slug, mongo: MongoDep) -> CallsOut:
    return await usecases.list_calls(mongo, slug)


@router.get("/calls/{call_id}")
async def get_call(call_id: Id, mongo: MongoDep) -> CallOut:
    return await usecases.get_call(mongo, call_id)


@router.post("/calls/{call_id}/close")
async def close_call(call_id: Id, principal: PrincipalDep, mongo: MongoDep) -> CallOut:
    """Close a call without winners (canceled or abandoned)."""
    return await usecases.close_call(mongo, principal, call_id)


@router.post("/calls/{call_id}/schedule")
async def reschedule_call(call_id: Id, body: ScheduleIn, principal: PrincipalDep, mongo: MongoDep) -> CallOut:
    """Extend or shorten a running call's windows (e.g. close submissions early, open the vote)."""
    return await usecases.reschedule_call(mongo, principal, call_id, body)


@router.post("/calls/{call_id}/proposals", status_code=201)
async def submit_proposal(
    call_id: Id, body: ProposalIn, principal: PrincipalDep, mongo: MongoDep
) -> ProposalOut:
    return await usecases.submit_proposal(mongo, principal, call_id, body)


@router.get("/calls/{call_id}/proposals")
async def list_proposals(call_id: Id, mongo: MongoDep) -> ProposalsOut:
    return await usecases.list_proposals(mongo, call_id)


@router.post("/proposals/{proposal_id}/shortlist")
async def shortlist_proposal(
    proposal_id: Id, body: NoteIn, principal: PrincipalDep, mongo: MongoDep
) -> ProposalOut:
    return await usecases.shortlist(mongo, principal, proposal_id, body.note)


@router.post("/proposals/{proposal_id}/votes", status_code=201)
async def cast_vote(proposal_id: Id, principal: PrincipalDep, mongo: MongoDep) -> VoteOut:
    """One vote per proposal, `votes_per_resident` per call; residents only (declared postcode)."""
    return await usecases.cast_vote(mongo, principal, proposal_id)


@router.get(
    "/calls/{call_id}/results",
    responses={409: {"description": "a jury decides this call, there is no vote to count (no_vote)"}},
)
async def call_results(call_id: Id, principal: OptionalCallerDep, mongo: MongoDep) -> ResultsOut:
    """Public once the vote closed (no bandwagon effect while it runs); officials and the city's
    own systems see it live (another city's client token: 403)."""
    return await usecases.results(mongo, principal, call_id)


@router.post("/calls/{call_id}/selection")
async def select_winners(
    call_id: Id,
    body: SelectionIn,
    principal: PrincipalDep,
    mongo: MongoDep,
    idem: IdempotencyDep,
    idempotency_key: IdempotencyKey,
) -> SelectionOut:
    """Award the winners (money: Idempotency-Key). Jury mode takes the winners in the body;
    vote modes take the computed ranking once the vote closed."""
    return await usecases.select_winners(mongo, idem, principal, call_id, body, idempotency_key)
