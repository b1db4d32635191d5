"""The admins' pages: the moderation queue of submitted campaigns (approve, return or reject with
a reason), the abuse reports (hide the content or dismiss the report, and the decisions taken),
registering a city with its territory and a trial, and deciding what becomes of a campaign
whose owner deleted their account (keep it running or stop it).

Only admins: anyone else gets the 403 page (the API would refuse them too; the page says so
before calling it). Every rule stays in the services: campaigns decides what moderation may do,
endorsements what a city needs."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from ..gateway import ApiFailure
from ..site import Form, Site, signed_in

router = APIRouter()

CAMPAIGNS = "/api/v1/campaigns/campaigns"
REPORTS = "/api/v1/campaigns/reports"
CITIES = "/api/v1/endorsements/municipalities"
OWNER_DECISIONS = "/api/v1/campaigns/owner-decisions"
QUEUE_SIZE = 50
POSTCODE = re.compile(r"^[A-Za-z0-9-]{2,10}$")


async def _admin(site: Annotated[Site, Depends(signed_in)]) -> Site:
    if not site.is_admin:
        raise HTTPException(403)
    return site


AdminSite = Annotated[Site, Depends(_admin)]


def _q(value: str) -> str:
    return quote(value, safe="")


def _errors(failure: ApiFailure) -> dict[str, str]:
    errors = dict(failure.field_errors())
    if not errors:
        errors["__all__"] = failure.message
    return errors


def report_reason_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {
        "spam": _("Spam or advertising"),
        "hateful": _("Hateful or abusive"),
        "fraud": _("Fraud or scam"),
        "personal_data": _("Someone's personal data"),
        "other": _("Something else"),
    }


def report_target_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {"campaign": _("Campaign"), "update": _("Update"), "offer": _("Offer of help")}


# -- overview --------------------------------------------------------------------------------


@router.get("/admin", include_in_schema=False)
async def overview(site: AdminSite) -> Response:
    submitted, reports, orphans = await asyncio.gather(
        site.api("GET", CAMPAIGNS, params={"status": "submitted", "limit": QUEUE_SIZE}),
        site.api("GET", REPORTS, params={"state": "open", "limit": 100}),
        site.api("GET", OWNER_DECISIONS, params={"limit": QUEUE_SIZE}),
    )
    return site.render(
        "admin/overview.html",
        submitted=len(submitted.get("items", [])),
        submitted_more=bool(submitted.get("next_cursor")),
        reports=len(reports.get("items", [])),
        reports_more=bool(reports.get("next_cursor")),
        # The API pages this list by size only: a full page may hide more.
        owner_decisions=len(orphans.get("items", [])),
        owner_decisions_more=len(orphans.get("items", [])) >= QUEUE_SIZE,
    )


# -- moderation of submitted campaigns -------------------------------------------------------


@router.get("/admin/moderation", include_in_schema=False)
async def moderation_queue(site: AdminSite, cursor: str = Query("", max_length=500)) -> Response:
    params: dict[str, Any] = {"status": "submitted", "limit": QUEUE_SIZE, "sort": "newest"}
    if cursor:
        params["cursor"] = cursor
    page = await site.api("GET", CAMPAIGNS, params=params)
    return site.render(
        "admin/moderation.html", campaigns=page.get("items", []), next_cursor=page.get("next_cursor")
    )


async def _render_review(
    site: Site,
    campaign_id: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    campaign = await site.api("GET", f"{CAMPAIGNS}/{_q(campaign_id)}")
    return site.render(
        "admin/review.html",
        status=422 if errors else 200,
        campaign=campaign,
        values=values or {},
        errors=errors or {},
    )


@router.get("/admin/moderation/{campaign_id}", include_in_schema=False)
async def review(site: AdminSite, campaign_id: str) -> Response:
    return await _render_review(site, campaign_id)


@router.post("/admin/moderation/{campaign_id}", include_in_schema=False)
async def moderate(site: AdminSite, form: Form, campaign_id: str) -> Response:
    _ = site.gettext
    decision = str(form.get("decision", "")).strip()
    reason = str(form.get("reason", "")).strip()
    values = {"decision": decision, "reason": reason}
    errors: dict[str, str] = {}
    if decision not in ("approve", "return", "reject"):
        errors["decision"] = _("Choose a decision.")
    elif decision != "approve" and len(reason) < 3:
        errors["reason"] = _("Give the owner a reason: they read it on their dashboard and in their inbox.")
    if not errors:
        body: dict[str, Any] = {"decision": decision}
        if reason:
            body["reason"] = reason
        try:
            await site.api("POST", f"{CAMPAIGNS}/{_q(campaign_id)}/moderation", json=body)
        except ApiFailure as failure:
            if failure.status == 422:
                errors = _errors(failure)
            elif failure.status == 409:
                errors = {"__all__": _("This campaign is no longer waiting for review.")}
            else:
                raise
        else:
            site.flash(
                {
                    "approve": _("The campaign is approved: it is live."),
                    "return": _("The campaign is sent back to its owner with your reason."),
                    "reject": _("The campaign is rejected; its owner is told why."),
                }[decision]
            )
            return site.redirect("/admin/moderation")
    return await _render_review(site, campaign_id, values=values, errors=errors)


# -- abuse reports ---------------------------------------------------------------------------


def _report_link(report: dict[str, Any]) -> str:
    """Where the reported content is on the site (while it is not hidden)."""
    cid = _q(report["campaign_id"])
    if report["target"] == "update":
        return f"/campaigns/{cid}/updates/{_q(report['target_id'])}"
    return f"/campaigns/{cid}"


@router.get("/admin/reports", include_in_schema=False)
async def reports_queue(
    site: AdminSite,
    state: str = Query("open", pattern="^(open|decided)$"),
    cursor: str = Query("", max_length=500),
) -> Response:
    params: dict[str, Any] = {"state": state, "limit": QUEUE_SIZE}
    if cursor:
        params["cursor"] = cursor
    page = await site.api("GET", REPORTS, params=params)
    return site.render(
        "admin/reports.html",
        state=state,
        reports=page.get("items", []),
        next_cursor=page.get("next_cursor"),
        reasons=report_reason_names(site),
        targets=report_target_names(site),
        link=_report_link,
    )


async def _render_report(
    site: Site, report_id: str, *, values: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> Response:
    report = await site.api("GET", f"{REPORTS}/{_q(report_id)}")
    return site.render(
        "admin/report.html",
        status=422 if errors else 200,
        report=report,
        values=values or {},
        errors=errors or {},
        reasons=report_reason_names(site),
        targets=report_target_names(site),
        link=_report_link(report),
    )


@router.get("/admin/reports/{report_id}", include_in_schema=False)
async def report_page(site: AdminSite, report_id: str) -> Response:
    return await _render_report(site, report_id)


@router.post("/admin/reports/{report_id}", include_in_schema=False)
async def decide_report(site: AdminSite, form: Form, report_id: str) -> Response:
    _ = site.gettext
    decision = str(form.get("decision", "")).strip()
    note = str(form.get("note", "")).strip()
    values = {"decision": decision, "note": note}
    errors: dict[str, str] = {}
    if decision not in ("hide", "dismiss"):
        errors["decision"] = _("Choose a decision.")
    elif decision == "hide" and len(note) < 3:
        errors["note"] = _("Give the author a reason: they are told why their content was hidden.")
    if not errors:
        try:
            await site.api(
                "POST", f"{REPORTS}/{_q(report_id)}/decision", json={"decision": decision, "note": note}
            )
        except ApiFailure as failure:
            if failure.status == 422:
                errors = _errors(failure)
            elif failure.status == 409:
                errors = {"__all__": _("This report was already decided.")}
            else:
                raise
        else:
            site.flash(
                _("The content is hidden and its author is told why.")
                if decision == "hide"
                else _("The report is dismissed: the content stays.")
            )
            return site.redirect("/admin/reports")
    return await _render_report(site, report_id, values=values, errors=errors)


# -- cities ----------------------------------------------------------------------------------


async def _render_cities(
    site: Site, *, values: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> Response:
    found = await site.api("GET", CITIES)
    return site.render(
        "admin/cities.html",
        status=422 if errors else 200,
        cities=found.get("items", []),
        values=values or {"country": "FR"},
        errors=errors or {},
    )


@router.get("/admin/cities", include_in_schema=False)
async def cities(site: AdminSite) -> Response:
    return await _render_cities(site)


FIELDS = ("name", "slug", "official_code", "country", "postcodes", "trial_days", "page_text")


@router.post("/admin/cities", include_in_schema=False)
async def register_city(site: AdminSite, form: Form) -> Response:
    _ = site.gettext
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    errors: dict[str, str] = {}
    postcodes = [p for p in re.split(r"[\s,;]+", values["postcodes"]) if p]
    if not postcodes:
        errors["postcodes"] = _("Give at least one postcode of the city's territory.")
    elif bad := [p for p in postcodes if not POSTCODE.match(p)]:
        errors["postcodes"] = _("Not a postcode: %(codes)s") % {"codes": ", ".join(bad[:5])}
    trial_days: int | None = None
    if values["trial_days"]:
        try:
            trial_days = int(values["trial_days"])
        except ValueError:
            trial_days = -1
        if not 1 <= trial_days <= 365:
            errors["trial_days"] = _("Enter a number of days from 1 to 365, or leave it empty.")
    values["country"] = values["country"].upper()
    if not errors:
        body: dict[str, Any] = {
            "name": values["name"],
            "slug": values["slug"],
            "official_code": values["official_code"],
            "country": values["country"],
            "postcodes": postcodes,
            "page_text": values["page_text"],
        }
        try:
            city = await site.api("POST", CITIES, json=body)
        except ApiFailure as failure:
            if failure.status == 422:
                errors = _errors(failure)
            elif failure.status == 409:
                errors = {"slug": _("A city already has this address (slug).")}
            else:
                raise
        else:
            if trial_days is not None:
                await site.api("POST", f"{CITIES}/{_q(city['slug'])}/trial", json={"days": trial_days})
            site.flash(_("%(city)s is registered.") % {"city": city.get("name", values["name"])})
            return site.redirect("/admin/cities")
    return await _render_cities(site, values=values, errors=errors)


# -- campaigns whose owner deleted their account ---------------------------------------------


@router.get("/admin/owner-decisions", include_in_schema=False)
async def owner_decisions(site: AdminSite) -> Response:
    waiting = await site.api("GET", OWNER_DECISIONS, params={"limit": QUEUE_SIZE})
    return site.render("admin/owner_decisions.html", campaigns=waiting.get("items", []))


async def _render_owner_decision(
    site: Site,
    campaign_id: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    campaign = await site.api("GET", f"{CAMPAIGNS}/{_q(campaign_id)}")
    return site.render(
        "admin/owner_decision.html",
        status=422 if errors else 200,
        campaign=campaign,
        values=values or {},
        errors=errors or {},
    )


@router.get("/admin/owner-decisions/{campaign_id}", include_in_schema=False)
async def owner_decision_page(site: AdminSite, campaign_id: str) -> Response:
    return await _render_owner_decision(site, campaign_id)


@router.post("/admin/owner-decisions/{campaign_id}", include_in_schema=False)
async def decide_owner_deleted(site: AdminSite, form: Form, campaign_id: str) -> Response:
    _ = site.gettext
    decision = str(form.get("decision", "")).strip()
    reason = str(form.get("reason", "")).strip()
    values = {"decision": decision, "reason": reason}
    errors: dict[str, str] = {}
    if decision not in ("keep", "stop"):
        errors["decision"] = _("Choose a decision.")
    elif decision == "stop" and len(reason) < 3:
        errors["reason"] = _("Give the backers a reason: they are told why the campaign stops.")
    elif len(reason) > 2000:
        errors["reason"] = _("Keep the reason under 2,000 characters.")
    if not errors:
        body: dict[str, Any] = {"decision": decision}
        if reason:
            body["reason"] = reason
        try:
            await site.api("POST", f"{CAMPAIGNS}/{_q(campaign_id)}/owner-decision", json=body)
        except ApiFailure as failure:
            if failure.status == 422:
                errors = _errors(failure)
            elif failure.status == 409:
                errors = {"__all__": _("This campaign is no longer waiting for a decision.")}
            else:
                raise
        else:
            site.flash(
                _("The campaign keeps running without its owner.")
                if decision == "keep"
                else _(
                    "The campaign is stopped: canceled if it was live (its pledges released and refunded), rejected if it was waiting for review."
                )
            )
            return site.redirect("/admin/owner-decisions")
    return await _render_owner_decision(site, campaign_id, values=values, errors=errors)


# -- parked events (servicekit.parked, mounted by every service that consumes events) ---------

PARKED_SERVICES = ("campaigns", "payments", "endorsements", "notifications")


async def _parked(site: Site, service: str) -> dict[str, Any] | None:
    try:
        return await site.api("GET", f"/api/v1/{service}/ops/parked", params={"limit": 50})
    except ApiFailure:
        return None  # the page still shows the other services


@router.get("/admin/parked", include_in_schema=False)
async def parked(site: AdminSite) -> Response:
    found = await asyncio.gather(*(_parked(site, s) for s in PARKED_SERVICES))
    return site.render("admin/parked.html", services=list(zip(PARKED_SERVICES, found, strict=True)))


@router.post("/admin/parked/{service}/{queue}/replay", include_in_schema=False)
async def replay(site: AdminSite, form: Form, service: str, queue: str) -> Response:
    _ = site.gettext
    if service not in PARKED_SERVICES:
        raise HTTPException(404)
    answer = await site.api("POST", f"/api/v1/{service}/ops/parked/{_q(queue)}/replay")
    count = len(answer.get("replayed", []))
    site.flash(_("%(n)s event(s) of %(queue)s are back on their queue.") % {"n": count, "queue": queue})
    return site.redirect("/admin/parked")
