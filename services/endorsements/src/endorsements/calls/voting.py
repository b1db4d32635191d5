"""The participatory-budget vote of a call: the city sets the rule, headings and tie-break;
verified residents build a ballot line by line and check it out (the last checkout counts,
changeable until the vote closes); officials enter paper ballots from polling stations; the
results are counted from the stored ballots and anyone can recount them."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.mongo import Mongo, Tx, utcnow

from .. import store
from ..access import require_official
from ..residency import usecases as residency
from ..store import Doc
from . import store as calls
from .ballots import (
    FINGERPRINT_SLICES,
    BallotRuleError,
    Line,
    Proposal,
    add_refusal,
    ballot_fingerprint,
    checkout_refusal,
    digest_of_sums,
    heading_result,
)
from .headings import Heading, Setup, heading_of, load_setup, may_vote_in, parse_setup
from .models import (
    BallotHeadingOut,
    BallotLineOut,
    BallotOut,
    BallotSetupIn,
    CallOut,
    CountedBallotOut,
    CountedBallotsOut,
    HeadingOutcomeOut,
    HeadingResultOut,
    PaperBallotIn,
    PaperBallotOut,
    RankedOut,
    ResultsOut,
    StatisticsOut,
    TurnoutRowOut,
)


def _setup_of(call: Doc) -> Setup:
    if call["selection_mode"] == "jury":
        raise DomainError("no_vote", 409, "this call is decided by a jury, without a vote")
    if not call.get("ballot"):
        raise DomainError("no_ballot", 409, "the city has not set this call's ballot rule yet")
    return load_setup(call["ballot"])


def _candidate_statuses(call: Doc) -> list[str]:
    statuses = ["shortlisted"] if call["selection_mode"] == "jury_then_vote" else ["submitted", "shortlisted"]
    if call["status"] == "decided":
        statuses = [*statuses, "selected", "not_selected"]
    return statuses


def _amount(call: Doc, proposal: Doc) -> int:
    """What a proposal costs on a ballot: what it asks, capped by the call's largest award."""
    return min(int(proposal["requested_amount"]), int(call["max_award"]))


def _vote_open(call: Doc, now: datetime) -> bool:
    opens, closes = call.get("vote_opens_at"), call.get("vote_closes_at")
    return call["status"] == "open" and opens is not None and opens <= now < closes


def _require_vote_open(call: Doc, now: datetime) -> None:
    if call["status"] != "open":
        raise DomainError("vote_closed", 409, f"the call is {call['status']}")
    if call.get("vote_opens_at") is None or now < call["vote_opens_at"]:
        raise DomainError("vote_not_open", 409, "voting is not open yet")
    if now >= call["vote_closes_at"]:
        raise DomainError("vote_closed", 409, "voting is closed")


def _require_verified(principal: Principal) -> None:
    if not principal.email_verified:
        raise DomainError(
            "email_not_verified", 403, "verify your email address first (follow the link we emailed you)"
        )


# The city's set-up.


async def set_ballot(mongo: Mongo, principal: Principal, call_id: str, body: BallotSetupIn) -> CallOut:
    """Set (or change, while nobody has checked out a ballot) the vote's rule, headings and
    tie-break; the rule is public with the call from then on."""
    call = await calls.call(mongo.db, call_id)
    await require_official(mongo.db, principal, call["municipality"], "run_calls")
    if call["selection_mode"] == "jury":
        raise DomainError("no_vote", 409, "this call is decided by a jury, without a vote")

    async def work(tx: Tx) -> CallOut:
        c = await calls.call(tx, call_id)
        if c["status"] != "open":
            raise DomainError("call_not_open", 409, f"the call is {c['status']}")
        if c.get("vote_closes_at") is not None and utcnow() >= c["vote_closes_at"]:
            raise DomainError("vote_closed", 409, "the vote is closed")
        if await calls.counted_ballots(tx, call_id, limit=1):
            raise DomainError("ballots_cast", 409, "ballots were checked out: the rule can no longer change")
        proposals = await calls.proposals_of(tx, call_id)
        try:
            raw = {**body.model_dump(), "assign": {a.proposal_id: a.heading for a in body.assign}}
            setup = parse_setup(raw, int(c["budget"]), [p["_id"] for p in proposals])
        except BallotRuleError as exc:
            raise DomainError("bad_ballot_rule", 422, str(exc)) from exc
        return CallOut.of(await calls.calls.patch(tx, call_id, {"ballot": setup.as_dict()}))

    return await mongo.transact(work)


