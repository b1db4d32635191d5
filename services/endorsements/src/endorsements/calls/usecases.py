"""Calls for projects: a manager opens, reschedules and closes a call; citizens submit
proposals (or a campaign draft naming the call becomes one); officials shortlist; residents
vote; the manager selects the winners and their awards."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from pymongo.errors import DuplicateKeyError

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.idempotency import Idempotency
from servicekit.logging import get_logger
from servicekit.mongo import Mongo, Tx, utcnow

from .. import store
from ..access import CityOfficial, may_read_city, require_active, require_official
from ..events_out import call_data, emit_with_public, proposal_data
from ..store import Doc
from . import store as calls
from . import voting
from .domain import (
    CallRuleError,
    check_windows,
    eligibility_refusal,
    jury_refusal,
    rank,
    results_digest,
    submission_refusal,
    vote_refusal,
)
from .models import (
    CallIn,
    CallOut,
    CallsOut,
    CountedBallotsOut,
    ProposalIn,
    ProposalOut,
    ProposalsOut,
    RankedOut,
    ResultsOut,
    ScheduleIn,
    SelectionIn,
    SelectionOut,
    VoteOut,
    WinnerOut,
)

log = get_logger(__name__)


def _check_windows(c: dict[str, Any]) -> None:
    try:
        check_windows(
            c["submission_opens_at"], c["submission_closes_at"], c.get("vote_opens_at"),
            c.get("vote_closes_at"), c["selection_mode"],
        )  # fmt: skip
    except CallRuleError as exc:
        raise DomainError("bad_call_windows", 422, str(exc)) from exc


# The call.


async def open_call(mongo: Mongo, manager: CityOfficial, body: CallIn) -> CallOut:
    assert manager.municipality is not None
    _check_windows(body.model_dump())
    if body.max_award > body.budget:
        raise DomainError("bad_call_budget", 422, "max_award cannot exceed the budget")
    doc = {
        "_id": f"call_{uuid.uuid4().hex}",
        "municipality": manager.slug,
        **body.model_dump(),
        "status": "open",
        "opened_by": manager.principal.sub,
        "created_at": utcnow(),
    }

    async def work(tx: Tx) -> None:
        await require_active(tx, manager.municipality)  # type: ignore[arg-type]
        await calls.calls.insert(tx, doc)
        await emit_with_public(tx, manager.slug, "call.opened", doc["_id"], call_data(doc))

    await mongo.transact(work)
    return CallOut.of(doc)


async def list_calls(mongo: Mongo, slug: str) -> CallsOut:
    await store.municipality(mongo.db, slug)
    return CallsOut(items=[CallOut.of(c) for c in await calls.calls_of(mongo.db, slug)])


async def get_call(mongo: Mongo, call_id: str) -> CallOut:
    return CallOut.of(await calls.call(mongo.db, call_id))


async def _runner(mongo: Mongo, principal: Principal, call_id: str) -> Doc:
    call = await calls.call(mongo.db, call_id)
    await require_official(mongo.db, principal, call["municipality"], "run_calls")
    return call


async def close_call(mongo: Mongo, principal: Principal, call_id: str) -> CallOut:
    """Close a call without winners (canceled or abandoned)."""
    await _runner(mongo, principal, call_id)

    async def work(tx: Tx) -> CallOut:
        c = await calls.call(tx, call_id)
        if c["status"] != "open":
            raise DomainError("call_not_open", 409, f"the call is {c['status']}")
        c = await calls.calls.patch(tx, call_id, {"status": "closed"})
        await emit_with_public(tx, c["municipality"], "call.closed", call_id, call_data(c))
        return CallOut.of(c)

    return await mongo.transact(work)


async def reschedule_call(mongo: Mongo, principal: Principal, call_id: str, body: ScheduleIn) -> CallOut:
    """Extend or shorten a running call's windows (e.g. close submissions early, open the vote)."""
    await _runner(mongo, principal, call_id)
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise DomainError("nothing_to_change", 422, "give at least one date to change")

    async def work(tx: Tx) -> CallOut:
        c = await calls.call(tx, call_id)
        if c["status"] != "open":
            raise DomainError("call_not_open", 409, f"the call is {c['status']}")
        _check_windows({**c, **changes})
        return CallOut.of(await calls.calls.patch(tx, call_id, changes))

    return await mongo.transact(work)


# Proposals.


