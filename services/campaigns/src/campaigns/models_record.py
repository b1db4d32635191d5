"""Bodies of the project's record (GET /campaigns/{id}/record), its permits and the owner's
confirmation of a city's support item. Money and in-kind are separate objects on purpose."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from .domain_record import PermitDeclarer, PermitStatus, SupportStatus, SupportType
from .models import Strict


class RecordMoney(BaseModel):
    raised: int = Field(description="backers' money received, net of refunds, minor units")
    pledged: int = Field(description="all-or-nothing pledges still promised")
    backers: int
    currency: str


class RecordMatch(BaseModel):
    promised: int = Field(description="what the cities' match commitments promise")
    given: int = Field(description="what they gave (or a call awarded) so far")
    counted: int = Field(description="the part of it that counts toward the goal")


class RecordAward(BaseModel):
    call_id: str
    amount: int = Field(description="the call's award, minor units (also in the match)")
    votes: int | None = Field(default=None, description="the call's votes for this project; none for a jury")


class NeedLine(BaseModel):
    need_id: str
    title: str
    kind: str
    quantity: int
    unit: str
    unit_value: int | None
    counts_toward_goal: bool
    offered: int = Field(description="quantity offered, waiting for the owner's answer")
    accepted: int = Field(description="quantity accepted (delivered included)")
    delivered: int = Field(description="quantity the owner confirmed delivered")
    value_offered: int
    value_accepted: int
    value_delivered: int


class SupportItem(BaseModel):
    id: str = Field(description="label id ~ place in the label's support list")
    label_id: str
    index: int
    municipality: str
    type: SupportType
    description: str
    value: int = Field(description="declared value, minor units (0 when the city gave none)")
    status: SupportStatus


class InKindTotals(BaseModel):
    citizens_delivered: int = Field(description="value of the citizens' help delivered")
    citizens_counted: int = Field(description="the part of it counted toward the goal")
    city_offered: int = Field(description="value of every support item of the cities")
    city_delivered: int = Field(description="value of the items confirmed delivered")


class RecordInKind(BaseModel):
    citizens: list[NeedLine]
    city: list[SupportItem]
    totals: InKindTotals


class PermitOut(BaseModel):
    id: str
    campaign_id: str
    name: str
    authority: str
    declared_by: PermitDeclarer
    municipality: str | None = Field(default=None, description="the city that declared it, if one did")
    status: PermitStatus
    note: str | None = None
    declared_at: datetime
    decided_at: datetime | None = None


class RecordOut(BaseModel):
    campaign_id: str
    goal: int
    progress_bp: int = Field(description="money, counted match and counted in-kind toward the goal")
    money: RecordMoney
    match: RecordMatch
    award: RecordAward | None
    in_kind: RecordInKind
    permits: list[PermitOut]
    permits_pending: bool = Field(description="a required permit is not granted: the payout waits")


class PermitIn(Strict):
    name: str = Field(min_length=2, max_length=140, description="e.g. temporary occupation of the square")
    authority: str = Field(
        min_length=2, max_length=140, description="who grants it, e.g. the city's roads office"
    )


class PermitDecision(Strict):
    decision: Literal["granted", "refused"]
    note: str | None = Field(default=None, max_length=500)


class SupportConfirmation(Strict):
    status: Literal["accepted", "delivered"]
