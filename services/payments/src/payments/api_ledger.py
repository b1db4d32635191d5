"""A campaign's ledger (owner and admins) and its reconciliation with Stripe (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import stripe
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from servicekit.auth import Principal, current_principal, require_admin
from servicekit.errors import ApiError

from . import domain
from .pledges import PledgeBook, stripe_unavailable
from .reconciliation import ReconciliationOut, reconcile_campaign

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


def _book(request: Request) -> PledgeBook:
    return request.app.state.ctx.extras["pledges"]


async def _campaign_for(request: Request, campaign_id: str, principal: Principal) -> dict[str, Any]:
    campaign = await _book(request).store.campaign(campaign_id)
    if campaign is None:
        raise ApiError(404, "not_found", "campaign not found")
    if not principal.is_admin and campaign.get("owner_id") != principal.sub:
        raise ApiError(403, "forbidden", "only the campaign's owner and admins see its ledger")
    return campaign


@router.get("/campaigns/{campaign_id}/ledger", response_model=LedgerOut)
async def campaign_ledger(
    campaign_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> LedgerOut:
    campaign = await _campaign_for(request, campaign_id, principal)
    entries = await _book(request).store.ledger(campaign_id)
    return LedgerOut(
        campaign_id=campaign_id,
        currency=campaign.get("currency"),
        totals=domain.ledger_totals(entries),
        entries=[
            EntryOut(id=e["_id"], **{k: e[k] for k in EntryOut.model_fields if k != "id"}) for e in entries
        ],
    )


@router.get("/campaigns/{campaign_id}/reconciliation", response_model=ReconciliationOut)
async def campaign_reconciliation(
    campaign_id: str, request: Request, principal: Principal = Depends(require_admin)
) -> ReconciliationOut:
    await _campaign_for(request, campaign_id, principal)
    try:
        return await reconcile_campaign(_book(request), campaign_id)
    except stripe.StripeError as exc:
        raise stripe_unavailable(exc) from exc
