"""Following a campaign (notifications keeps its own list of followers from the events)."""

from __future__ import annotations

from servicekit.auth import Principal
from servicekit.mongo import Tx, epoch_ms, utcnow

from . import domain
from .access import visible
from .models import Following
from .store import CampaignStore, delete, insert, save


async def set_following(
    store: CampaignStore, principal: Principal, campaign_id: str, follow: bool
) -> Following:
    """Follow or stop following; repeating either changes nothing (and emits nothing)."""
    await visible(store, campaign_id, principal)
    follow_id = f"{campaign_id}|{principal.sub}"

    async def work(tx: Tx) -> Following:
        existing = await store.by_id("follows", follow_id, tx)
        if follow and existing is None:
            await insert(
                tx,
                "follows",
                {
                    "_id": follow_id,
                    "campaign_id": campaign_id,
                    "user_id": principal.sub,
                    "at": utcnow(),
                    "at_ms": epoch_ms(),
                },
            )
            tx.emit("campaign.followed", campaign_id, {"campaign_id": campaign_id, "user_id": principal.sub})
        elif not follow and existing is not None:
            await delete(tx, "follows", follow_id)
            tx.emit(
                "campaign.unfollowed", campaign_id, {"campaign_id": campaign_id, "user_id": principal.sub}
            )
        count = await store.followers_count(tx, campaign_id)
        campaign = await store.campaign(campaign_id, tx)
        if campaign is not None and int(campaign.get("followers_count", 0)) != count:
            await save(tx, "campaigns", {**campaign, "followers_count": count})
        return Following(campaign_id=campaign_id, following=follow, followers_count=count)

    return await store.run(work)


async def followed(store: CampaignStore, principal: Principal, limit: int) -> list[dict]:
    """What the person follows and may still see (a campaign hidden since drops out)."""
    docs = await store.followed_by(principal.sub, limit)
    return [d for d in docs if domain.can_see(d, principal.sub, principal.is_admin)]
