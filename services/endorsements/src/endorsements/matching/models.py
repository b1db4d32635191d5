"""What the match-funding routes accept and answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..fields import Currency, Id, Money
from .domain import counts_toward_goal


class MatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pool_id: Id
    condition: Literal["instant", "on_goal_reached", "lump_sum_at_threshold"]
    ratio: float = Field(default=1.0, gt=0, le=10, description="city money per unit contributed")
    cap_per_contribution: Money | None = None
    cap_per_project: Money | None = None
    max_contributions_per_backer: int | None = Field(default=None, ge=1, le=1000)
    min_backers: int | None = Field(default=None, ge=0, le=100_000)
    threshold_percent: int | None = Field(default=None, ge=1, le=100)
    lump_sum: Money | None = None

    def rule(self) -> dict[str, Any]:
        return self.model_dump(exclude={"pool_id"}, exclude_none=True)


class PoolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=3, max_length=120)
    year: int = Field(ge=2000, le=2100)
    budget: int = Field(ge=1, le=10_000_000_000, description="minor units")
    currency: Currency


class PaymentsTallyOut(BaseModel):
    count: int = Field(description="succeeded payments")
    amount: int = Field(description="their sum, minor units, refunds not subtracted")


class CommitmentOut(BaseModel):
    id: str
    campaign_id: str
    municipality: str
    label_id: str | None = Field(description="the label this commitment belongs to")
    endorsement_id: str | None = Field(description="the same as label_id (older name, kept one release)")
    pool_id: str
    currency: str
    rule: dict[str, Any] = Field(description="the commitment's rule (see MatchIn)")
    max_amount: int
    given: int
    status: Literal["active", "closing", "released", "exhausted", "canceled"] = Field(
        description="closing: the keep-it-all campaign has ended but payments it counted have not "
        "all reached match funding yet; they are still matched as they arrive, and the commitment "
        "ends (remainder returned, released or canceled) with the last of them"
    )
    counts_toward_goal: bool
    closing_tally: PaymentsTallyOut | None = Field(
        default=None, description="status closing: the succeeded payments the campaign counted at its end"
    )

    @classmethod
    def of(cls, c: dict[str, Any]) -> CommitmentOut:
        return cls(
            id=c["_id"],
            campaign_id=c["campaign_id"],
            municipality=c["municipality"],
            label_id=c.get("label_id"),
            endorsement_id=c.get("label_id"),
            pool_id=c["pool_id"],
            currency=c["currency"],
            rule=c["rule"],
            max_amount=c["max_amount"],
            given=int(c.get("given", 0)),
            status=c["status"],
            counts_toward_goal=counts_toward_goal(c["rule"]["condition"]),
            closing_tally=PaymentsTallyOut(**c["closing"]["tally"]) if c["status"] == "closing" else None,
        )


class PoolOut(BaseModel):
    id: str
    municipality: str
    name: str
    year: int
    currency: str
    budget: int
    committed: int = Field(description="spent or promised: open commitments hold their maximum")
    given: int
    available: int = Field(description="budget plus residents' gifts, minus what is committed")
    gifts_received: int = Field(default=0, description="residents' gifts added to the budget (pool_gifts/)")
    accepts_gifts: bool = False


class PoolsOut(BaseModel):
    items: list[PoolOut]


class MatchPreviewOut(BaseModel):
    """What a match rule would cost for a label's campaign, before committing it (nothing is
    reserved by asking)."""

    label_id: str
    campaign_id: str
    pool_id: str
    pool_name: str
    currency: str
    goal: int | None = Field(description="the campaign's goal, minor units")
    raised: int = Field(description="charged contributions known now (or the pledged total, if more)")
    backers: int = Field(description="distinct backers of those contributions")
    reserved: int = Field(description="what the commitment holds back in the pool while it is open")
    cost_now: int = Field(description="what the rule would give at the current totals")
    cost_at_goal: int = Field(description="the most it would give once the goal is raised")
    lump_sum_due_now: bool = Field(description="lump_sum_at_threshold: whether it would be due now")
    pool_available: int = Field(description="what the pool has left before this commitment")
    pool_available_after: int = Field(description="what it would have left after reserving")
    fits_pool: bool = Field(description="false: committing would be refused (pool_budget_exceeded)")