async def submit_proposal(mongo: Mongo, principal: Principal, call_id: str, body: ProposalIn) -> ProposalOut:
    if not principal.email_verified:
        raise DomainError("email_not_verified", 403, "verify your email address before proposing")
    call = await calls.call(mongo.db, call_id)
    muni = await store.municipality(mongo.db, call["municipality"])
    if refusal := submission_refusal(call, utcnow()):
        raise DomainError("submissions_closed", 409, refusal)
    territory = store.territory_of(muni)
    in_territory = territory.contains(body.postcode, body.lat, body.lon)
    if refusal := eligibility_refusal(call, body.category, in_territory):
        if territory.polygons and (body.lat is None or body.lon is None):
            refusal = "give the project's location (lat, lon): the city's territory is drawn on the map"
        raise DomainError("not_eligible", 422, refusal)
    if body.campaign_id is not None:
        campaign = await store.campaign(mongo.db, body.campaign_id)
        if campaign is None or campaign["owner_id"] != principal.sub:
            raise DomainError("not_your_campaign", 422, "campaign_id must be a campaign of yours")
        if await calls.proposal_for_campaign(mongo.db, body.campaign_id) is not None:
            raise DomainError("already_proposed", 409, "this campaign is already a proposal")
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
        await calls.proposals.insert(tx, doc)
        await emit_with_public(
            tx, call["municipality"], "call.proposal_submitted", doc["_id"], proposal_data(doc)
        )

    await mongo.transact(work)
    return ProposalOut.of(doc)


async def proposal_from_campaign(tx: Tx, campaign: dict[str, Any]) -> None:
    """A campaign draft naming an open call (`call_id` in campaign events) becomes a proposal
    of that call, so citizens apply by writing their campaign once."""
    call_id = campaign.get("call_id")
    if not call_id or await calls.proposal_for_campaign(tx, campaign["campaign_id"]) is not None:
        return
    call = await calls.calls.get(tx, call_id)
    if call is None:
        # Not parked: the same event also feeds the campaign projection, which must not be lost.
        log.warning("campaign_names_unknown_call", call_id=call_id, campaign_id=campaign["campaign_id"])
        return
    muni = await store.find_municipality(tx, call["municipality"])
    in_territory = muni is not None and store.territory_of(muni).contains(
        campaign.get("postcode"), campaign.get("lat"), campaign.get("lon")
    )
    refusal = submission_refusal(call, utcnow()) or eligibility_refusal(
        call, campaign.get("category"), in_territory or campaign.get("municipality") == call["municipality"]
    )
    if refusal:
        log.info(
            "campaign_not_a_proposal", call_id=call_id, campaign_id=campaign["campaign_id"], reason=refusal
        )
        return
    doc = {
        "_id": f"prp_{uuid.uuid4().hex}",
        "call_id": call_id,
        "municipality": call["municipality"],
        "proposer_id": campaign["owner_id"],
        "title": campaign["title"],
        "summary": campaign["title"],
        "category": campaign.get("category"),
        "requested_amount": min(int(campaign["goal"]), int(call["max_award"])),
        "goal": int(campaign["goal"]),
        "postcode": (campaign.get("postcode") or "").strip().upper(),
        "campaign_id": campaign["campaign_id"],
        "status": "submitted",
        "note": "",
        "submitted_at": utcnow(),
    }
    await calls.proposals.insert(tx, doc)
    await emit_with_public(
        tx, call["municipality"], "call.proposal_submitted", doc["_id"], proposal_data(doc)
    )


async def list_proposals(mongo: Mongo, call_id: str) -> ProposalsOut:
    await calls.call(mongo.db, call_id)
    return ProposalsOut(items=[ProposalOut.of(p) for p in await calls.proposals_of(mongo.db, call_id)])


async def shortlist(mongo: Mongo, principal: Principal, proposal_id: str, note: str) -> ProposalOut:
    proposal = await calls.proposals.get(mongo.db, proposal_id)
    if proposal is None:
        raise DomainError("proposal_not_found", 404, "no such proposal")
    await require_official(mongo.db, principal, proposal["municipality"], "shortlist")

    async def work(tx: Tx) -> ProposalOut:
        p = await calls.proposals.get(tx, proposal_id)
        assert p is not None
        call = await calls.call(tx, p["call_id"])
        if call["status"] != "open":
            raise DomainError("call_not_open", 409, f"the call is {call['status']}")
        if p["status"] != "submitted":
            raise DomainError("bad_transition", 409, f"the proposal is {p['status']}")
        changes = {"status": "shortlisted", "note": note, "shortlisted_by": principal.sub}
        p = await calls.proposals.patch(tx, proposal_id, changes)
        await emit_with_public(
            tx, p["municipality"], "call.proposal_shortlisted", proposal_id, proposal_data(p)
        )
        return ProposalOut.of(p)

    return await mongo.transact(work)


