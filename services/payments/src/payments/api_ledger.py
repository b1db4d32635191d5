"""A campaign's ledger (owner and admins) and its reconciliation with Stripe (admins)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from servicekit.auth import AdminDep, PrincipalDep

from .deps import Ledger

router = APIRouter(tags=["ledger"])


class EntryOut(BaseModel):
    id: str
    pledge_id: str
    account: str
    kind: str
    amount: int
    currency: str
    stripe_ref: str
    at: datetime


class LedgerOut(BaseModel):
    campaign_id: str
    currency: str | None
    totals: dict[str, int]
    entries: list[EntryOut]


class Difference(BaseModel):
    pledge_id: str
    field: str
    journal: int
    stripe: int


class ReconciliationOut(BaseModel):
    campaign_id: str
    ok: bool
    checked_pledges: int
    differences: list[Difference]


@router.get("/campaigns/{campaign_id}/ledger", response_model=LedgerOut)
async def campaign_ledger(campaign_id: str, principal: PrincipalDep, ledger: Ledger) -> LedgerOut:
    view = await ledger.ledger(campaign_id, principal)
    return LedgerOut(
        campaign_id=view.campaign_id,
        currency=view.currency,
        totals=view.totals,
        entries=[
            EntryOut(id=e["_id"], **{k: e[k] for k in EntryOut.model_fields if k != "id"})
            for e in view.entries
        ],
    )


@router.get("/campaigns/{campaign_id}/reconciliation", response_model=ReconciliationOut)
async def campaign_reconciliation(campaign_id: str, principal: AdminDep, ledger: Ledger) -> ReconciliationOut:
    report = await ledger.reconciliation(campaign_id, principal)
    return ReconciliationOut(
        campaign_id=report.campaign_id,
        ok=report.ok,
        checked_pledges=report.checked_pledges,
        differences=[Difference(**d) for d in report.differences],
    )
