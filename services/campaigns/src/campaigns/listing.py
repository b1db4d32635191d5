"""Finding campaigns: who may list which statuses, near a point, sorts and cursor pagination."""

from __future__ import annotations

from dataclasses import dataclass, replace

from servicekit.auth import Principal
from servicekit.errors import DomainError

from . import domain, geo
from .store import CampaignQuery, CampaignStore, Doc, encode_cursor, read_cursor, sort_value

SORTS: dict[str, tuple[str, int]] = {
    "newest": ("listed_ms", -1),
    "ending_soon": ("deadline_ms", 1),
    "most_funded": ("totals.funded", -1),
    "closest_to_goal": ("closeness", -1),
}


@dataclass(frozen=True)
class Near:
    lat: float
    lon: float
    within_km: float


@dataclass(frozen=True)
class Page:
    items: list[tuple[Doc, float | None]]  # (campaign, distance in km when listed near a point)
    next_cursor: str | None


def _checked(query: CampaignQuery, mine: bool, principal: Principal | None) -> CampaignQuery:
    """Live by default. `mine`: the caller's own campaigns in any status; admins may list any
    status (the moderation queue is `status=submitted`)."""
    statuses = list(query.statuses)
    owner_id = None
    if mine:
        if principal is None:
            raise DomainError("unauthenticated", 401, "mine=true needs a bearer token")
        owner_id = principal.sub
    elif not statuses:
        statuses = ["live"]
    hidden = [s for s in statuses if s not in domain.PUBLIC_STATUSES]
    if hidden and not mine and not (principal and principal.is_admin):
        raise DomainError("forbidden", 403, f"only admins list {', '.join(hidden)} campaigns; use mine=true")
    return replace(query, statuses=statuses, owner_id=owner_id)


async def search(
    store: CampaignStore,
    principal: Principal | None,
    query: CampaignQuery,
    *,
    mine: bool,
    near: Near | None,
    sort: str,
    cursor: str | None,
    limit: int,
) -> Page:
    query = _checked(query, mine, principal)
    if near is not None:
        query = replace(query, box=geo.bounding_box(near.lat, near.lon, near.within_km))
    key, direction = SORTS[sort]
    after = read_cursor(cursor)
    # Near a point the box holds campaigns outside the circle: read bigger batches.
    batch_size = limit + 1 if near is None else max(50, limit * 3)
    found: list[tuple[Doc, float | None]] = []
    while len(found) <= limit:
        batch = await store.campaigns_page(query, (key, direction), after, batch_size)
        for doc in batch:
            distance = None
            if near is not None:
                distance = geo.distance_km(near.lat, near.lon, float(doc["lat"]), float(doc["lon"]))
                if distance > near.within_km:
                    continue  # inside the box, outside the circle
            if domain.can_see(
                doc, principal.sub if principal else None, bool(principal and principal.is_admin)
            ):
                found.append((doc, distance))
        if len(batch) < batch_size:
            break
        after = (sort_value(batch[-1], key), batch[-1]["_id"])
    page = found[:limit]
    next_cursor = None
    if len(found) > limit:
        last = page[-1][0]
        next_cursor = encode_cursor(sort_value(last, key), last["_id"])
    return Page(items=page, next_cursor=next_cursor)
