"""What cities owe for their match commitments: officials and admins read a city's dues; a city
manager declares a bank transfer sent, an admin confirms it received; anyone reads a campaign's
match money as promised / due / received (the campaign page)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from servicekit.app import component
from servicekit.auth import PrincipalDep
from servicekit.idempotency import IdempotencyKey

from . import domain
from .usecases import CityDues, _encode

router = APIRouter(tags=["city dues"])
Dues = Annotated[CityDues, Depends(component(CityDues))]
SLUG = r"^[a-z0-9-]{2,60}$"
DUE_ID = r"^[A-Za-z0-9_-]{1,100}$"


class DueOut(BaseModel):
    id: str = Field(description="the match commitment's id")
    campaign_id: str
    campaign_title: str | None = None
    municipality: str
    currency: str
    status: Literal["promised", "canceled", "due", "transfer_declared", "received"]
    promised: int = Field(description="minor units: the most the commitment can cost")
    amount: int = Field(description="minor units: what the city owes (0 until due)")
    method: Literal["invoice", "bank_transfer", "residents_gifts"] | None = None
    settled_from_gifts: int = Field(
        default=0, description="minor units: settled from the residents' gifts its pool holds (pool_gifts/)"
    )
    to_collect: int = Field(
        default=0, description="minor units: what the city itself pays (amount - settled)"
    )
    invoice_id: str | None = None
    transfer_reference: str | None = None
    declared_at: str | None = None
    received_at: str | None = None


class DuePage(BaseModel):
    items: list[DueOut]


class CampaignMatchOut(BaseModel):
    municipality: str
    currency: str
    status: str
    promised: int
    due: int
    received: int


class CampaignMatchPage(BaseModel):
    items: list[CampaignMatchOut]


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str = Field(min_length=3, max_length=80, pattern=r"^[A-Za-z0-9 ./_-]+$",
                           description="the transfer's reference as it appears on the bank statement")  # fmt: skip


def due_out(doc: dict[str, Any], titles: dict[str, str] | None = None) -> DueOut:
    d = _encode(doc)
    return DueOut(
        id=d["_id"], campaign_id=d["campaign_id"], campaign_title=(titles or {}).get(d["campaign_id"]),
        municipality=d["municipality"], currency=d["currency"], status=d["status"],
        promised=int(d.get("promised") or 0), amount=int(d.get("amount") or 0), method=d.get("method"),
        settled_from_gifts=int(d.get("settled_from_gifts") or 0), to_collect=domain.to_collect(doc),
        invoice_id=d.get("invoice_id"), transfer_reference=d.get("transfer_reference"),
        declared_at=d.get("declared_at"), received_at=d.get("received_at"),
    )  # fmt: skip


@router.get("/city-dues", response_model=DuePage)
async def list_dues(
    principal: PrincipalDep, dues: Dues,
    municipality: str | None = Query(default=None, pattern=SLUG),
    status: Literal["transfer_declared"] | None = Query(default=None),
    limit: int = Query(default=100, ge=1, le=200),
) -> DuePage:  # fmt: skip
    """A city's dues (its officials, admins), or with status=transfer_declared every transfer
    waiting for an admin's confirmation."""
    if municipality is not None:
        docs = await dues.of_municipality(principal, municipality)
        if status is not None:
            docs = [d for d in docs if d["status"] == status]
    else:
        docs = await dues.declared(principal, limit)
    titles = await dues.campaign_titles(docs)
    return DuePage(items=[due_out(d, titles) for d in docs])


@router.post("/city-dues/{due_id}/transfer-declaration", response_model=DueOut)
async def declare_transfer(
    due_id: str, body: TransferIn, principal: PrincipalDep, idempotency_key: IdempotencyKey, dues: Dues
) -> DueOut:
    """A manager of the city declares the bank transfer sent (money: Idempotency-Key)."""
    return due_out(await dues.declare_transfer(principal, due_id, body.reference, idempotency_key))


@router.post("/city-dues/{due_id}/transfer-confirmation", response_model=DueOut)
async def confirm_transfer(
    due_id: str, principal: PrincipalDep, idempotency_key: IdempotencyKey, dues: Dues
) -> DueOut:
    """An admin confirms the transfer received (money: Idempotency-Key); the ledger records it."""
    return due_out(await dues.confirm_transfer(principal, due_id, idempotency_key))


@router.get("/campaigns/{campaign_id}/city-matches", response_model=CampaignMatchPage)
async def campaign_matches(campaign_id: str, dues: Dues) -> CampaignMatchPage:
    """Public: each city's match for the campaign, as promised / due / received."""
    items = [
        CampaignMatchOut(
            municipality=d["municipality"], currency=d["currency"], status=d["status"], **domain.view(d)
        )
        for d in await dues.of_campaign(campaign_id)
        if d["status"] != "canceled"
    ]
    return CampaignMatchPage(items=items)
