"""Finding campaigns: filters, text search, near a point, sorts and cursor pagination."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from servicekit.auth import Principal, optional_principal
from servicekit.errors import ApiError

from . import domain, geo
from .models import CampaignPage, Status
from .store import after_cursor, decode_cursor, encode_cursor, sort_value
from .views import campaign_out, can_see, store_of

router = APIRouter(tags=["campaigns"])

SORTS: dict[str, tuple[str, int]] = {
    "newest": ("listed_ms", -1),
    "ending_soon": ("deadline_ms", 1),
    "most_funded": ("totals.funded", -1),
    "closest_to_goal": ("closeness", -1),
}


@router.get("/campaigns", response_model=CampaignPage)
async def list_campaigns(
    request: Request,
    principal: Principal | None = Depends(optional_principal),
    status: Annotated[list[Status] | None, Query()] = None,
    municipality: Annotated[str | None, Query(pattern=r"^[a-z0-9-]{2,60}$")] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    funding_model: Literal["keep_it_all", "all_or_nothing"] | None = None,
    labelled_by: Annotated[str | None, Query(pattern=r"^[a-z0-9-]{2,60}$")] = None,
    q: Annotated[str | None, Query(min_length=2, max_length=100, description="text search")] = None,
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
    clauses: list[dict[str, Any]] = []
    statuses = list(status or [])
    if mine:
        if principal is None:
            raise ApiError(401, "unauthenticated", "mine=true needs a bearer token")
        clauses.append({"owner_id": principal.sub})
    elif not statuses:
        statuses = ["live"]
    hidden = [s for s in statuses if s not in domain.PUBLIC_STATUSES]
    if hidden and not mine and not (principal and principal.is_admin):
        raise ApiError(403, "forbidden", f"only admins list {', '.join(hidden)} campaigns; use mine=true")
    if statuses:
        clauses.append({"status": {"$in": statuses}})
    for field, value in (
        ("municipality", municipality),
        ("category", category),
        ("funding_model", funding_model),
    ):
        if value is not None:
            clauses.append({field: value})
    if labelled_by is not None:
        clauses.append({"labelled_by": labelled_by})
    if (lat is None) != (lon is None):
        raise ApiError(422, "validation_error", "near a point needs both lat and lon")
    if lat is not None and lon is not None:
        min_lat, max_lat, min_lon, max_lon = geo.bounding_box(lat, lon, within_km)
        clauses.append({"lat": {"$gte": min_lat, "$lte": max_lat}, "lon": {"$gte": min_lon, "$lte": max_lon}})
    key, direction = SORTS[sort]
    after: dict[str, Any] | None = None
    if cursor:
        try:
            after = after_cursor(key, direction, *decode_cursor(cursor))
        except ValueError as exc:
            raise ApiError(422, "invalid_cursor", "cursor is not valid for this listing") from exc
    base: dict[str, Any] = {"$text": {"$search": q}} if q else {}
    store = store_of(request)
    batch_size = limit + 1 if lat is None else max(50, limit * 3)
    found: list[tuple[dict[str, Any], float | None]] = []
    while len(found) <= limit:
        conditions = [*clauses, after] if after else clauses
        query = {**base, **({"$and": conditions} if conditions else {})}
        batch = await store.find_page(query, [(key, direction), ("_id", direction)], batch_size)
        for doc in batch:
            distance = None
            if lat is not None and lon is not None:
                distance = geo.distance_km(lat, lon, float(doc["lat"]), float(doc["lon"]))
                if distance > within_km:
                    continue  # inside the box, outside the circle
            if can_see(doc, principal):
                found.append((doc, distance))
        if len(batch) < batch_size:
            break
        last = batch[-1]
        after = after_cursor(key, direction, sort_value(last, key), last["_id"])
    page = found[:limit]
    next_cursor = None
    if len(found) > limit:
        last_doc = page[-1][0]
        next_cursor = encode_cursor(sort_value(last_doc, key), last_doc["_id"])
    return CampaignPage(items=[campaign_out(d, principal, dist) for d, dist in page], next_cursor=next_cursor)
