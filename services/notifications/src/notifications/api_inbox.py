"""The caller's in-app inbox: list, unread count, mark read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from servicekit.auth import Principal, current_principal
from servicekit.errors import ApiError
from servicekit.logging import get_logger
from servicekit.mongo import Tx

from .domain import locale_of
from .mailer import template_context
from .rendering import render
from .store import list_for_user, unread_count

router = APIRouter(tags=["inbox"])
log = get_logger(__name__)


class InboxItem(BaseModel):
    id: str
    kind: str
    title: str
    data: dict[str, Any]
    link: str | None
    read: bool
    created_at: datetime


class Inbox(BaseModel):
    items: list[InboxItem]
    unread: int


class UnreadCount(BaseModel):
    unread: int


def _item(request: Request, doc: dict[str, Any], locale: str) -> InboxItem:
    # Titles are rendered when read, in the reader's current language.
    context = template_context(request.app.state.ctx.settings, doc, None)
    try:
        title = render(doc["kind"], locale, context).title
    except Exception:  # a template bug must not take the whole inbox down
        log.exception("inbox_title_render_failed", item_id=doc["_id"])
        title = doc["kind"]
    data = dict(doc["context"].get("d", {}))
    return InboxItem(
        id=doc["_id"],
        kind=doc["kind"],
        title=title,
        data=data,
        link=context["action_url"],
        read=bool(doc["read"]),
        created_at=doc["created_at"],
    )


@router.get("/me", response_model=Inbox)
async def my_inbox(
    request: Request,
    principal: Principal = Depends(current_principal),
    unread_only: bool = False,
    limit: int = Query(50, ge=1, le=200),
    before: datetime | None = Query(None, description="page: items created before this time"),
) -> Inbox:
    mongo = request.app.state.ctx.mongo
    user = await mongo.db.users.find_one({"_id": principal.sub}, {"locale": 1})
    locale = locale_of((user or {}).get("locale"))
    docs = await list_for_user(mongo, principal.sub, limit, unread_only, before)
    return Inbox(
        items=[_item(request, d, locale) for d in docs], unread=await unread_count(mongo, principal.sub)
    )


@router.get("/me/unread-count", response_model=UnreadCount)
async def my_unread_count(request: Request, principal: Principal = Depends(current_principal)) -> UnreadCount:
    return UnreadCount(unread=await unread_count(request.app.state.ctx.mongo, principal.sub))


@router.post("/me/items/{item_id}/read", response_model=UnreadCount)
async def mark_read(
    item_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> UnreadCount:
    mongo = request.app.state.ctx.mongo
    if len(item_id) > 600:
        raise ApiError(404, "not_found", "no such inbox item")

    async def mark(tx: Tx) -> bool:
        found = await tx.db.inbox_items.find_one(
            {"_id": item_id, "user_id": principal.sub}, session=tx.session
        )
        if found is None:
            return False
        await tx.db.inbox_items.update_one({"_id": item_id}, {"$set": {"read": True}}, session=tx.session)
        return True

    if not await mongo.transact(mark):
        raise ApiError(404, "not_found", "no such inbox item")
    return UnreadCount(unread=await unread_count(mongo, principal.sub))


@router.post("/me/read-all", response_model=UnreadCount)
async def mark_all_read(request: Request, principal: Principal = Depends(current_principal)) -> UnreadCount:
    mongo = request.app.state.ctx.mongo

    async def mark(tx: Tx) -> None:
        await tx.db.inbox_items.update_many(
            {"user_id": principal.sub, "read": False}, {"$set": {"read": True}}, session=tx.session
        )

    await mongo.transact(mark)
    return UnreadCount(unread=await unread_count(mongo, principal.sub))
