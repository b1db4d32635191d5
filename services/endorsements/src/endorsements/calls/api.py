"""Call-for-projects routes: the call, its proposals, votes, results and winners."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from servicekit.auth import OptionalCallerDep

from ..access import CallRunner
from ..deps import IdempotencyDep, IdempotencyKey, MongoDep, PrincipalDep
from ..fields import Id, Slug
from . import usecases, voting
from .models import (
    BallotOut,
    BallotSetupIn,
    CallIn,
    CallOut,
    CallsOut,
    CountedBallotsOut,
    NoteIn,
    PaperBallotIn,
    PaperBallotOut,
    ProposalIn,
    ProposalOut,
    ProposalsOut,
    ResultsOut,
    ScheduleIn,
    SelectionIn,
    SelectionOut,
    StatisticsOut,
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
    """One vote per proposal, `votes_per_resident` per call; residents only (declared postcode).
    Calls whose city set a ballot rule vote with the ballot instead (409 use_ballot)."""
    return await usecases.cast_vote(mongo, principal, proposal_id)


# The participatory-budget ballot.

VOTER_ERRORS: dict[int | str, dict[str, str]] = {
    403: {"description": "email_not_verified, not_resident or not_your_heading"},
    409: {"description": "no_vote, no_ballot, vote_not_open or vote_closed"},
}


@router.put(
    "/calls/{call_id}/ballot-setup",
    responses={409: {"description": "no_vote, call_not_open, vote_closed or ballots_cast"},
               422: {"description": "bad_ballot_rule: a rule, heading or tie-break that cannot work"}},
)  # fmt: skip
async def set_ballot(call_id: Id, body: BallotSetupIn, principal: PrincipalDep, mongo: MongoDep) -> CallOut:
    """The city sets the vote's rule, headings (budget, voters by postcode) and tie-break,
    published with the call; it can change them until the first ballot is checked out."""
    return await voting.set_ballot(mongo, principal, call_id, body)


@router.get("/calls/{call_id}/ballot", responses={409: {"description": "no_vote or no_ballot"}})
async def my_ballot(call_id: Id, principal: PrincipalDep, mongo: MongoDep) -> BallotOut:
    """The caller's ballot: lines and running total per heading, whether it is counted."""
    return await voting.my_ballot(mongo, principal, call_id)


@router.put(
    "/calls/{call_id}/ballot/lines/{proposal_id}",
    responses={**VOTER_ERRORS, 404: {"description": "not_on_ballot"},
               409: {"description": "line_refused (the rule's message), or the vote is not open"}},
)  # fmt: skip
async def add_ballot_line(
    call_id: Id, proposal_id: Id, principal: PrincipalDep, mongo: MongoDep
) -> BallotOut:
    return await voting.add_line(mongo, principal, call_id, proposal_id)


@router.delete("/calls/{call_id}/ballot/lines/{proposal_id}", responses=VOTER_ERRORS)
async def remove_ballot_line(
    call_id: Id, proposal_id: Id, principal: PrincipalDep, mongo: MongoDep
) -> BallotOut:
    return await voting.remove_line(mongo, principal, call_id, proposal_id)


@router.post(
    "/calls/{call_id}/ballot/checkout",
    responses={**VOTER_ERRORS, 409: {"description": "checkout_refused (the rule's message), or not open"}},
)
async def checkout_ballot(call_id: Id, principal: PrincipalDep, mongo: MongoDep) -> BallotOut:
    """Count the ballot; checking out again replaces the counted ballot until the vote closes."""
    return await voting.checkout(mongo, principal, call_id)


@router.post(
    "/calls/{call_id}/paper-ballots",
    status_code=201,
    responses={409: {"description": "no_ballot, vote_not_open or vote_closed"},
               422: {"description": "not_resident or paper_ballot_refused (the rule's message)"}},
)  # fmt: skip
async def enter_paper_ballot(
    call_id: Id, body: PaperBallotIn, principal: PrincipalDep, mongo: MongoDep
) -> PaperBallotOut:
    """An official of the city enters a polling station's paper ballot (who entered it is kept)."""
    return await voting.enter_paper_ballot(mongo, principal, call_id, body)


@router.get(
    "/calls/{call_id}/ballots",
    responses={403: {"description": "vote_running: published when the vote closes"},
               409: {"description": "no_vote or no_ballot"}},
)  # fmt: skip
async def published_ballots(
    call_id: Id,
    principal: OptionalCallerDep,
    mongo: MongoDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> CountedBallotsOut:
    """Every counted ballot (pseudonymous) and their digest: anyone can recount the results."""
    return await usecases.published_ballots(mongo, principal, call_id, offset, limit)


@router.get("/calls/{call_id}/statistics", responses={409: {"description": "no_vote or no_ballot"}})
async def vote_statistics(call_id: Id, principal: PrincipalDep, mongo: MongoDep) -> StatisticsOut:
    """For the city's officials: turnout by neighbourhood (postcode) and channel (online / paper)."""
    return await voting.statistics(mongo, principal, call_id)


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
