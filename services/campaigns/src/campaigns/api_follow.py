"""HTTP: following a campaign (use case: follows.py)."""

from __future__ import annotations

from fastapi import APIRouter

from servicekit.auth import PrincipalDep

from . import follows
from .deps import Store
from .models import Following

router = APIRouter(tags=["follow"])


@router.put("/campaigns/{campaign_id}/follow", response_model=Following)
async def follow_campaign(campaign_id: str, store: Store, principal: PrincipalDep) -> Following:
    """Follow (idempotent: following twice is one follow)."""
    return await follows.set_following(store, principal, campaign_id, True)


@router.delete("/campaigns/{campaign_id}/follow", response_model=Following)
async def unfollow_campaign(campaign_id: str, store: Store, principal: PrincipalDep) -> Following:
    return await follows.set_following(store, principal, campaign_id, False)