# A resident's ballot.


async def _context(src: store.Source, call: Doc, setup: Setup) -> tuple[dict[str, Doc], dict[str, Heading]]:
    """The call's candidate proposals and the heading each stands in."""
    proposals = {p["_id"]: p for p in await calls.proposals_of(src, call["_id"], _candidate_statuses(call))}
    where: dict[str, Heading] = {}
    for pid, p in proposals.items():
        heading = heading_of(setup, pid, p.get("postcode"))
        if heading is not None:
            where[pid] = heading
    return proposals, where


PROOF_NEEDED = "prove that you live in the city first (census or letter code)"
PROFILE_POSTCODE_NEEDED = "only residents vote (a postcode of the city in your profile)"


async def _residency(src: store.Source, call: Doc, principal: Principal) -> tuple[str | None, bool, str]:
    """(the voter's postcode, whether they are a resident, what a non-resident is told). A city
    that verifies residents (census file, postal letter: residency/) counts only the proof given
    for this call, with the postcode it carries; otherwise a postcode of the city in the voter's
    profile."""
    if await residency.methods_of(src, call["municipality"]):
        proof = await residency.verified_resident(src, call["_id"], principal.sub)
        return (proof["postcode"], True, PROOF_NEEDED) if proof else (None, False, PROOF_NEEDED)
    muni = await store.municipality(src, call["municipality"])
    user = await store.user(src, principal.sub) or {}
    postcode = user.get("postcode")
    return postcode, bool(postcode) and store.territory_of(muni).contains(postcode), PROFILE_POSTCODE_NEEDED


def _lines(
    call: Doc, ids: list[str], proposals: dict[str, Doc], where: dict[str, Heading], key: str
) -> list[Line]:
    return [Line(pid, _amount(call, proposals[pid])) for pid in ids if pid in where and where[pid].key == key]


def _ballot_out(
    call: Doc, setup: Setup, doc: Doc | None, proposals: dict[str, Doc], where: dict[str, Heading],
    postcode: str | None, resident: bool,
) -> BallotOut:  # fmt: skip
    ids = list(doc["lines"]) if doc else []
    headings = []
    for h in setup.headings:
        lines = _lines(call, ids, proposals, where, h.key)
        spent = sum(line.amount for line in lines)
        headings.append(
            BallotHeadingOut(
                key=h.key,
                name=h.name,
                budget=h.budget,
                priority=h.priority,
                may_vote=may_vote_in(h, postcode, resident),
                total=spent,
                left=h.budget - spent,
                lines=[
                    BallotLineOut(
                        proposal_id=x.proposal_id, title=proposals[x.proposal_id]["title"], amount=x.amount
                    )
                    for x in lines
                ],
                refusal=checkout_refusal(setup.rule, h.budget, lines) if lines else None,
            )
        )
    counted = bool(doc) and doc.get("status") == "counted"
    return BallotOut(
        call_id=call["_id"],
        rule=setup.rule.as_dict(),
        counted=counted,
        changed=counted and sorted(doc["lines"]) != sorted(doc["counted"]),  # type: ignore[index]
        checked_out_at=doc.get("checked_out_at") if doc else None,
        open=_vote_open(call, utcnow()),
        headings=headings,
    )


async def my_ballot(mongo: Mongo, principal: Principal, call_id: str) -> BallotOut:
    call = await calls.call(mongo.db, call_id)
    setup = _setup_of(call)
    proposals, where = await _context(mongo.db, call, setup)
    postcode, resident, _ = await _residency(mongo.db, call, principal)
    doc = await calls.ballot(mongo.db, call_id, principal.sub)
    return _ballot_out(call, setup, doc, proposals, where, postcode, resident)


async def _voter_checks(src: store.Source, call: Doc, principal: Principal) -> tuple[str | None, bool]:
    _require_verified(principal)
    _require_vote_open(call, utcnow())
    postcode, resident, refusal = await _residency(src, call, principal)
    if not resident:
        raise DomainError("not_resident", 403, refusal)
    return postcode, resident


