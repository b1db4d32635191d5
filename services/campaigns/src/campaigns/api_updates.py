"""HTTP: news the owner posts (use cases: updates.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from servicekit.auth import OptionalPrincipalDep, PrincipalDep

from . import updates
from .deps import Store
from .models import UpdateIn, UpdateOut, UpdatePage
from .views import update_out

router = APIRouter(tags=["updates"])


@router.post("/campaigns/{campaign_id}/updates", status_code=201, response_model=UpdateOut)
async def post_update(campaign_id: str, body: UpdateIn, store: Store, principal: PrincipalDep) -> UpdateOut:
    """Owner, once published; followers and backers are notified."""
    return update_out(await updates.post(store, principal, campaign_id, body))


@router.get("/campaigns/{campaign_id}/updates", response_model=UpdatePage)
async def list_updates(
    campaign_id: str,
    store: Store,
    principal: OptionalPrincipalDep,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> UpdatePage:
    """Newest first, cursor-paginated."""
    page = await updates.page(store, principal, campaign_id, cursor, limit)
    return UpdatePage(items=[update_out(u) for u in page.items], next_cursor=page.next_cursor)
