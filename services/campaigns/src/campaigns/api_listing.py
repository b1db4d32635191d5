"""HTTP: finding campaigns: filters, text search, near a point, sorts and cursor pagination
(use case: listing.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from servicekit.auth import OptionalPrincipalDep
from servicekit.errors import DomainError

from . import listing
from .deps import Store
from .models import CampaignPage, Status
from .store import CampaignQuery
from .views import campaign_out

router = APIRouter(tags=["campaigns"])
Slug = Annotated[str | None, Query(pattern=r"^[a-z0-9-]{2,60}$")]


@router.get("/campaigns", response_model=CampaignPage)
async def list_campaigns(
    store: Store,
    principal: OptionalPrincipalDep,
    status: Annotated[list[Status] | None, Query()] = None,
    municipality: Annotated[str | None, Query(pattern=r"^[a-z0-9-]{2,60}$", examples=["montreuil"])] = None,
    category: Annotated[str | None, Query(max_length=40, examples=["solidarity"])] = None,
    funding_model: Literal["keep_it_all", "all_or_nothing"] | None = None,
    labelled_by: Slug = None,
    q: Annotated[
        str | None, Query(min_length=2, max_length=100, description="text search", examples=["repair café"])
    ] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    within_km: Annotated[float, Query(gt=0, le=200)] = 5.0,
    mine: bool = False,
    sort: Literal["newest", "ending_soon", "most_funded", "closest_to_goal"] = "newest",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> CampaignPage:
    """Public listing (live by default). `mine=true`: the caller's own campaigns in any status;
    admins may list any status (the moderation queue is `status=submitted`)."""
    if (lat is None) != (lon is None):
        raise DomainError("validation_error", 422, "near a point needs both lat and lon")
    query = CampaignQuery(
        statuses=list(status or []),
        municipality=municipality,
        category=category,
        funding_model=funding_model,
        labelled_by=labelled_by,
        text=q,
    )
    near = listing.Near(lat, lon, within_km) if lat is not None and lon is not None else None
    page = await listing.search(
        store, principal, query, mine=mine, near=near, sort=sort, cursor=cursor, limit=limit
    )
    return CampaignPage(
        items=[campaign_out(doc, principal, distance) for doc, distance in page.items],
        next_cursor=page.next_cursor,
    )
