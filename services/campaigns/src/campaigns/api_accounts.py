"""HTTP: the campaigns a deleted account left behind, for admins: the ones waiting for a
decision, and the decision (use cases: accounts.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from servicekit.auth import AdminDep

from . import accounts
from .deps import Store
from .models import CampaignOut
from .views import campaign_out

router = APIRouter(tags=["campaign lifecycle"])


class OwnerDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["keep", "stop"] = Field(
        description="keep it running without its owner, or stop it (live: canceled, pledges released "
        "and refunded; submitted: rejected)"
    )
    reason: str | None = Field(default=None, min_length=3, max_length=2000)


class OwnerDecisionList(BaseModel):
    items: list[CampaignOut]


@router.get("/owner-decisions", response_model=OwnerDecisionList)
async def awaiting_owner_decision(
    store: Store, principal: AdminDep, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> OwnerDecisionList:
    """Admin: live and submitted campaigns whose owner deleted their account, longest waiting first."""
    docs = await accounts.awaiting(store, limit)
    return OwnerDecisionList(items=[campaign_out(doc, principal) for doc in docs])


@router.post("/campaigns/{campaign_id}/owner-decision", response_model=CampaignOut)
async def decide_owner_deleted(
    campaign_id: str, body: OwnerDecision, store: Store, principal: AdminDep
) -> CampaignOut:
    """Admin: what becomes of a campaign whose owner deleted their account (409
    `no_decision_pending` for any other)."""
    decided = await accounts.decide(store, principal, campaign_id, body.decision, body.reason)
    return campaign_out(decided, principal)
