"""The caller's in-app inbox: list, unread count, mark read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from servicekit.fields import IsoDatetime

from . import inbox
from .deps import MongoDep, PrincipalDep, SettingsDep

router = APIRouter(tags=["inbox"])


class InboxItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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


@router.get("/me", response_model=Inbox)
async def my_inbox(
    principal: PrincipalDep,
    mongo: MongoDep,
    settings: SettingsDep,
    unread_only: bool = False,
    limit: int = Query(50, ge=1, le=200),
    before: IsoDatetime | None = Query(
        None, description="page: items created before this time (ISO 8601, e.g. 2026-05-01T12:00:00Z)"
    ),
) -> Inbox:
    got = await inbox.page(mongo, settings.public_base_url, principal.sub, limit, unread_only, before)
    return Inbox(items=[InboxItem.model_validate(e) for e in got.items], unread=got.unread)


@router.get("/me/unread-count", response_model=UnreadCount)
async def my_unread_count(principal: PrincipalDep, mongo: MongoDep) -> UnreadCount:
    return UnreadCount(unread=await inbox.unread(mongo, principal.sub))


@router.post("/me/items/{item_id}/read", response_model=UnreadCount)
async def mark_read(item_id: str, principal: PrincipalDep, mongo: MongoDep) -> UnreadCount:
    return UnreadCount(unread=await inbox.mark_read(mongo, principal.sub, item_id))


@router.post("/me/read-all", response_model=UnreadCount)
async def mark_all_read(principal: PrincipalDep, mongo: MongoDep) -> UnreadCount:
    return UnreadCount(unread=await inbox.mark_all_read(mongo, principal.sub))
