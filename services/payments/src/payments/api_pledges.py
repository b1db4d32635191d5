"""Backers' pledges: create (Idempotency-Key), confirm after Stripe.js, retry a failed charge,
read one's own pledges and receipts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from servicekit.auth import PrincipalDep
from servicekit.errors import DomainError
from servicekit.idempotency import IdempotencyKey
from servicekit.mongo import as_utc as when
from servicekit.mongo import utcnow

from . import domain
from .deps import Pledges
from .pledges import setup_open

router = APIRouter(tags=["pledges"])


class RefundFallback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["refund"]


class CityPoolFallback(BaseModel):
    """The campaign's city's pool taking gifts (GET /campaigns/{id}/fallback-options)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["city_pool"]
    municipality: str | None = Field(default=None, min_length=1, max_length=100)


class CampaignFallback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["campaign"]
    campaign_id: str = Field(min_length=1, max_length=100)


class FallbackOut(BaseModel):
    kind: Literal["refund", "city_pool", "campaign"]
    campaign_id: str | None = None
    municipality: str | None = None
    pool_id: str | None = None
    pool_name: str | None = None
    consent_version: str | None = None
    consented_at: datetime | None = None


class PledgeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "campaign_id": "cmp_2c9a7e4b1d6f4a0e8b3c5d7f9e1a2b6d",
                    "amount": 2_500,
                    "currency": "EUR",
                    "tip": 200,
                    "public_name": "Sofia",
                    "anonymous": False,
                }
            ]
        },
    )

    campaign_id: str = Field(min_length=1, max_length=100)
    amount: int = Field(gt=0, le=100_000_000, description="minor units")
    currency: Literal["EUR", "GBP", "USD", "CHF"]
    tip: int = Field(default=0, ge=0, le=1_000_000, description="optional tip to the platform, minor units")
    public_name: str | None = Field(default=None, min_length=1, max_length=80)
    anonymous: bool = False
    # What happens if the campaign fails or is canceled (README, "If a campaign fails: the
    # backer's choice"); anything but a refund needs the backer's consent.
    fallback: Annotated[RefundFallback | CityPoolFallback | CampaignFallback, Field(discriminator="kind")] = (
        RefundFallback(kind="refund")
    )
    fallback_consent: bool = False


class ReceiptOut(BaseModel):
    payment_id: str
    payment_intent_id: str
    amount: int
    tip: int
    total: int
    currency: str
    paid_at: datetime
    refunded: bool


class PledgeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "plg_7d3e9a1c5b2f4e8a9c0d1e2f3a4b5c6d",
                    "campaign_id": "cmp_2c9a7e4b1d6f4a0e8b3c5d7f9e1a2b6d",
                    "amount": 2_500,
                    "tip": 200,
                    "currency": "EUR",
                    "funding_model": "all_or_nothing",
                    "status": "pending",
                    "anonymous": False,
                    "public_name": "Sofia",
                    "created_at": "2027-02-03T10:15:00Z",
                    "next_action": "confirm_card_setup",
                    "intent_kind": "setup_intent",
                    "client_secret": "seti_1Q2w3E4r5T6y7U8i_secret_9O0p1A2s3D4f5G6h",
                }
            ]
        }
    )

    id: str
    campaign_id: str
    amount: int
    tip: int
    currency: str
    funding_model: str
    status: str
    anonymous: bool
    public_name: str | None = None
    created_at: datetime
    # What the browser does next (the README's checkout); the client secret is only given while
    # Stripe.js has something to confirm: confirmCardSetup (setup_intent) or confirmCardPayment
    # (payment_intent, 3-D Secure).
    next_action: Literal["confirm_card_setup", "confirm_card_payment", "retry"] | None = None
    intent_kind: Literal["setup_intent", "payment_intent"] | None = None
    client_secret: str | None = None
    retry_until: datetime | None = None
    failure_reason: str | None = None
    receipt: ReceiptOut | None = None
    fallback: FallbackOut = FallbackOut(kind="refund")
    # The pledge this one was moved from (its campaign ended), or the one it was moved to.
    fallback_of: str | None = None
    fallback_pledge_id: str | None = None
    # A city_pool choice honoured: the gift to the pool, charged on the saved card (pool_gifts/).
    gift_status: Literal["pending", "given", "failed"] | None = None


