"""Backers' pledges: create (Idempotency-Key), confirm after Stripe.js, retry a failed charge,
read one's own pledges and receipts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from servicekit.auth import Principal, current_principal
from servicekit.errors import ApiError
from servicekit.mongo import as_utc as when
from servicekit.mongo import utcnow

from . import domain
from .pledges import PledgeBook, setup_open

router = APIRouter(tags=["pledges"])

IdempotencyKey = Header(
    ..., alias="Idempotency-Key", min_length=8, max_length=200, description="unique per intended pledge"
)


class PledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: str = Field(min_length=1, max_length=100)
    amount: int = Field(gt=0, le=100_000_000, description="minor units")
    currency: Literal["EUR", "GBP", "USD", "CHF"]
    tip: int = Field(default=0, ge=0, le=1_000_000, description="optional tip to the platform, minor units")
    public_name: str | None = Field(default=None, min_length=1, max_length=80)
    anonymous: bool = False


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
    )


def _book(request: Request) -> PledgeBook:
    return request.app.state.ctx.extras["pledges"]


async def _own_pledge(request: Request, pledge_id: str, principal: Principal) -> dict[str, Any]:
    doc = await _book(request).store.pledge(pledge_id)
    # Someone else's pledge answers like a missing one: ids are not an oracle.
    if doc is None or (doc["backer_id"] != principal.sub and not principal.is_admin):
        raise ApiError(404, "not_found", "pledge not found")
    return doc


@router.post("/pledges", status_code=201, response_model=PledgeOut)
async def create_pledge(
    body: PledgeIn,
    request: Request,
    principal: Principal = Depends(current_principal),
    idempotency_key: str = IdempotencyKey,
) -> PledgeOut:
    if principal.kind != "user":
        raise ApiError(403, "forbidden", "only people can pledge")
    doc, _created = await _book(request).create(principal, body.model_dump(), idempotency_key)
    return pledge_out(doc)


@router.get("/pledges/{pledge_id}", response_model=PledgeOut)
async def get_pledge(
    pledge_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> PledgeOut:
    return pledge_out(await _own_pledge(request, pledge_id, principal))


@router.post("/pledges/{pledge_id}/confirm", response_model=PledgeOut)
async def confirm_pledge(
    pledge_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> PledgeOut:
    """After Stripe.js saved the card (or completed 3-D Secure): re-fetch the intent, record its
    real status, and charge a card saved for a payment."""
    doc = await _own_pledge(request, pledge_id, principal)
    return pledge_out(await _book(request).refresh(doc))


@router.post("/pledges/{pledge_id}/retry", response_model=PledgeOut)
async def retry_pledge(
    pledge_id: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    idempotency_key: str = IdempotencyKey,
) -> PledgeOut:
    """Try another card: a new SetupIntent for confirmCardSetup (then POST .../confirm)."""
    doc = await _own_pledge(request, pledge_id, principal)
    if doc["backer_id"] != principal.sub:
        raise ApiError(403, "forbidden", "only the backer can retry their payment")
    return pledge_out(await _book(request).retry(doc, idempotency_key))


@router.get("/me/pledges", response_model=PledgePage)
async def my_pledges(
    request: Request,
    principal: Principal = Depends(current_principal),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=100_000),
) -> PledgePage:
    docs = await _book(request).store.pledges_of_backer(principal.sub, limit, offset)
    return PledgePage(items=[pledge_out(d) for d in docs])