# Votes, results, winners.


async def cast_vote(mongo: Mongo, principal: Principal, proposal_id: str) -> VoteOut:
    """One vote per proposal, `votes_per_resident` per call; residents only (declared postcode)."""
    if principal.kind != "user":
        raise DomainError("forbidden", 403, "only residents vote")
    proposal = await calls.proposals.get(mongo.db, proposal_id)
    if proposal is None:
        raise DomainError("proposal_not_found", 404, "no such proposal")
    call = await calls.call(mongo.db, proposal["call_id"])
    if call.get("ballot"):
        raise DomainError("use_ballot", 409, "this call votes with a ballot: /calls/{call_id}/ballot")
    muni = await store.municipality(mongo.db, call["municipality"])
    user = await store.user(mongo.db, principal.sub) or {}
    is_resident = bool(user.get("postcode")) and store.territory_of(muni).contains(user.get("postcode"))

    async def work(tx: Tx) -> VoteOut:
        already = len(await calls.votes_by(tx, principal.sub, call["_id"]))
        vote_id = f"{call['_id']}|{principal.sub}|{proposal_id}"
        if await calls.votes.get(tx, vote_id) is not None:
            raise DomainError("already_voted", 409, "you already voted for this proposal")
        if refusal := vote_refusal(call, proposal, already, is_resident, utcnow()):
            raise DomainError("vote_refused", 409 if "votes in this call" in refusal else 403, refusal)
        await calls.votes.insert(
            tx,
            {"_id": vote_id, "call_id": call["_id"], "proposal_id": proposal_id, "voter_id": principal.sub,
             "at": utcnow()},
        )  # fmt: skip
        tx.emit("call.vote_cast", vote_id, proposal_data(proposal, voter_id=principal.sub))
        return VoteOut(proposal_id=proposal_id, votes_left=int(call["votes_per_resident"]) - already - 1)

    try:
        return await mongo.transact(work)
    except DuplicateKeyError as exc:
        raise DomainError("already_voted", 409, "you already voted for this proposal") from exc


async def _results(src: store.Source, call: Doc) -> ResultsOut:
    if call.get("ballot"):
        return await voting.ballot_results(src, call)
    statuses = ["shortlisted"] if call["selection_mode"] == "jury_then_vote" else ["submitted", "shortlisted"]
    if call["status"] == "decided":
        statuses = [*statuses, "selected", "not_selected"]
    proposals = await calls.proposals_of(src, call["_id"], statuses)
    ballots = [(v["voter_id"], v["proposal_id"]) for v in await calls.votes_of_call(src, call["_id"])]
    counts: dict[str, int] = {}
    for _, pid in ballots:
        counts[pid] = counts.get(pid, 0) + 1
    ranked = rank(proposals, counts, int(call["budget"]), int(call["max_award"]), int(call["winners"]))
    return ResultsOut(
        call_id=call["_id"],
        final=call.get("vote_closes_at") is not None and utcnow() >= call["vote_closes_at"],
        digest=results_digest([p["_id"] for p in proposals], ballots),
        ballots=len(ballots),
        ranking=[RankedOut(**r.__dict__) for r in ranked],
    )


async def _published_call(mongo: Mongo, principal: Principal | None, call_id: str) -> Doc:
    """A vote's results and ballots are public once it closed (no bandwagon effect while it
    runs); officials and the city's own systems see them live."""
    call = await calls.call(mongo.db, call_id)
    if call["selection_mode"] == "jury":
        raise DomainError("no_vote", 409, "this call is decided by a jury, without a vote")
    may_read_city(principal, call["municipality"])
    closed = utcnow() >= call["vote_closes_at"]
    if not closed and not (
        principal
        and (
            principal.is_client_of(call["municipality"])
            or await store.official_role(mongo.db, call["municipality"], principal.sub)
        )
    ):
        raise DomainError("vote_running", 403, "results are published when the vote closes")
    return call


async def results(mongo: Mongo, principal: Principal | None, call_id: str) -> ResultsOut:
    """Public once the vote closed (no bandwagon effect while it runs); officials see it live."""
    return await _results(mongo.db, await _published_call(mongo, principal, call_id))


async def published_ballots(
    mongo: Mongo, principal: Principal | None, call_id: str, offset: int, limit: int
) -> CountedBallotsOut:
    """The counted ballots, pseudonymous, for anyone to recount (public with the results)."""
    call = await _published_call(mongo, principal, call_id)
    return await voting.counted_ballots(mongo.db, call, offset, limit)


