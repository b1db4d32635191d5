"""Following a campaign (notifications keeps its own list of followers from the events)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from servicekit.auth import Principal, current_principal
from servicekit.mongo import Tx, utcnow

from .store import insert, save
from .views import store_of, visible_campaign

router = APIRouter(tags=["follow"])


async def _set_following(
    request: Request, campaign_id: str, principal: Principal, follow: bool
) -> dict[str, Any]:
    await visible_campaign(request, campaign_id, principal)
    follow_id = f"{campaign_id}|{principal.sub}"

    async def work(tx: Tx) -> dict[str, Any]:
        existing = await tx.db.follows.find_one({"_id": follow_id}, session=tx.session)
        if follow and existing is None:
            await insert(
                tx,
                "follows",
                {"_id": follow_id, "campaign_id": campaign_id, "user_id": principal.sub, "at": utcnow()},
            )
            tx.emit("campaign.followed", campaign_id, {"campaign_id": campaign_id, "user_id": principal.sub})
        elif not follow and existing is not None:
            await tx.db.follows.delete_one({"_id": follow_id}, session=tx.session)
            tx.emit(
                "campaign.unfollowed", campaign_id, {"campaign_id": campaign_id, "user_id": principal.sub}
            )
        count = await tx.db.follows.count_documents({"campaign_id": campaign_id}, session=tx.session)
        campaign = await tx.db.campaigns.find_one({"_id": campaign_id}, session=tx.session)
        if campaign is not None and int(campaign.get("followers_count", 0)) != count:
            await save(tx, "campaigns", {**campaign, "followers_count": count})
        return {"campaign_id": campaign_id, "following": follow, "followers_count": count}

    return await store_of(request).run(work)


@router.put("/campaigns/{campaign_id}/follow")
async def follow_campaign(
    campaign_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    """Follow (idempotent: following twice is one follow)."""
    return await _set_following(request, campaign_id, principal, True)


@router.delete("/campaigns/{campaign_id}/follow")
async def unfollow_campaign(
    campaign_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    return await _set_following(request, campaign_id, principal, False)
