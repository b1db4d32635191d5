"""Moving a campaign through its life: submit, moderate (admin), cancel, complete.

The publish flow: the owner submits a draft; an admin approves it, which publishes it (status
live, starts now, deadline = now + duration_days, event campaign.published), or returns it to
draft with a reason, or rejects it. Every rule lives in domain.TRANSITIONS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from servicekit.auth import Principal, current_principal, require_admin
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import domain, metrics
from .models import CampaignOut, Completion, Moderation, Reason
from .store import emit_snapshot, save
from .views import campaign_out, can_see, refused, store_of

router = APIRouter(tags=["campaign lifecycle"])


async def _transition(
    request: Request,
    campaign_id: str,
    principal: Principal,
    action: str,
    reason: str | None = None,
    extra: dict[str, Any] | None = None,
) -> CampaignOut:
    async def work(tx: Tx) -> dict[str, Any]:
        doc = await tx.db.campaigns.find_one({"_id": campaign_id}, session=tx.session)
        if doc is None or not can_see(doc, principal):
            raise ApiError(404, "not_found", "campaign not found")
        actors = domain.actor_roles(doc, principal.sub, principal.is_admin)
        try:
            changed, event_type = domain.apply_transition(doc, action, actors, utcnow(), reason)
        except domain.TransitionRefused as exc:
            raise refused(exc) from exc
        saved = await save(tx, "campaigns", {**changed, **(extra or {})})
        emit_snapshot(tx, event_type, saved)
        return saved

    saved = await store_of(request).run(work)
    metrics.TRANSITIONS.labels(saved["status"]).inc()
    return campaign_out(saved, principal)


@router.post("/campaigns/{campaign_id}/submit", response_model=CampaignOut)
async def submit_campaign(
    campaign_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> CampaignOut:
    """Owner: send the draft to moderation (it can no longer be edited until returned)."""
    return await _transition(request, campaign_id, principal, "submit")


@router.post("/campaigns/{campaign_id}/moderation", response_model=CampaignOut)
async def moderate_campaign(
    campaign_id: str, body: Moderation, request: Request, principal: Principal = Depends(require_admin)
) -> CampaignOut:
    """Admin: approve (publishes it), return (back to draft, reason required) or reject."""
    extra = {"moderated_by": principal.sub, "moderated_at": utcnow()}
    return await _transition(request, campaign_id, principal, body.decision, body.reason, extra)


@router.post("/campaigns/{campaign_id}/cancel", response_model=CampaignOut)
async def cancel_campaign(
    campaign_id: str, body: Reason, request: Request, principal: Principal = Depends(current_principal)
) -> CampaignOut:
    """Owner or admin: stop a live campaign (payments releases pledges and refunds)."""
    return await _transition(
        request, campaign_id, principal, "cancel", body.reason, {"canceled_by": principal.sub}
    )


@router.post("/campaigns/{campaign_id}/complete", response_model=CampaignOut)
async def complete_campaign(
    campaign_id: str, body: Completion, request: Request, principal: Principal = Depends(current_principal)
) -> CampaignOut:
    """Owner: report that the funded project was delivered."""
    return await _transition(
        request, campaign_id, principal, "complete", None, {"completion_report": body.report}
    )