def launched_campaign_id(proposal_id: str) -> str:
    return f"cmp_{uuid.uuid5(uuid.NAMESPACE_URL, proposal_id).hex}"


async def select_winners(
    mongo: Mongo, idem: Idempotency, principal: Principal, call_id: str, body: SelectionIn, key: str
) -> SelectionOut:
    """Award the winners. Jury mode takes the winners in the body; vote modes take the
    computed ranking once the vote closed."""
    call = await _runner(mongo, principal, call_id)
    now = utcnow()
    if call["selection_mode"] == "jury":
        if not body.winners:
            raise DomainError("winners_required", 422, "a jury call needs the list of winners and awards")
        if now < call["submission_closes_at"]:
            raise DomainError("too_early", 409, "submissions are still open")
        if refusal := jury_refusal(
            [(w.proposal_id, w.award) for w in body.winners],
            call["budget"],
            call["max_award"],
            call["winners"],
        ):
            raise DomainError("bad_selection", 422, refusal)
        chosen = {w.proposal_id: w.award for w in body.winners}
        votes: dict[str, int] = {}  # a jury's choice has no votes to tell
    else:
        if body.winners:
            raise DomainError("computed_selection", 422, "winners of a voting call come from the results")
        if now < call["vote_closes_at"]:
            raise DomainError("too_early", 409, "the vote is still open")
        ranking = (await _results(mongo.db, call)).ranking
        chosen = {r.proposal_id: r.award for r in ranking if r.selected}
        votes = {r.proposal_id: r.votes for r in ranking if r.selected}

    async def select(tx: Tx) -> SelectionOut:
        c = await calls.call(tx, call_id)
        if c["status"] != "open":
            raise DomainError("call_not_open", 409, f"the call is {c['status']}")
        proposals = {p["_id"]: p for p in await calls.proposals_of(tx, call_id)}
        for pid in chosen:
            if pid not in proposals or proposals[pid]["status"] not in ("submitted", "shortlisted"):
                raise DomainError("bad_selection", 422, f"{pid} is not a candidate proposal of this call")
        for pid, p in sorted(proposals.items()):
            selected = pid in chosen
            changes: dict[str, Any] = {"status": "selected" if selected else "not_selected"}
            if selected:
                changes["award"] = chosen[pid]
                # The campaign it becomes, named now so the call's pages link to it at once
                # (the id campaigns itself derives for a proposal without a draft).
                changes["campaign_id"] = p.get("campaign_id") or launched_campaign_id(pid)
            p = await calls.proposals.patch(tx, pid, changes)
            if selected:
                extra = {"award": chosen[pid], "currency": c["currency"], "summary": p["summary"][:1000]}
                if p.get("goal"):
                    extra["goal"] = p["goal"]
                if p.get("category"):
                    extra["category"] = p["category"]
                if body.note:
                    extra["note"] = body.note
                if pid in votes:
                    extra["votes"] = votes[pid]  # the project's record shows the votes it won
                data = proposal_data(p, **extra)
                await emit_with_public(tx, c["municipality"], "call.proposal_selected", pid, data)
        await calls.calls.patch(tx, call_id, {"status": "decided", "decided_at": utcnow()})
        await emit_with_public(tx, c["municipality"], "call.closed", call_id, call_data(c))
        return SelectionOut(
            call_id=call_id,
            winners=[WinnerOut(proposal_id=k, award=v) for k, v in sorted(chosen.items())],
        )

    async def work(tx: Tx) -> SelectionOut:
        return await idem.run(
            tx,
            scope=f"select|{principal.sub}",
            key=key,
            request={"call": call_id, **body.model_dump()},
            action=lambda: select(tx),
            decode=SelectionOut.model_validate,
        )

    return await mongo.transact(work)


async def forget_person(tx: Tx, user_id: str) -> None:
    """The person's proposals and ballots keep counting under a pseudonym (results stay
    reproducible) but no longer name them."""
    alias = "deleted-" + hashlib.sha256(user_id.encode()).hexdigest()[:16]
    for proposal in await calls.proposals_by(tx, user_id):
        await calls.proposals.patch(tx, proposal["_id"], {"proposer_id": alias})
    for vote in await calls.votes_by(tx, user_id):
        await calls.votes.delete(tx, vote["_id"])
        renamed = {**vote, "_id": f"{vote['call_id']}|{alias}|{vote['proposal_id']}", "voter_id": alias}
        await calls.votes.insert(tx, renamed)
    await voting.forget_voter(tx, user_id)
