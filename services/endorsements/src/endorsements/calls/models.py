"""What the call-for-projects routes accept and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from ..fields import Category, Currency, Id, Money, Postcode

SelectionMode = Literal["jury", "vote", "jury_then_vote"]


class Eligibility(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: list[Category] = Field(default_factory=list, max_length=30)
    territory_only: bool = True


class CallIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Budget participatif 2027: des places pour tous",
                    "theme": "espaces publics",
                    "description": "Projects that open Montreuil's squares, parks and streets to everyone.",
                    "eligibility": {"categories": ["public_space", "sport"], "territory_only": True},
                    "budget": 20_000_000,
                    "max_award": 3_000_000,
                    "currency": "EUR",
                    "submission_opens_at": "2027-01-10T09:00:00+01:00",
                    "submission_closes_at": "2027-03-10T18:00:00+01:00",
                    "vote_opens_at": "2027-03-20T09:00:00+01:00",
                    "vote_closes_at": "2027-04-03T18:00:00+02:00",
                    "winners": 8,
                    "selection_mode": "jury_then_vote",
                    "votes_per_resident": 3,
                }
            ]
        },
    )

    title: str = Field(min_length=3, max_length=140)
    theme: str = Field(default="", max_length=120)
    description: str = Field(default="", max_length=10_000)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    budget: Money
    max_award: Money
    currency: Currency
    submission_opens_at: AwareDatetime
    submission_closes_at: AwareDatetime
    vote_opens_at: AwareDatetime | None = None
    vote_closes_at: AwareDatetime | None = None
    winners: int = Field(default=1, ge=1, le=200)
    selection_mode: SelectionMode = "jury"
    votes_per_resident: int = Field(default=3, ge=1, le=50)


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    submission_closes_at: AwareDatetime | None = None
    vote_opens_at: AwareDatetime | None = None
    vote_closes_at: AwareDatetime | None = None


class ProposalIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Picnic tables in the Montreau park",
                    "summary": "Six picnic tables and a drinking fountain for the shared Sunday lunches.",
                    "category": "public_space",
                    "requested_amount": 180_000,
                    "goal": 360_000,
                    "postcode": "93100",
                }
            ]
        },
    )

    title: str = Field(min_length=3, max_length=140)
    summary: str = Field(min_length=10, max_length=5000)
    category: Category | None = None
    requested_amount: Money
    goal: Money | None = Field(default=None, description="the campaign goal if it becomes a campaign")
    postcode: Postcode
    lat: float | None = Field(
        default=None,
        ge=-90,
        le=90,
        description="where the project is (a city whose territory is a polygon needs it)",
    )
    lon: float | None = Field(default=None, ge=-180, le=180)
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


class CallOut(BaseModel):
    id: str
    municipality: str
    title: str
    theme: str | None
    description: str | None
    eligibility: dict[str, Any] | None
    budget: int
    max_award: int
    currency: str
    submission_opens_at: datetime
    submission_closes_at: datetime
    vote_opens_at: datetime | None
    vote_closes_at: datetime | None
    winners: int
    selection_mode: SelectionMode
    votes_per_resident: int
    status: Literal["open", "closed", "decided"]
    ballot: BallotSetupOut | None = Field(
        default=None, description="the vote's rule, headings and tie-break, once the city set them"
    )

    @classmethod
    def of(cls, c: dict[str, Any]) -> CallOut:
        return cls(id=c["_id"], **{k: c.get(k) for k in cls.model_fields if k != "id"})


class CallsOut(BaseModel):
    items: list[CallOut]


class ProposalOut(BaseModel):
    id: str
    call_id: str
    title: str
    summary: str
    category: str | None
    requested_amount: int
    goal: int | None
    postcode: str | None
    campaign_id: str | None
    status: Literal["submitted", "shortlisted", "selected", "not_selected"]
    note: str | None
    award: int | None
    submitted_at: datetime

    @classmethod
    def of(cls, p: dict[str, Any]) -> ProposalOut:
        return cls(id=p["_id"], **{k: p.get(k) for k in cls.model_fields if k != "id"})


class ProposalsOut(BaseModel):
    items: list[ProposalOut]


class VoteOut(BaseModel):
    proposal_id: str
    votes_left: int


class RankedOut(BaseModel):
    proposal_id: str
    votes: int
    requested: int
    award: int
    selected: bool


class HeadingOutcomeOut(BaseModel):
    proposal_id: str
    title: str
    votes: int
    amount: int
    rank: int
    selected: bool
    why_not: Literal["budget", "no_votes"] | None


class HeadingResultOut(BaseModel):
    key: str
    name: str
    budget: int
    spent: int
    priority: bool
    ballots: int = Field(description="counted ballots with at least one line in this heading")
    outcomes: list[HeadingOutcomeOut]


class ResultsOut(BaseModel):
    call_id: str
    final: bool = Field(description="true once the vote closed")
    digest: str = Field(description="fingerprint of the proposals and ballots: same inputs, same digest")
    ballots: int
    ranking: list[RankedOut]
    tie_break: str | None = Field(
        default=None, description="ballot calls: the rule published before the vote"
    )
    online_ballots: int = 0
    paper_ballots: int = 0
    headings: list[HeadingResultOut] = Field(default_factory=list, description="ballot calls only")


# The ballot of a participatory budget.

RuleKind = Literal["approval", "knapsack", "threshold"]
TieBreak = Literal["earliest_submission", "lowest_amount", "draw"]
HeadingKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,40}$")]


class BallotRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: RuleKind = Field(
        description="approval: up to max_lines proposals (CONSUL max_ballot_lines); knapsack: amounts fit "
        "in the heading's budget (CONSUL); threshold: spend min_percent..100 % of it (Decidim "
        "vote_rule_threshold_percent), with min_projects / max_projects (vote_rule_minimum_budget_projects, "
        "vote_rule_selected_projects)"
    )
    max_lines: int | None = Field(default=None, ge=1, le=200)
    min_percent: int | None = Field(default=None, ge=1, le=100)
    min_projects: int | None = Field(default=None, ge=1, le=200)
    max_projects: int | None = Field(default=None, ge=1, le=200)


class HeadingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: HeadingKey
    name: str = Field(min_length=2, max_length=120)
    budget: Money
    postcodes: list[Postcode] = Field(
        default_factory=list, max_length=200, description="who votes and which proposals; empty: city-wide"
    )
    priority: bool = Field(default=False, description="reserved for priority neighbourhoods")


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proposal_id: Id
    heading: HeadingKey


class BallotSetupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: BallotRuleIn
    headings: list[HeadingIn] = Field(min_length=1, max_length=50)
    tie_break: TieBreak
    seed: str = Field(default="", max_length=200, description="the draw's seed, published with the rule")
    assign: list[AssignIn] = Field(
        default_factory=list,
        max_length=500,
        description="proposals the city puts in a heading (else by postcode)",
    )


class BallotSetupOut(BaseModel):
    rule: dict[str, Any]
    headings: list[dict[str, Any]]
    tie_break: str
    seed: str
    assign: dict[str, str]


class BallotLineOut(BaseModel):
    proposal_id: str
    title: str
    amount: int


class BallotHeadingOut(BaseModel):
    key: str
    name: str
    budget: int
    priority: bool
    may_vote: bool = Field(description="whether this resident votes in this heading")
    total: int = Field(description="the running total of this heading's lines")
    left: int
    lines: list[BallotLineOut]
    refusal: str | None = Field(description="why this heading's lines cannot be checked out yet, or null")


class BallotOut(BaseModel):
    call_id: str
    rule: dict[str, Any]
    counted: bool = Field(description="a checked-out ballot is counted (the last checkout counts)")
    changed: bool = Field(description="lines changed since the last checkout (check out again to count them)")
    checked_out_at: datetime | None
    open: bool = Field(description="the vote is open: the ballot can change")
    headings: list[BallotHeadingOut]


class PaperBallotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station: str = Field(min_length=2, max_length=120, description="the polling station")
    postcode: Postcode = Field(description="the voter's neighbourhood, checked by the station")
    lines: list[Id] = Field(min_length=1, max_length=200, description="proposal ids")


class PaperBallotOut(BaseModel):
    id: str
    call_id: str
    station: str
    postcode: str
    lines: list[str]
    entered_by: str
    entered_at: datetime


class CountedBallotOut(BaseModel):
    voter: str = Field(description="a pseudonym (online) or the paper ballot's id")
    channel: Literal["online", "paper"]
    lines: list[str]


class CountedBallotsOut(BaseModel):
    call_id: str
    digest: str = Field(description="ballots_digest of every counted ballot (the results' digest)")
    total: int
    items: list[CountedBallotOut]
    next_offset: int | None


class TurnoutRowOut(BaseModel):
    postcode: str
    online: int
    paper: int
    total: int


class StatisticsOut(BaseModel):
    call_id: str
    online: int
    paper: int
    total: int
    by_neighbourhood: list[TurnoutRowOut]


class WinnerOut(BaseModel):
    proposal_id: str
    award: int


class SelectionOut(BaseModel):
    call_id: str
    winners: list[WinnerOut]
