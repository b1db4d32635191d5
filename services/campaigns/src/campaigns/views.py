"""Stored documents -> response bodies (the models in models.py). Pure: what a caller may see
was decided by the use case that loaded the document."""

from __future__ import annotations

from typing import Any

from servicekit.auth import Principal
from servicekit.mongo import as_utc

from . import domain, markup
from .domain_funding import empty_totals
from .models import CampaignOut, Label, MeetupOut, NeedOut, OfferOut, ReportOut, UpdateOut

Doc = dict[str, Any]


def campaign_out(doc: Doc, principal: Principal | None = None, distance: float | None = None) -> CampaignOut:
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
        owner_deleted=doc.get("owner_deleted_at") is not None,
        owner_deleted_at=as_utc(doc.get("owner_deleted_at")),
        pending_decision=doc.get("pending_decision"),
        hidden=doc.get("hidden") is True,
        hidden_reason=doc.get("hidden_reason"),
    )


def label_out(label: Doc) -> Label:
    return Label(
        municipality=label["municipality"],
        label_id=label["_id"],
        endorsement_id=label["_id"],
        support=label.get("support") or [],
        in_kind_value=label.get("in_kind_value"),
        currency=label.get("currency"),
    )


def need_out(need: Doc) -> NeedOut:
    counts = need.get("counts") or {
        "offers_count": 0,
        "offered": 0,
        "accepted": 0,
        "remaining": need["quantity"],
    }
    return NeedOut(
        id=need["_id"],
        campaign_id=need["campaign_id"],
        title=need["title"],
        description=need.get("description", ""),
        kind=need["kind"],
        quantity=need["quantity"],
        unit=need.get("unit", ""),
        open=bool(need.get("open", True)),
        unit_value=need.get("unit_value"),
        counts_toward_goal=bool(need.get("counts_toward_goal")),
        value_delivered=int(counts.get("delivered", 0)) * int(need.get("unit_value") or 0),
        **counts,
    )


def offer_out(offer: Doc) -> OfferOut:
    """With the contact: only its author and the campaign's owner are ever shown an offer."""
    return OfferOut(
        id=offer["_id"],
        need_id=offer["need_id"],
        campaign_id=offer["campaign_id"],
        from_user_id=offer["from_user_id"],
        quantity=offer["quantity"],
        message=offer.get("message", ""),
        state=offer["state"],
        created_at=offer["created_at"],
        contact=offer["contact"],
    )


def update_out(update: Doc) -> UpdateOut:
    return UpdateOut(
        id=update["_id"],
        campaign_id=update["campaign_id"],
        title=update["title"],
        body=update["body"],
        body_html=markup.render(update["body"]),
        created_at=update["created_at"],
    )


def meetup_out(meetup: Doc) -> MeetupOut:
    return MeetupOut(
        id=meetup["_id"],
        campaign_id=meetup["campaign_id"],
        title=meetup["title"],
        description_html=markup.render(meetup.get("description", "")),
        place=meetup["place"],
        starts_at=meetup["starts_at"],
        ends_at=meetup.get("ends_at"),
        capacity=meetup["capacity"],
        going=int(meetup.get("going", 0)),
        waitlisted=int(meetup.get("waitlisted", 0)),
        canceled=bool(meetup.get("canceled", False)),
    )


def report_out(report: Doc) -> ReportOut:
    return ReportOut(
        id=report["_id"],
        target=report["target"],
        target_id=report["target_id"],
        campaign_id=report["campaign_id"],
        campaign_title=report.get("campaign_title", ""),
        author_id=report["author_id"],
        excerpt=report.get("excerpt", ""),
        reporter_id=report["reporter_id"],
        reason=report["reason"],
        details=report.get("details", ""),
        state=report["state"],
        created_at=report["created_at"],
        decided_by=report.get("decided_by"),
        decided_at=report.get("decided_at"),
        note=report.get("note"),
    )
