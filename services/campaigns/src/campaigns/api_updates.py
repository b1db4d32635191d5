"""News the owner posts; followers and backers are notified through campaign.update_posted."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from servicekit.auth import Principal, current_principal, optional_principal
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import domain, markup
from .models import UpdateIn
from .store import after_cursor, decode_cursor, encode_cursor, insert, ms
from .views import require_owner, store_of, visible_campaign

router = APIRouter(tags=["updates"])


def _update_out(update: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": update["_id"],
        "campaign_id": update["campaign_id"],
        "title": update["title"],
        "body": update["body"],
        "body_html": markup.render(update["body"]),
        "created_at": update["created_at"],
    }


@router.post("/campaigns/{campaign_id}/updates", status_code=201)
async def post_update(
    campaign_id: str, body: UpdateIn, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    campaign = await visible_campaign(request, campaign_id, principal)
    require_owner(campaign, principal, "post updates")
    if campaign["status"] not in domain.PUBLIC_STATUSES:
        raise ApiError(409, "campaign_not_published", "updates are posted once the campaign is published")

    async def work(tx: Tx) -> dict[str, Any]:
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

    return _update_out(await store_of(request).run(work))


@router.get("/campaigns/{campaign_id}/updates")
async def list_updates(
    campaign_id: str,
    request: Request,
    principal: Principal | None = Depends(optional_principal),
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> dict[str, Any]:
    """Newest first, cursor-paginated."""
    await visible_campaign(request, campaign_id, principal)
    conditions: list[dict[str, Any]] = [{"campaign_id": campaign_id}]
    if cursor:
        try:
            conditions.append(after_cursor("created_ms", -1, *decode_cursor(cursor)))
        except ValueError as exc:
            raise ApiError(422, "invalid_cursor", "cursor is not valid for this listing") from exc
    docs = (
        await store_of(request)
        .db.updates.find({"$and": conditions})
        .sort([("created_ms", -1), ("_id", -1)])
        .limit(limit + 1)
        .to_list()
    )
    page = docs[:limit]
    next_cursor = encode_cursor(page[-1]["created_ms"], page[-1]["_id"]) if len(docs) > limit else None
    return {"items": [_update_out(u) for u in page], "next_cursor": next_cursor}
