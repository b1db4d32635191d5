"""What every endpoint shares: the store, loading a campaign the caller may see, and turning
stored documents into response bodies."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from servicekit.auth import Principal
from servicekit.errors import ApiError

from . import domain, markup
from .models import CampaignOut
from .store import CampaignStore, empty_totals


def store_of(request: Request) -> CampaignStore:
    return request.app.state.ctx.extras["store"]


def can_see(campaign: dict[str, Any], principal: Principal | None) -> bool:
    if campaign["status"] in domain.PUBLIC_STATUSES:
        return True
    return principal is not None and (principal.is_admin or principal.sub == campaign["owner_id"])


async def visible_campaign(request: Request, campaign_id: str, principal: Principal | None) -> dict[str, Any]:
    """The campaign, or 404 (also for drafts of others: their existence is not public)."""
    if len(campaign_id) > 80:
        raise ApiError(404, "not_found", "campaign not found")
    campaign = await store_of(request).get(campaign_id)
    if campaign is None or not can_see(campaign, principal):
        raise ApiError(404, "not_found", "campaign not found")
    return campaign


def require_owner(campaign: dict[str, Any], principal: Principal, what: str) -> None:
    if campaign["owner_id"] != principal.sub:
        raise ApiError(403, "forbidden", f"only the campaign's owner can {what}")


def refused(exc: domain.TransitionRefused) -> ApiError:
    status = 403 if exc.code == "forbidden" else 422 if exc.code == "reason_required" else 409
    return ApiError(status, exc.code, exc.message)


def campaign_out(
    doc: dict[str, Any], principal: Principal | None = None, distance: float | None = None
) -> CampaignOut:
    actors = domain.actor_roles(
        doc, principal.sub if principal else None, bool(principal and principal.is_admin)
    )
    totals = {**empty_totals(), **(doc.get("totals") or {})}
    return CampaignOut(
        id=doc["_id"],
        owner_id=doc["owner_id"],
        status=doc["status"],
        version=doc["version"],
        title=doc["title"],
        summary=doc.get("summary", ""),
        description=doc.get("description", ""),
        description_html=markup.render(doc.get("description", "")),
        category=doc.get("category", "other"),
        municipality=doc["municipality"],
        neighbourhood=doc.get("neighbourhood", ""),
        address=doc.get("address", ""),
        postcode=doc.get("postcode", ""),
        lat=doc.get("lat"),
        lon=doc.get("lon"),
        cover_image_url=doc.get("cover_image_url"),
        goal=doc["goal"],
        currency=doc["currency"],
        funding_model=doc["funding_model"],
        duration_days=doc.get("duration_days", domain.DEFAULT_DURATION_DAYS),
        starts_at=doc.get("starts_at"),
        deadline=doc.get("deadline"),
        call_id=doc.get("call_id"),
        reason=doc.get("reason"),
        totals=totals,
        goal_reached=doc.get("goal_reached_at") is not None,
        followers_count=int(doc.get("followers_count", 0)),
        labelled_by=list(doc.get("labelled_by") or []),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        distance_km=round(distance, 3) if distance is not None else None,
        allowed_actions=domain.allowed_actions(doc, actors),
    )


def need_out(need: dict[str, Any]) -> dict[str, Any]:
    """The public view of a need: counts, never who offered or how to reach them."""
    return {
        "id": need["_id"],
        "campaign_id": need["campaign_id"],
        "title": need["title"],
        "description": need.get("description", ""),
        "kind": need["kind"],
        "quantity": need["quantity"],
        "unit": need.get("unit", ""),
        "open": bool(need.get("open", True)),
        **(
            need.get("counts")
            or {"offers_count": 0, "offered": 0, "accepted": 0, "remaining": need["quantity"]}
        ),
    }


def meetup_out(meetup: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": meetup["_id"],
        "campaign_id": meetup["campaign_id"],
        "title": meetup["title"],
        "description_html": markup.render(meetup.get("description", "")),
        "place": meetup["place"],
        "starts_at": meetup["starts_at"],
        "ends_at": meetup.get("ends_at"),
        "capacity": meetup["capacity"],
        "going": int(meetup.get("going", 0)),
        "waitlisted": int(meetup.get("waitlisted", 0)),
        "canceled": bool(meetup.get("canceled", False)),
    }
