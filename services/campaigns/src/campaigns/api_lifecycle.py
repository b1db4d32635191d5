"""HTTP: moving a campaign through its life: submit, moderate (admin), cancel, complete
(use cases and the publish flow: lifecycle.py)."""

from __future__ import annotations

from fastapi import APIRouter

from servicekit.auth import AdminDep, PrincipalDep

from . import lifecycle
from .deps import Store
from .models import CampaignOut, Completion, Moderation, Reason
from .views import campaign_out

router = APIRouter(tags=["campaign lifecycle"])


@router.post("/campaigns/{campaign_id}/submit", response_model=CampaignOut)
async def submit_campaign(campaign_id: str, store: Store, principal: PrincipalDep) -> CampaignOut:
    """Owner: send the draft to moderation (it can no longer be edited until returned)."""
    return campaign_out(await lifecycle.submit(store, principal, campaign_id), principal)


@router.post("/campaigns/{campaign_id}/moderation", response_model=CampaignOut)
async def moderate_campaign(
    campaign_id: str, body: Moderation, store: Store, principal: AdminDep
) -> CampaignOut:
    """Admin: approve (publishes it), return (back to draft, reason required) or reject."""
    moderated = await lifecycle.moderate(store, principal, campaign_id, body.decision, body.reason)
    return campaign_out(moderated, principal)


@router.post("/campaigns/{campaign_id}/cancel", response_model=CampaignOut)
async def cancel_campaign(
    campaign_id: str, body: Reason, store: Store, principal: PrincipalDep
) -> CampaignOut:
    """Owner or admin: stop a live campaign (payments releases pledges and refunds)."""
    return campaign_out(await lifecycle.cancel(store, principal, campaign_id, body.reason), principal)


@router.post("/campaigns/{campaign_id}/complete", response_model=CampaignOut)
async def complete_campaign(
    campaign_id: str, body: Completion, store: Store, principal: PrincipalDep
) -> CampaignOut:
    """Owner: report that the funded project was delivered."""
    return campaign_out(await lifecycle.complete(store, principal, campaign_id, body.report), principal)
