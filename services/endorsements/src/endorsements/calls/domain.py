"""Calls for projects: windows, who may vote on what, and reproducible results."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SELECTION_MODES = ("jury", "vote", "jury_then_vote")


class CallRuleError(ValueError):
    pass


def check_windows(
    submission_opens_at: datetime,
    submission_closes_at: datetime,
    vote_opens_at: datetime | None,
    vote_closes_at: datetime | None,
    selection_mode: str,
) -> None:
    if submission_closes_at <= submission_opens_at:
        raise CallRuleError("the submission window must close after it opens")
    needs_vote = selection_mode in ("vote", "jury_then_vote")
    if needs_vote and (vote_opens_at is None or vote_closes_at is None):
        raise CallRuleError(f"selection mode {selection_mode} needs a vote window")
    if vote_opens_at is not None or vote_closes_at is not None:
        if vote_opens_at is None or vote_closes_at is None:
            raise CallRuleError("a vote window needs both vote_opens_at and vote_closes_at")
        if vote_closes_at <= vote_opens_at:
            raise CallRuleError("the vote window must close after it opens")
        if vote_opens_at < submission_closes_at:
            raise CallRuleError("voting opens once submissions are closed")


def submission_refusal(call: dict[str, Any], now: datetime) -> str | None:
    if call["status"] != "open":
        return f"the call is {call['status']}"
    if now < call["submission_opens_at"]:
        return "submissions are not open yet"
    if now >= call["submission_closes_at"]:
        return "submissions are closed"
    return None


def eligibility_refusal(call: dict[str, Any], category: str | None, in_territory: bool) -> str | None:
    categories = call.get("eligibility", {}).get("categories") or []
    if categories and category not in categories:
        return f"category must be one of: {', '.join(categories)}"
    if call.get("eligibility", {}).get("territory_only", True) and not in_territory:
        return "the project must be located in the city's territory"
    return None


def vote_refusal(
    call: dict[str, Any], proposal: dict[str, Any], votes_already: int, is_resident: bool, now: datetime
) -> str | None:
    if call["selection_mode"] == "jury":
        return "this call is decided by a jury, without a vote"
    if call["status"] != "open":
        return f"the call is {call['status']}"
    if call.get("vote_opens_at") is None or now < call["vote_opens_at"]:
        return "voting is not open yet"
    if now >= call["vote_closes_at"]:
        return "voting is closed"
    if not is_resident:
        return "only residents (by declared postcode) can vote"
    if call["selection_mode"] == "jury_then_vote" and proposal["status"] != "shortlisted":
        return "only shortlisted proposals are put to the vote"
    if proposal["status"] not in ("submitted", "shortlisted"):
        return f"the proposal is {proposal['status']}"
    if votes_already >= int(call["votes_per_resident"]):
        return f"each resident has {call['votes_per_resident']} votes in this call"
    return None


@dataclass(frozen=True)
class Ranked:
    proposal_id: str
    votes: int
    requested: int
    award: int
    selected: bool


def rank(
    proposals: list[dict[str, Any]], votes: dict[str, int], budget: int, max_award: int, winners: int
) -> list[Ranked]:
    """Most votes first; ties by earlier submission then id, so the same data always gives
    the same result. Winners are taken in order while the budget lasts (a proposal whose
    award no longer fits is skipped, the next smaller one may still fit)."""
    ordered = sorted(proposals, key=lambda p: (-votes.get(p["_id"], 0), p["submitted_at"], p["_id"]))
    left, chosen = budget, 0
    out = []
    for p in ordered:
        award = min(int(p["requested_amount"]), max_award)
        take = chosen < winners and award <= left and votes.get(p["_id"], 0) > 0
        if take:
            left -= award
            chosen += 1
        out.append(Ranked(p["_id"], votes.get(p["_id"], 0), int(p["requested_amount"]), award, take))
    return out


def results_digest(proposal_ids: list[str], ballots: list[tuple[str, str]]) -> str:
    """A fingerprint of the inputs: anyone with the same ballots gets the same digest and ranking."""
    payload = json.dumps(
        {"proposals": sorted(proposal_ids), "ballots": sorted(ballots)}, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def jury_refusal(selection: list[tuple[str, int]], budget: int, max_award: int, winners: int) -> str | None:
    if len(selection) > winners:
        return f"this call has {winners} winners"
    if len({pid for pid, _ in selection}) != len(selection):
        return "a proposal is selected twice"
    if any(award > max_award for _, award in selection):
        return f"an award exceeds the maximum of {max_award}"
    if sum(award for _, award in selection) > budget:
        return "the awards exceed the call's budget"
    return None