async def add_line(mongo: Mongo, principal: Principal, call_id: str, proposal_id: str) -> BallotOut:
    call = await calls.call(mongo.db, call_id)
    setup = _setup_of(call)
    postcode, resident = await _voter_checks(mongo.db, call, principal)

    async def work(tx: Tx) -> BallotOut:
        proposals, where = await _context(tx, call, setup)
        if proposal_id not in where:
            raise DomainError("not_on_ballot", 404, "this proposal is not put to the vote in this call")
        heading = where[proposal_id]
        if not may_vote_in(heading, postcode, resident):
            raise DomainError("not_your_heading", 403, f"“{heading.name}” is voted by its own neighbourhoods")
        doc = await calls.ballot(tx, call_id, principal.sub) or {
            "_id": f"{call_id}|{principal.sub}", "call_id": call_id, "voter_id": principal.sub,
            "channel": "online", "status": "draft", "lines": [], "counted": [],
        }  # fmt: skip
        lines = _lines(call, doc["lines"], proposals, where, heading.key)
        new = Line(proposal_id, _amount(call, proposals[proposal_id]))
        if refusal := add_refusal(setup.rule, heading.budget, lines, new):
            raise DomainError("line_refused", 409, refusal)
        doc = {**doc, "lines": [*doc["lines"], proposal_id], "updated_at": utcnow()}
        await calls.ballots.put(tx, doc)
        return _ballot_out(call, setup, doc, proposals, where, postcode, resident)

    return await mongo.transact(work)


async def remove_line(mongo: Mongo, principal: Principal, call_id: str, proposal_id: str) -> BallotOut:
    call = await calls.call(mongo.db, call_id)
    setup = _setup_of(call)
    postcode, resident = await _voter_checks(mongo.db, call, principal)

    async def work(tx: Tx) -> BallotOut:
        proposals, where = await _context(tx, call, setup)
        doc = await calls.ballot(tx, call_id, principal.sub)
        if doc is not None and proposal_id in doc["lines"]:
            doc = {**doc, "lines": [x for x in doc["lines"] if x != proposal_id], "updated_at": utcnow()}
            await calls.ballots.put(tx, doc)
        return _ballot_out(call, setup, doc, proposals, where, postcode, resident)

    return await mongo.transact(work)


async def checkout(mongo: Mongo, principal: Principal, call_id: str) -> BallotOut:
    """Count this ballot: every heading it touches must be complete by the rule. A later
    checkout replaces this one (until the vote closes)."""
    call = await calls.call(mongo.db, call_id)
    setup = _setup_of(call)
    postcode, resident = await _voter_checks(mongo.db, call, principal)

    async def work(tx: Tx) -> BallotOut:
        proposals, where = await _context(tx, call, setup)
        doc = await calls.ballot(tx, call_id, principal.sub)
        ids = [pid for pid in (doc or {}).get("lines", []) if pid in where]
        if not ids:
            raise DomainError("checkout_refused", 409, "the ballot is empty")
        for h in setup.headings:
            lines = _lines(call, ids, proposals, where, h.key)
            if not lines:
                continue
            if not may_vote_in(h, postcode, resident):
                raise DomainError("not_your_heading", 403, f"“{h.name}” is voted by its own neighbourhoods")
            if refusal := checkout_refusal(setup.rule, h.budget, lines):
                raise DomainError("checkout_refused", 409, f"{h.name}: {refusal}")
        assert doc is not None
        doc = {**doc, "lines": ids, "counted": ids, "status": "counted", "postcode": (postcode or "").upper(),
               "checked_out_at": utcnow()}  # fmt: skip
        doc.update(_fingerprint(call_id, doc))
        await calls.ballots.put(tx, doc)
        return _ballot_out(call, setup, doc, proposals, where, postcode, resident)

    return await mongo.transact(work)


# Paper ballots.