class PledgePage(BaseModel):
    items: list[PledgeOut]


def pledge_out(doc: dict[str, Any]) -> PledgeOut:
    receipt = None
    if doc.get("paid_at"):
        tip = doc.get("tip", 0)
        receipt = ReceiptOut(
            payment_id=doc["payment_id"],
            payment_intent_id=doc["payment_intent_id"],
            amount=doc["amount"],
            tip=tip,
            total=doc["amount"] + tip,
            currency=doc["currency"],
            paid_at=when(doc["paid_at"]),
            refunded=doc["status"] == "refunded",
        )
    retry_until = when(doc.get("retry_until"))
    action = domain.next_action(doc["status"], setup_open(doc), retry_until, utcnow())
    choice = doc.get("fallback") or {"kind": "refund"}
    confirming = action in ("confirm_card_setup", "confirm_card_payment")
    return PledgeOut(
        id=doc["_id"],
        campaign_id=doc["campaign_id"],
        amount=doc["amount"],
        tip=doc.get("tip", 0),
        currency=doc["currency"],
        funding_model=doc["funding_model"],
        status=doc["status"],
        anonymous=bool(doc.get("anonymous")),
        public_name=doc.get("public_name"),
        created_at=when(doc["created_at"]),
        next_action=action,
        intent_kind=doc.get("intent_kind") if confirming else None,
        client_secret=doc.get("client_secret") if confirming else None,
        retry_until=retry_until,
        failure_reason=doc.get("failure_reason"),
        receipt=receipt,
        fallback=FallbackOut(**{k: when(v) if k == "consented_at" else v for k, v in choice.items()}),
        fallback_of=doc.get("fallback_of"),
        fallback_pledge_id=doc.get("fallback_pledge_id"),
        gift_status=doc.get("gift_status"),
    )


@router.post("/pledges", status_code=201, response_model=PledgeOut)
async def create_pledge(
    body: PledgeIn, principal: PrincipalDep, idempotency_key: IdempotencyKey, pledges: Pledges
) -> PledgeOut:
    """A pledge and its SetupIntent: the browser saves the card (README, checkout)."""
    if principal.kind != "user":
        raise DomainError("forbidden", 403, "only people can pledge")
    return pledge_out(await pledges.create(principal, body.model_dump(), idempotency_key))


@router.get("/pledges/{pledge_id}", response_model=PledgeOut)
async def get_pledge(pledge_id: str, principal: PrincipalDep, pledges: Pledges) -> PledgeOut:
    return pledge_out(await pledges.own(pledge_id, principal))


@router.post("/pledges/{pledge_id}/confirm", response_model=PledgeOut)
async def confirm_pledge(pledge_id: str, principal: PrincipalDep, pledges: Pledges) -> PledgeOut:
    """After Stripe.js saved the card (or completed 3-D Secure): re-fetch the intent, record its
    real status, and charge a card saved for a payment."""
    return pledge_out(await pledges.confirm(pledge_id, principal))


@router.post("/pledges/{pledge_id}/retry", response_model=PledgeOut)
async def retry_pledge(
    pledge_id: str, principal: PrincipalDep, idempotency_key: IdempotencyKey, pledges: Pledges
) -> PledgeOut:
    """Try another card: a new SetupIntent for confirmCardSetup (then POST .../confirm)."""
    return pledge_out(await pledges.retry(pledge_id, principal, idempotency_key))


@router.get("/me/pledges", response_model=PledgePage)
async def my_pledges(
    principal: PrincipalDep,
    pledges: Pledges,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=100_000),
) -> PledgePage:
    return PledgePage(items=[pledge_out(d) for d in await pledges.of_backer(principal, limit, offset)])
