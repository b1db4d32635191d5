"""Ballot rules of a participatory budget: what a resident's ballot may hold, and the result.

A call chooses one rule for every heading (a heading is a share of the call's budget with its own
voters: city-wide, one per district, one reserved for priority neighbourhoods):

* `approval` — choose up to `max_lines` proposals (CONSUL's approval voting,
  `Budget::Heading#max_ballot_lines`).
* `knapsack` — choose proposals whose requested amounts fit in the heading's budget (CONSUL's
  default "knapsack" voting: the ballot's total may not exceed the heading's price).
* `threshold` — the ballot must spend between `min_percent` % and 100 % of the heading's
  budget, optionally with at least `min_projects`, or between `min_projects` and
  `max_projects` proposals (Decidim budgets' `vote_rule_threshold_percent`,
  `vote_rule_minimum_budget_projects`, `vote_rule_selected_projects`).

A ballot is built line by line (`add_refusal` says why a line cannot go in, with the running
total), then checked out (`checkout_refusal`): only a complete ballot counts. The result of a
heading (`heading_result`) ranks proposals by votes and takes winners in that order while the
budget lasts (CONSUL's `Budget::Result`); ties are broken by the rule the city published before
the vote (`TIE_BREAKS`), so anyone holding the stored ballots recomputes the same winners.

Pure: no I/O, money in integer minor units.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RULES = ("approval", "knapsack", "threshold")
TIE_BREAKS = ("earliest_submission", "lowest_amount", "draw")


class BallotRuleError(ValueError):
    """A call's ballot rule that cannot work (checked when the city sets it)."""


@dataclass(frozen=True)
class BallotRule:
    kind: str
    max_lines: int | None = None  # approval
    min_percent: int | None = None  # threshold: the least share of the budget a ballot spends
    min_projects: int | None = None  # threshold
    max_projects: int | None = None  # threshold

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> BallotRule:
        rule = cls(
            kind=str(raw.get("kind", "")),
            max_lines=_opt_int(raw.get("max_lines")),
            min_percent=_opt_int(raw.get("min_percent")),
            min_projects=_opt_int(raw.get("min_projects")),
            max_projects=_opt_int(raw.get("max_projects")),
        )
        rule.check()
        return rule

    def check(self) -> None:
        if self.kind not in RULES:
            raise BallotRuleError(f"the ballot rule must be one of: {', '.join(RULES)}")
        if self.kind == "approval":
            if not self.max_lines or self.max_lines < 1:
                raise BallotRuleError("approval voting needs max_lines (at least 1)")
            if self.min_percent is not None or self.min_projects or self.max_projects:
                raise BallotRuleError("approval voting takes only max_lines")
        if self.kind == "knapsack" and (
            self.max_lines is not None
            or self.min_percent is not None
            or self.min_projects
            or self.max_projects
        ):
            raise BallotRuleError("knapsack voting takes no option: the heading's budget is the limit")
        if self.kind == "threshold":
            if self.max_lines is not None:
                raise BallotRuleError("threshold voting takes min_percent, min_projects, max_projects")
            if self.min_percent is None or not 0 < self.min_percent <= 100:
                raise BallotRuleError("threshold voting needs min_percent between 1 and 100")
            if self.min_projects is not None and self.min_projects < 1:
                raise BallotRuleError("min_projects must be at least 1")
            if self.max_projects is not None:
                if self.max_projects < 1:
                    raise BallotRuleError("max_projects must be at least 1")
                if self.min_projects is not None and self.max_projects < self.min_projects:
                    raise BallotRuleError("max_projects must be at least min_projects")

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _opt_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BallotRuleError("ballot rule options are whole numbers")
    try:
        return int(value)
    except ValueError as exc:
        raise BallotRuleError("ballot rule options are whole numbers") from exc


@dataclass(frozen=True)
class Line:
    proposal_id: str
    amount: int  # what the proposal asks for (minor units)


def total(lines: Iterable[Line]) -> int:
    return sum(line.amount for line in lines)


def add_refusal(rule: BallotRule, budget: int, lines: Sequence[Line], new: Line) -> str | None:
    """Why `new` cannot be added to a ballot that holds `lines`, or None. Rules that bound a
    maximum are enforced while building; minimums only at checkout (a ballot grows into them)."""
    if any(line.proposal_id == new.proposal_id for line in lines):
        return "this proposal is already on the ballot"
    if rule.kind == "approval":
        if len(lines) >= (rule.max_lines or 0):
            return f"a ballot holds at most {rule.max_lines} proposals"
        return None
    if total(lines) + new.amount > budget:
        return f"it would take the ballot over the budget ({total(lines) + new.amount} > {budget})"
    if rule.kind == "threshold" and rule.max_projects is not None and len(lines) >= rule.max_projects:
        return f"a ballot holds at most {rule.max_projects} proposals"
    return None


