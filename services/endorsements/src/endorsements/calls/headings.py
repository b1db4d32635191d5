"""A call's vote set-up: its ballot rule, its headings (shares of the budget, each with its
own voters) and the tie-break published before the vote; who may vote in which heading.

CONSUL models a participatory budget as groups of headings, each with its price and its
voters (a city-wide heading, one per district); Paris reserves €30 M of its €100 M a year for
its working-class neighbourhoods, which is a heading whose voters and proposals are those
neighbourhoods'. Here a heading lists the postcodes it serves (none: the whole city).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .ballots import TIE_BREAKS, BallotRule, BallotRuleError


@dataclass(frozen=True)
class Heading:
    key: str
    name: str
    budget: int
    postcodes: tuple[str, ...] = ()  # empty: city-wide
    priority: bool = False  # reserved for priority neighbourhoods (shown as such)

    @property
    def city_wide(self) -> bool:
        return not self.postcodes

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "budget": self.budget,
            "postcodes": list(self.postcodes),
            "priority": self.priority,
        }


@dataclass(frozen=True)
class Setup:
    rule: BallotRule
    headings: tuple[Heading, ...]
    tie_break: str
    seed: str
    assign: Mapping[str, str]  # proposal id -> heading key, where the city placed one by hand

    def heading(self, key: str) -> Heading | None:
        return next((h for h in self.headings if h.key == key), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.as_dict(),
            "headings": [h.as_dict() for h in self.headings],
            "tie_break": self.tie_break,
            "seed": self.seed,
            "assign": dict(self.assign),
        }


def _norm(postcode: str) -> str:
    return postcode.strip().upper()


def parse_setup(raw: Mapping[str, Any], call_budget: int, proposal_ids: Sequence[str] = ()) -> Setup:
    """The set-up the city gives, checked: raises BallotRuleError saying what cannot work."""
    rule = BallotRule.parse(raw.get("rule") or {})
    tie_break = str(raw.get("tie_break", ""))
    if tie_break not in TIE_BREAKS:
        raise BallotRuleError(f"the tie-break must be one of: {', '.join(TIE_BREAKS)}")
    seed = str(raw.get("seed") or "")
    if tie_break == "draw" and not seed:
        raise BallotRuleError("a draw needs a seed, published with the rule before the vote")
    items = raw.get("headings") or []
    if not items:
        raise BallotRuleError("a call's vote needs at least one heading")
    headings = tuple(
        Heading(
            key=str(h["key"]),
            name=str(h["name"]),
            budget=int(h["budget"]),
            postcodes=tuple(sorted({_norm(p) for p in h.get("postcodes") or []})),
            priority=bool(h.get("priority", False)),
        )
        for h in items
    )
    if len({h.key for h in headings}) != len(headings):
        raise BallotRuleError("two headings have the same key")
    if sum(h.budget for h in headings) > call_budget:
        raise BallotRuleError(f"the headings' budgets add up to more than the call's budget ({call_budget})")
    if any(h.priority and h.city_wide for h in headings):
        raise BallotRuleError("a heading for priority neighbourhoods lists their postcodes")
    assign = {str(k): str(v) for k, v in (raw.get("assign") or {}).items()}
    known = set(proposal_ids)
    for pid, key in assign.items():
        if pid not in known:
            raise BallotRuleError(f"{pid} is not a proposal of this call")
        if key not in {h.key for h in headings}:
            raise BallotRuleError(f"{key} is not a heading of this call")
    return Setup(rule, headings, tie_break, seed, assign)


def load_setup(doc: Mapping[str, Any]) -> Setup:
    """A stored set-up (checked when it was stored)."""
    return Setup(
        BallotRule(**doc["rule"]),
        tuple(
            Heading(h["key"], h["name"], int(h["budget"]), tuple(h["postcodes"]), bool(h["priority"]))
            for h in doc["headings"]
        ),
        doc["tie_break"],
        doc.get("seed", ""),
        dict(doc.get("assign") or {}),
    )


def heading_of(setup: Setup, proposal_id: str, postcode: str | None) -> Heading | None:
    """Where a proposal stands: the heading the city put it in, else the first heading serving
    its postcode, else the first city-wide heading (None: in no heading, not on any ballot)."""
    if key := setup.assign.get(proposal_id):
        return setup.heading(key)
    code = _norm(postcode or "")
    return next((h for h in setup.headings if code in h.postcodes), None) or next(
        (h for h in setup.headings if h.city_wide), None
    )


def may_vote_in(heading: Heading, voter_postcode: str | None, resident_of_city: bool) -> bool:
    """Residency: the one place that says who votes in a heading. Today a resident is a
    postcode of the city in the voter's profile (a census file or a postal letter will replace
    it); a city-wide heading takes every resident, a district's only its postcodes."""
    if not resident_of_city or not voter_postcode:
        return False
    return heading.city_wide or _norm(voter_postcode) in heading.postcodes
