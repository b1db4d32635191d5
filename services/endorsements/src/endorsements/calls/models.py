"""What the call-for-projects routes accept and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..fields import Category, Currency, Id, Money, Postcode

SelectionMode = Literal["jury", "vote", "jury_then_vote"]


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
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=3, max_length=140)
    summary: str = Field(min_length=10, max_length=5000)
    category: Category | None = None
    requested_amount: Money
    goal: Money | None = Field(default=None, description="the campaign goal if it becomes a campaign")
    postcode: Postcode
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


class ResultsOut(BaseModel):
    call_id: str
    final: bool = Field(description="true once the vote closed")
    digest: str = Field(description="fingerprint of the proposals and ballots: same inputs, same digest")
    ballots: int
    ranking: list[RankedOut]


class WinnerOut(BaseModel):
    proposal_id: str
    award: int


class SelectionOut(BaseModel):
    call_id: str
    winners: list[WinnerOut]
