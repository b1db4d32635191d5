"""Notifications HTTP API (walking skeleton): the caller's in-app inbox."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from servicekit.auth import Principal, current_principal

from .store import list_for_user

router = APIRouter(tags=["notifications"])


class InboxItem(BaseModel):
    id: str
    kind: str
    title: str
    data: dict
    read: bool
    created_at: datetime


class Inbox(BaseModel):
    items: list[InboxItem]


@router.get("/me", response_model=Inbox)
async def my_inbox(request: Request, principal: Principal = Depends(current_principal)) -> Inbox:
    docs = await list_for_user(request.app.state.ctx.mongo, principal.sub)
    return Inbox(
        items=[
            InboxItem(
                id=d["_id"],
                kind=d["kind"],
                title=d["title"],
                data=d["data"],
                read=bool(d["read"]),
                created_at=d["created_at"],
            )
            for d in docs
        ]
    )
