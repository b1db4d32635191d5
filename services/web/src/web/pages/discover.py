"""Home / discover: live campaigns as cards (progress, the city's label), filters, text search,
sorts and cursor pagination. The filters are a plain GET form and "previous"/"next" are plain
links, so everything works with JavaScript off.

The listing's cursors only go forward; "previous" works because the page's URL carries the
cursors of the pages before it (`trail`, oldest first, "-" for the first page)."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ..gateway import ApiFailure
from ..i18n import parse_instant
from ..site import Site, SiteDep
from ..vocabulary import campaign_status_names, category_names, funding_model_names

router = APIRouter()

PAGE_SIZE = 12
MAX_TRAIL = 20
FIRST = "-"

CATEGORIES = (
    "public_space",
    "sport",
    "culture",
    "solidarity",
    "environment",
    "education",
    "mobility",
    "health",
    "other",
)
FUNDING_MODELS = ("keep_it_all", "all_or_nothing")
SORTS = ("newest", "ending_soon", "most_funded", "closest_to_goal")


def sort_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {
        "newest": _("Newest"),
        "ending_soon": _("Ending soon"),
        "most_funded": _("Most funded"),
        "closest_to_goal": _("Closest to the goal"),
    }


def days_left(campaign: dict[str, Any]) -> int | None:
    """Days until the deadline, a started day counting as one (0 once it passed)."""
    deadline = parse_instant(campaign.get("deadline"))
    if deadline is None:
        return None
    seconds = (deadline - datetime.now(UTC)).total_seconds()
    return max(0, math.ceil(seconds / 86400))


def card_context(site: Site, cities: dict[str, str]) -> dict[str, Any]:
    """What `discover/_card.html` needs (the campaign page shows the same badges)."""
    return {
        "city_name": lambda slug: city_name(cities, slug),
        "categories": category_names(site),
        "funding_models": funding_model_names(site),
        "statuses": campaign_status_names(site),
        "days_left": days_left,
    }


def slug_of(text: str) -> str:
    return "-".join(text.strip().lower().split())


async def municipalities(site: Site) -> dict[str, str]:
    """slug -> name of the cities taking part ({} when endorsements does not answer)."""
    try:
        found = await site.client(auth=False).endorsements_list_municipalities()
    except ApiFailure:
        return {}
    return {m["slug"]: m["name"] or m["slug"] for m in found["items"] if m["slug"]}


def city_name(cities: dict[str, str], slug: str | None) -> str:
    if not slug:
        return ""
    return cities.get(slug) or slug.replace("-", " ").title()


@router.get("/", include_in_schema=False)
async def discover(
    site: SiteDep,
    q: str = Query("", max_length=100),
    city: str = Query("", max_length=60),
    category: str = Query("", max_length=40),
    funding_model: str = Query("", max_length=40),
    labelled_by: str = Query("", max_length=60),
    sort: str = Query("newest", max_length=40),
    cursor: str = Query("", max_length=500),
    trail: list[str] = Query([]),
    per_page: int = Query(PAGE_SIZE, ge=1, le=48),
) -> Response:
    q = q.strip()
    filters = {
        "q": q,
        "city": slug_of(city),
        "category": category if category in CATEGORIES else "",
        "funding_model": funding_model if funding_model in FUNDING_MODELS else "",
        "labelled_by": slug_of(labelled_by),
        "sort": sort if sort in SORTS else "newest",
    }
    errors: dict[str, str] = {}
    if len(q) == 1:
        errors["q"] = site.gettext("Type at least two letters to search.")
    params: dict[str, Any] = {
        "q": q if len(q) >= 2 else None,
        "municipality": filters["city"] or None,
        "category": filters["category"] or None,
        "funding_model": filters["funding_model"] or None,
        "labelled_by": filters["labelled_by"] or None,
        "sort": filters["sort"],
        "limit": per_page,
    }
    trail = [t for t in trail if t][-MAX_TRAIL:]
    cities_task = asyncio.ensure_future(municipalities(site))
    try:
        listing = await site.client().campaigns_list_campaigns(**params, cursor=cursor or None)
    except ApiFailure as failure:
        if failure.status != 422:
            cities_task.cancel()
            raise
        # A stale cursor or a filter the API refuses: the first page, the refusal beside the field.
        api_to_field = {
            "municipality": "city",
            "q": "q",
            "category": "category",
            "labelled_by": "labelled_by",
        }
        for name, message in failure.field_errors().items():
            if name in api_to_field:
                errors.setdefault(api_to_field[name], message)
                params[name] = None
        cursor, trail = "", []
        listing = await site.client().campaigns_list_campaigns(**params)
    cities = await cities_task

    base: dict[str, Any] = {k: v for k, v in filters.items() if v and not (k == "sort" and v == "newest")}
    if per_page != PAGE_SIZE:
        base["per_page"] = per_page

    def link(page_cursor: str, page_trail: list[str]) -> str:
        query: list[tuple[str, Any]] = list(base.items())
        query += [("trail", t) for t in page_trail]
        if page_cursor:
            query.append(("cursor", page_cursor))
        return "/?" + urlencode(query) if query else "/"

    next_url = None
    if listing.get("next_cursor"):
        next_url = link(listing["next_cursor"], [*trail, cursor or FIRST])
    previous_url = None
    if cursor:
        back = trail[-1] if trail else FIRST
        previous_url = link("" if back == FIRST else back, trail[:-1])

    campaigns = listing.get("items", [])
    return site.render(
        "discover/index.html",
        campaigns=campaigns,
        filters=filters,
        filtered=any(filters[k] for k in ("q", "city", "category", "funding_model", "labelled_by")),
        errors=errors,
        cities=cities,
        **card_context(site, cities),
        sorts=sort_names(site),
        next_url=next_url,
        previous_url=previous_url,
        page_number=max(len(trail) + 1, 2 if cursor else 1),
    )