def checkout_refusal(rule: BallotRule, budget: int, lines: Sequence[Line]) -> str | None:
    """Why this ballot cannot be checked out (counted), or None."""
    if not lines:
        return "the ballot is empty"
    if len({line.proposal_id for line in lines}) != len(lines):
        return "a proposal is on the ballot twice"
    spent = total(lines)
    if rule.kind == "approval":
        if len(lines) > (rule.max_lines or 0):
            return f"a ballot holds at most {rule.max_lines} proposals"
        return None
    if spent > budget:
        return f"the ballot spends {spent}, more than the budget of {budget}"
    if rule.kind == "threshold":
        least = -(-budget * (rule.min_percent or 0) // 100)  # rounded up: "at least X %"
        if spent < least:
            return f"the ballot must spend at least {rule.min_percent} % of the budget ({least})"
        if rule.min_projects is not None and len(lines) < rule.min_projects:
            return f"a ballot holds at least {rule.min_projects} proposals"
        if rule.max_projects is not None and len(lines) > rule.max_projects:
            return f"a ballot holds at most {rule.max_projects} proposals"
    return None


def tally(ballots: Iterable[Iterable[str]]) -> Counter[str]:
    """Votes per proposal: one per checked-out ballot that holds it (paper ballots included)."""
    votes: Counter[str] = Counter()
    for ballot in ballots:
        votes.update(set(ballot))
    return votes


@dataclass(frozen=True)
class Proposal:
    proposal_id: str
    amount: int
    submitted_at: str  # ISO time: a total order for the "earliest_submission" tie-break


@dataclass(frozen=True)
class Outcome:
    proposal_id: str
    votes: int
    amount: int
    rank: int
    selected: bool
    why_not: str | None  # "budget" (did not fit) | "no_votes" | None


def _tie_key(tie_break: str, seed: str) -> Any:
    if tie_break not in TIE_BREAKS:
        raise BallotRuleError(f"the tie-break must be one of: {', '.join(TIE_BREAKS)}")
    if tie_break == "earliest_submission":
        return lambda p: (p.submitted_at, p.proposal_id)
    if tie_break == "lowest_amount":
        return lambda p: (p.amount, p.submitted_at, p.proposal_id)
    # A draw fixed by a seed published before the vote: the order is a hash of seed + id, so it
    # cannot be steered once the seed is out and anyone can recompute it.
    return lambda p: (hashlib.sha256(f"{seed}:{p.proposal_id}".encode()).hexdigest(), p.proposal_id)


def heading_result(
    proposals: Sequence[Proposal], votes: Mapping[str, int], budget: int, tie_break: str, seed: str = ""
) -> list[Outcome]:
    """Most votes first (ties by the published rule); winners taken in that order while the
    budget lasts: a proposal that no longer fits is skipped and a cheaper one below may still
    win (CONSUL's result). A proposal nobody voted for never wins."""
    key = _tie_key(tie_break, seed)
    ordered = sorted(proposals, key=lambda p: (-votes.get(p.proposal_id, 0), key(p)))
    left = budget
    out = []
    for rank, p in enumerate(ordered, start=1):
        n = votes.get(p.proposal_id, 0)
        if n == 0:
            out.append(Outcome(p.proposal_id, 0, p.amount, rank, False, "no_votes"))
        elif p.amount <= left:
            left -= p.amount
            out.append(Outcome(p.proposal_id, n, p.amount, rank, True, None))
        else:
            out.append(Outcome(p.proposal_id, n, p.amount, rank, False, "budget"))
    return out


def ballots_digest(ballots: Iterable[tuple[str, Iterable[str]]]) -> str:
    """A fingerprint of the counted ballots (voter pseudonym, proposals): published with the
    result, so a recount from the stored ballots can be checked against it."""
    h = hashlib.sha256()
    for voter, chosen in sorted((v, sorted(c)) for v, c in ballots):
        h.update(voter.encode())
        h.update(b"\x00")
        h.update(",".join(chosen).encode())
        h.update(b"\n")
    return h.hexdigest()


# A fingerprint the datastore can add up. Each counted ballot stores four 40-bit slices of the
# hash of (pseudonym, proposals); the digest is the hash of the count and the four sums. It does
# not depend on the ballots' order, so the results route gets it from one `$group` (215,000
# ballots need not be read one by one) and anyone recomputes it from the published ballots.
FINGERPRINT_SLICES = 4
_SLICE_BITS = 40


def ballot_fingerprint(voter: str, chosen: Iterable[str]) -> tuple[int, ...]:
    h = hashlib.sha256(f"{voter}\x00{','.join(sorted(chosen))}".encode()).digest()
    value = int.from_bytes(h, "big")
    mask = (1 << _SLICE_BITS) - 1
    return tuple((value >> (_SLICE_BITS * i)) & mask for i in range(FINGERPRINT_SLICES))


def digest_of_sums(count: int, sums: Sequence[int]) -> str:
    return hashlib.sha256(f"{count}:{':'.join(str(s) for s in sums)}".encode()).hexdigest()


def multiset_digest(ballots: Iterable[tuple[str, Iterable[str]]]) -> str:
    """The digest of the counted ballots (voter pseudonym, proposals), in any order."""
    count, sums = 0, [0] * FINGERPRINT_SLICES
    for voter, chosen in ballots:
        count += 1
        for i, part in enumerate(ballot_fingerprint(voter, chosen)):
            sums[i] += part
    return digest_of_sums(count, sums)