async def enter_paper_ballot(
    mongo: Mongo, principal: Principal, call_id: str, body: PaperBallotIn
) -> PaperBallotOut:
    """An official of the call's city types in a polling station's ballot; who entered it is kept."""
    call = await calls.call(mongo.db, call_id)
    await require_official(mongo.db, principal, call["municipality"], "shortlist")
    setup = _setup_of(call)
    _require_vote_open(call, utcnow())
    muni = await store.municipality(mongo.db, call["municipality"])
    postcode = body.postcode.strip().upper()
    resident = store.territory_of(muni).contains(postcode)
    if not resident:
        raise DomainError("not_resident", 422, f"{postcode} is not a postcode of {muni['name']}")

    async def work(tx: Tx) -> PaperBallotOut:
        proposals, where = await _context(tx, call, setup)
        if len(set(body.lines)) != len(body.lines):
            raise DomainError("paper_ballot_refused", 422, "a proposal is on the ballot twice")
        unknown = [pid for pid in body.lines if pid not in where]
        if unknown:
            raise DomainError(
                "paper_ballot_refused", 422, f"{unknown[0]} is not put to the vote in this call"
            )
        for h in setup.headings:
            lines = _lines(call, body.lines, proposals, where, h.key)
            if lines and not may_vote_in(h, postcode, resident):
                raise DomainError("paper_ballot_refused", 422, f"“{h.name}” is not voted in {postcode}")
            if lines and (refusal := checkout_refusal(setup.rule, h.budget, lines)):
                raise DomainError("paper_ballot_refused", 422, f"{h.name}: {refusal}")
        doc = {
            "_id": f"pb_{uuid.uuid4().hex}", "call_id": call_id, "channel": "paper", "status": "counted",
            "lines": list(body.lines), "counted": list(body.lines), "postcode": postcode,
            "station": body.station.strip(), "entered_by": principal.sub, "entered_at": utcnow(),
        }  # fmt: skip
        doc.update(_fingerprint(call_id, doc))
        await calls.ballots.insert(tx, doc)
        return PaperBallotOut(
            id=doc["_id"], call_id=call_id, station=doc["station"], postcode=postcode, lines=doc["lines"],
            entered_by=principal.sub, entered_at=doc["entered_at"],
        )  # fmt: skip

    return await mongo.transact(work)


# Results, recount, statistics.


def pseudonym(call_id: str, ballot: Doc) -> str:
    """Who cast a counted ballot, as published: a paper ballot's id, or a hash of the voter
    (one per voter and call, unlinkable across calls)."""
    if ballot.get("channel") == "paper":
        return str(ballot["_id"])
    return hashlib.sha256(f"{call_id}|{ballot['voter_id']}".encode()).hexdigest()[:20]


def _fingerprint(call_id: str, ballot: Doc) -> Doc:
    """What a counted ballot stores for the count: its proposals as one grouping `key`, and its
    fingerprint slices (`f0`...) for the digest."""
    parts = ballot_fingerprint(pseudonym(call_id, ballot), ballot["counted"])
    return {"key": ",".join(sorted(ballot["counted"])), **{f"f{i}": p for i, p in enumerate(parts)}}


def count(
    call: Doc, setup: Setup, proposals: dict[str, Doc], where: dict[str, Heading],
    groups: list[tuple[list[str], int]], sums: list[int], channels: dict[str, int],
) -> ResultsOut:  # fmt: skip
    """The result from the stored ballots, given as (proposals chosen, how many ballots chose
    exactly them): per heading, heading_result over the votes in that heading. Pure given its
    inputs, so a recount from the published ballots gives the same answer."""
    votes: Counter[str] = Counter()
    in_heading: Counter[str] = Counter()
    total = 0
    for chosen, n in groups:
        total += n
        mine = {pid for pid in chosen if pid in where}
        votes.update({pid: n for pid in mine})
        in_heading.update({key: n for key in {where[pid].key for pid in mine}})
    headings, ranking = [], []
    for h in setup.headings:
        candidates = [
            Proposal(pid, _amount(call, p), p["submitted_at"].isoformat())
            for pid, p in proposals.items() if pid in where and where[pid].key == h.key
        ]  # fmt: skip
        outcomes = heading_result(candidates, votes, h.budget, setup.tie_break, setup.seed)
        headings.append(
            HeadingResultOut(
                key=h.key, name=h.name, budget=h.budget, priority=h.priority,
                spent=sum(o.amount for o in outcomes if o.selected), ballots=in_heading[h.key],
                outcomes=[HeadingOutcomeOut(proposal_id=o.proposal_id, title=proposals[o.proposal_id]["title"],
                                            votes=o.votes, amount=o.amount, rank=o.rank, selected=o.selected,
                                            why_not=o.why_not) for o in outcomes],  # type: ignore[arg-type]
            )
        )  # fmt: skip
        ranking += [
            RankedOut(proposal_id=o.proposal_id, votes=o.votes,
                      requested=int(proposals[o.proposal_id]["requested_amount"]), award=o.amount,
                      selected=o.selected)
            for o in outcomes
        ]  # fmt: skip
    return ResultsOut(
        call_id=call["_id"],
        final=call.get("vote_closes_at") is not None and utcnow() >= call["vote_closes_at"],
        digest=digest_of_sums(total, sums),
        ballots=total,
        ranking=ranking,
        tie_break=setup.tie_break,
        online_ballots=channels.get("online", 0),
        paper_ballots=channels.get("paper", 0),
        headings=headings,
    )


