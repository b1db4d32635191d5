"""HTTP: create, read and edit one campaign (use cases: campaign.py; listing: api_listing.py)."""

from __future__ import annotations

from fastapi import APIRouter

from servicekit.auth import OptionalPrincipalDep, PrincipalDep
from servicekit.idempotency import IdempotencyDep, OptionalIdempotencyKey

from . import campaign
from .deps import Store
from .models import CampaignDetail, CampaignEdit, CampaignIn, CampaignOut, Viewer
from .views import campaign_out, label_out, meetup_out, need_out

router = APIRouter(tags=["campaigns"])


@router.post("/campaigns", status_code=201, response_model=CampaignOut)
async def create_campaign(
    body: CampaignIn,
    store: Store,
    idempotency: IdempotencyDep,
    principal: PrincipalDep,
    idempotency_key: OptionalIdempotencyKey = None,
) -> CampaignOut:
    """Create a draft. With an Idempotency-Key, a retried request gets the same answer."""
    return await campaign.create(store, idempotency, principal, body, idempotency_key)


@router.get("/campaigns/{campaign_id}", response_model=CampaignDetail)
async def get_campaign(campaign_id: str, store: Store, principal: OptionalPrincipalDep) -> CampaignDetail:
    """One campaign with its totals, labels, needs and the next meetups."""
    found = await campaign.detail(store, campaign_id, principal)
    return CampaignDetail(
        **campaign_out(found.campaign, principal).model_dump(),
        labels=[label_out(label) for label in found.labels],
        needs=[need_out(n) for n in found.needs],
        next_meetups=[meetup_out(m) for m in found.next_meetups],
        viewer=Viewer(following=found.following, rsvps=found.rsvps or {})
        if found.following is not None
        else None,
    )


@router.patch("/campaigns/{campaign_id}", response_model=CampaignOut)
async def edit_campaign(
    campaign_id: str, body: CampaignEdit, store: Store, principal: PrincipalDep
) -> CampaignOut:
    """Owner edits. Draft: anything. Live: summary, description, media and place only."""
    return campaign_out(await campaign.edit(store, principal, campaign_id, body), principal)
