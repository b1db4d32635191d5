"""Admins' refunds after success (one pledge, or every backer of a campaign that will not
happen) and the disputes list: refunds.py, disputes.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from servicekit.auth import AdminDep
from servicekit.idempotency import IdempotencyKey
from servicekit.mongo import as_utc as when

from .deps import DisputesDep, RefundsDep

router = APIRouter(tags=["refunds"])
STRIPE_DOWN = {502: {"description": "Stripe did not answer or refused the request (payment_provider_error)"}}


class RefundIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"amount": 1_000, "reason": "Charged twice by mistake"}]},
    )

    amount: int | None = Field(
        default=None, gt=0, le=100_000_000, description="minor units; omitted: all that is left"
    )
    reason: str = Field(min_length=3, max_length=500)


class RefundOut(BaseModel):
    pledge_id: str
    campaign_id: str
    refund_id: str
    amount: int
    currency: str
    reason: str
    status: str
    left_to_refund: int


class CampaignRefundIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "The city withdrew the site: the project will not happen"}]
        },
    )

    reason: str = Field(min_length=3, max_length=500)


class CampaignRefundOut(BaseModel):
    campaign_id: str
    reason: str
    pledges_to_refund: int = Field(description="paid pledges now refund_due (the charger refunds them)")
    payouts_stopped: int


class DisputeOut(BaseModel):
    id: str
    campaign_id: str
    pledge_id: str
    amount: int
    currency: str
    reason: str | None = None
    status: str
    open: bool
    created_at: datetime
    closed_at: datetime | None = None


class DisputePage(BaseModel):
    items: list[DisputeOut]


def dispute_out(doc: dict[str, Any]) -> DisputeOut:
    return DisputeOut(
        id=doc["_id"],
        campaign_id=doc["campaign_id"],
        pledge_id=doc["pledge_id"],
        amount=doc["amount"],
        currency=doc["currency"],
        reason=doc.get("reason"),
        status=doc["status"],
        open=bool(doc.get("open")),
        created_at=when(doc["created_at"]),
        closed_at=when(doc.get("closed_at")),
    )


@router.post("/pledges/{pledge_id}/refund", response_model=RefundOut, responses=STRIPE_DOWN)
async def refund_pledge(
    pledge_id: str, body: RefundIn, principal: AdminDep, idempotency_key: IdempotencyKey, refunds: RefundsDep
) -> RefundOut:
    """Admins: refund a paid pledge, all that is left of it or `amount`; journaled once."""
    answer = await refunds.refund_pledge(pledge_id, principal, body.amount, body.reason, idempotency_key)
    return RefundOut(**answer)


@router.post("/campaigns/{campaign_id}/refund-all", response_model=CampaignRefundOut, status_code=202)
async def refund_campaign(
    campaign_id: str,
    body: CampaignRefundIn,
    principal: AdminDep,
    idempotency_key: IdempotencyKey,
    refunds: RefundsDep,
) -> CampaignRefundOut:
    """Admins: the project will not happen. Every paid pledge is refunded (in the background,
    `refund_due` then `refunded`), the campaign's payouts that have not left fail with
    `campaign_refunded` and no later one is made."""
    return CampaignRefundOut(
        **await refunds.refund_campaign(campaign_id, principal, body.reason, idempotency_key)
    )


@router.get("/disputes", response_model=DisputePage)
async def list_disputes(
    principal: AdminDep,
    disputes: DisputesDep,
    status: Literal["open", "all"] = Query("open"),
    limit: int = Query(50, ge=1, le=200),
) -> DisputePage:
    """Admins: the backers' banks' disputes, newest first (open ones hold their campaign's payout)."""
    return DisputePage(items=[dispute_out(d) for d in await disputes.listing(status == "open", limit)])
