"""Use cases of the news the owner posts; followers and backers are told through
campaign.update_posted."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.mongo import Tx, utcnow

from . import domain, markup
from .access import require_owner, visible
from .models import UpdateIn
from .store import CampaignStore, Doc, encode_cursor, insert, ms, read_cursor


async def post(store: CampaignStore, principal: Principal, campaign_id: str, body: UpdateIn) -> Doc:
    campaign = await visible(store, campaign_id, principal)
    require_owner(campaign, principal, "post updates")
    if campaign["status"] not in domain.PUBLIC_STATUSES:
        raise DomainError("campaign_not_published", 409, "updates are posted once the campaign is published")

    async def work(tx: Tx) -> Doc:
        update = await insert(
            tx,
            "updates",
            {
                "_id": f"upd_{uuid.uuid4().hex}",
                "campaign_id": campaign_id,
                "author_id": principal.sub,
                "title": body.title,
                "body": body.body,
                "created_at": utcnow(),
                "created_ms": ms(utcnow()),
            },
        )
        tx.emit(
            "campaign.update_posted",
            campaign_id,
            {
                "campaign_id": campaign_id,
                "update_id": update["_id"],
                "owner_id": campaign["owner_id"],
                "title": body.title,
                "campaign_title": campaign["title"],
                "excerpt": markup.excerpt(body.body),
            },
        )
        return update

    return await store.run(work)


@dataclass(frozen=True)
class Page:
    items: list[Doc]
    next_cursor: str | None


async def page(
    store: CampaignStore, principal: Principal | None, campaign_id: str, cursor: str | None, limit: int
) -> Page:
    """Newest first, cursor-paginated."""
    await visible(store, campaign_id, principal)
    after = read_cursor(cursor)
    docs = await store.updates_page(campaign_id, after, limit + 1)
    items = docs[:limit]
    next_cursor = encode_cursor(items[-1]["created_ms"], items[-1]["_id"]) if len(docs) > limit else None
    return Page(items=items, next_cursor=next_cursor)
