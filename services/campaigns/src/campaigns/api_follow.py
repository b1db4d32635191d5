"""HTTP: following a campaign (use case: follows.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from servicekit.auth import PrincipalDep

from . import follows
from .deps import Store
from .models import CampaignPage, Following
from .views import campaign_out

router = APIRouter(tags=["follow"])


@router.put("/campaigns/{campaign_id}/follow", response_model=Following)
async def follow_campaign(campaign_id: str, store: Store, principal: PrincipalDep) -> Following:
    """Follow (idempotent: following twice is one follow)."""
    return await follows.set_following(store, principal, campaign_id, True)


@router.delete("/campaigns/{campaign_id}/follow", response_model=Following)
async def unfollow_campaign(campaign_id: str, store: Store, principal: PrincipalDep) -> Following:
    return await follows.set_following(store, principal, campaign_id, False)


@router.get("/me/following", response_model=CampaignPage)
async def campaigns_i_follow(
    store: Store, principal: PrincipalDep, limit: Annotated[int, Query(ge=1, le=200)] = 100
) -> CampaignPage:
    """The campaigns the caller follows, most recently followed first."""
    docs = await follows.followed(store, principal, limit)
    return CampaignPage(items=[campaign_out(d, principal) for d in docs], next_cursor=None)