async def _groups(src: store.Source, call_id: str) -> tuple[list[tuple[list[str], int]], list[int]]:
    rows = await calls.ballot_groups(src, call_id, FINGERPRINT_SLICES)
    groups = [([p for p in str(r["_id"] or "").split(",") if p], int(r["n"])) for r in rows]
    sums = [sum(int(r.get(f"f{i}") or 0) for r in rows) for i in range(FINGERPRINT_SLICES)]
    return groups, sums


async def ballot_results(src: store.Source, call: Doc) -> ResultsOut:
    setup = _setup_of(call)
    proposals, where = await _context(src, call, setup)
    groups, sums = await _groups(src, call["_id"])
    channels = await calls.ballot_counts(src, call["_id"], "channel")
    return count(call, setup, proposals, where, groups, sums, channels)


async def counted_ballots(src: store.Source, call: Doc, offset: int, limit: int) -> CountedBallotsOut:
    """The counted ballots as published (pseudonymous), a page at a time, with the digest of
    all of them (the results' digest): anyone can recount the result and check the digest."""
    _setup_of(call)
    page = await calls.counted_ballots(src, call["_id"], skip=offset, limit=limit + 1)
    groups, sums = await _groups(src, call["_id"])
    total = sum(n for _, n in groups)
    items = [
        CountedBallotOut(
            voter=pseudonym(call["_id"], b), channel=b.get("channel", "online"), lines=b["counted"]
        )
        for b in page[:limit]
    ]
    nxt = offset + limit if len(page) > limit else None
    return CountedBallotsOut(
        call_id=call["_id"], digest=digest_of_sums(total, sums), total=total, items=items, next_offset=nxt
    )


async def statistics(mongo: Mongo, principal: Principal, call_id: str) -> StatisticsOut:
    """Turnout for the city: counted ballots by neighbourhood (postcode) and channel."""
    call = await calls.call(mongo.db, call_id)
    await require_official(mongo.db, principal, call["municipality"], "shortlist")
    _setup_of(call)
    online = await calls.ballot_counts(mongo.db, call_id, "postcode", channel="online")
    paper = await calls.ballot_counts(mongo.db, call_id, "postcode", channel="paper")
    rows = {pc: Counter({"online": online.get(pc, 0), "paper": paper.get(pc, 0)}) for pc in {*online, *paper}}
    out = [
        TurnoutRowOut(postcode=pc, online=c["online"], paper=c["paper"], total=c["online"] + c["paper"])
        for pc, c in sorted(rows.items())
    ]
    return StatisticsOut(
        call_id=call_id, online=sum(r.online for r in out), paper=sum(r.paper for r in out),
        total=sum(r.total for r in out), by_neighbourhood=out,
    )  # fmt: skip


async def forget_voter(tx: Tx, user_id: str) -> None:
    """A deleted person's ballots keep counting under a pseudonym (results stay reproducible)."""
    alias = "deleted-" + hashlib.sha256(user_id.encode()).hexdigest()[:16]
    for ballot in await calls.ballots_by(tx, user_id):
        await calls.ballots.delete(tx, ballot["_id"])
        renamed: dict[str, Any] = {**ballot, "_id": f"{ballot['call_id']}|{alias}", "voter_id": alias}
        if renamed.get("status") == "counted":
            renamed.update(_fingerprint(renamed["call_id"], renamed))
        await calls.ballots.insert(tx, renamed)
