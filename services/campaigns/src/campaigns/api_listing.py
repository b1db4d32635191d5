"""HTTP: finding campaigns: filters, text search, near a point, sorts and cursor pagination
(use case: listing.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

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
# The answer's example in the document (one live campaign of the demo, labelled and matched).
LISTED_EXAMPLE: dict[str, Any] = {
    "items": [
        {
            "id": "cmp_5b1e0c7a9d2f4e3a8c6b1d0e9f2a7c4b",
            "owner_id": "usr_3a7f1c9e5b2d4f6a8c0e1b3d5f7a9c2e",
            "status": "live",
            "version": 4,
            "title": "Street workout park in Bel-Air",
            "summary": "Free outdoor fitness bars and benches on the public square, for every age.",
            "description": "Bel-Air has no free place to train outdoors. We want a **street workout park**.",
            "description_html": "<p>Bel-Air has no free place to train outdoors. We want a "
            "<strong>street workout park</strong>.</p>",
            "category": "sport",
            "municipality": "montreuil",
            "neighbourhood": "Bel-Air",
            "address": "Square du Bel-Air, 93100 Montreuil",
            "postcode": "93100",
            "lat": 48.8655,
            "lon": 2.4556,
            "cover_image_url": None,
            "goal": 1_200_000,
            "currency": "EUR",
            "funding_model": "keep_it_all",
            "duration_days": 45,
            "starts_at": "2027-02-01T09:00:00Z",
            "deadline": "2027-03-18T09:00:00Z",
            "call_id": None,
            "reason": None,
            "totals": {
                "raised": 9_000,
                "pledged": 9_000,
                "matched": 9_000,
                "matched_counted": 9_000,
                "match_promised": 0,
                "in_kind_delivered": 0,
                "in_kind_counted": 0,
                "funded": 18_000,
                "progress_bp": 150,
                "backers_count": 3,
            },
            "goal_reached": False,
            "followers_count": 12,
            "labelled_by": ["montreuil"],
            "created_at": "2027-01-20T14:02:11Z",
            "updated_at": "2027-02-03T10:15:00Z",
        }
    ],
    "next_cursor": None,
}


@router.get(
    "/campaigns",
    response_model=CampaignPage,
    responses={200: {"content": {"application/json": {"example": LISTED_EXAMPLE}}}},
)
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
