"""The city console's own pages for a city's officials: the dashboard (what the subscription
allows, the requests waiting, the match-funding pools and what is left of their yearly budget,
the labelled projects and their funding), the label review queue, a new pool (managers), and
the city's own project (a campaign the city proposes, labelled by it).

The label page itself (review, grant with support and match funding, decline, revoke) is in
cities.py. Every rule stays in the services: endorsements answers 403 to anyone but the city's
officials (the 403 page), 402 while the subscription is inactive."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ..gateway import ApiFailure
from ..i18n import major_to_minor, parse_instant
from ..site import Form, SignedIn, Site
from ..vocabulary import campaign_status_names, category_names, funding_model_names, support_kind_names
from .cities import label_status_names
from .city_console import E, form_errors, official_city, optional, role_names
from .city_dues import city_owes, dues_context

router = APIRouter()

CAMPAIGNS = "/api/v1/campaigns/campaigns"
SUBSCRIPTIONS = "/api/v1/payments/subscriptions"
WAITING = ("requested", "under_review")
CATEGORIES = (
    "public_space", "sport", "culture", "solidarity", "environment",
    "education", "mobility", "health", "other",
)  # fmt: skip
# How long the city's own project waits for endorsements to hear of it before labelling it.
LABEL_WAIT_S = 8.0


def subscription_state(city: dict[str, Any], subscriptions: list[dict[str, Any]], now: datetime) -> str:
    """trial, active, lapsed or none: what the console tells officials the city may do."""
    trial_until = parse_instant(city.get("trial_until"))
    if any(s.get("active") for s in subscriptions):
        return "active"
    if trial_until and trial_until > now:
        return "trial"
    if city.get("subscription_active"):
        return "active"
    return "lapsed" if subscriptions or trial_until else "none"


def located_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {
        "area": _("inside the city's area"),
        "postcode": _("by its postcode"),
        "named": _("names the city"),
    }


def _names(site: Site) -> dict[str, Any]:
    return {
        "roles": role_names(site),
        "label_statuses": label_status_names(site),
        "campaign_statuses": campaign_status_names(site),
        "categories": category_names(site),
        "support_kinds": support_kind_names(site),
        "located": located_names(site),
        "funding_models": funding_model_names(site),
    }


# -- the dashboard ---------------------------------------------------------------------------


async def _render_dashboard(
    site: Site, slug: str, *, status: int = 200, values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    city, role, _officials = await official_city(site, slug)
    queue, pools, page, subscriptions, dues = await asyncio.gather(
        site.api("GET", f"{E}/municipalities/{slug}/review-queue"),
        site.api("GET", f"{E}/municipalities/{slug}/pools"),
        site.api("GET", f"{E}/municipalities/{slug}/page", auth=False),
        optional(site, SUBSCRIPTIONS, params={"municipality": slug}),
        city_owes(site, slug),
    )
    items = queue.get("items", [])
    waiting = [i for i in items if i.get("label") and i["label"]["status"] in WAITING]
    state = subscription_state(city, (subscriptions or {}).get("items", []), datetime.now(UTC))
    form = {"name": "", "year": str(datetime.now(UTC).year), "budget": "", **(values or {})}
    return site.render(
        "city_dashboard/dashboard.html", status=status, city=city, role=role, state=state,
        trial_until=parse_instant(city.get("trial_until")), waiting=waiting,
        requested=sum(1 for i in waiting if i["label"]["status"] == "requested"),
        pools=pools.get("items", []), labelled=page.get("labelled_campaigns", []), totals=page.get("totals", {}),
        form=form, errors=errors or {}, idempotency_key=uuid.uuid4().hex, **_names(site),
        dues=dues, **dues_context(site),
    )  # fmt: skip


@router.get("/cities/{slug}/console", include_in_schema=False)
async def dashboard(site: SignedIn, slug: str) -> Response:
    return await _render_dashboard(site, slug)


@router.post("/cities/{slug}/pools", include_in_schema=False)
async def create_pool(site: SignedIn, form: Form, slug: str) -> Response:
    """A match-funding pool with its yearly budget (managers; endorsements says who may)."""
    _ = site.gettext
    values = {k: str(form.get(k, "")).strip() for k in ("name", "year", "budget")}
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"name": values["name"], "currency": "EUR"}
    if len(values["name"]) < 3:
        errors["name"] = _("Name the pool (at least 3 characters), for example “Participatory budget 2027”.")
    if not values["year"].isdigit() or not 2000 <= int(values["year"]) <= 2100:
        errors["year"] = _("Enter the budget's year, for example 2027.")
    else:
        body["year"] = int(values["year"])
    try:
        body["budget"] = major_to_minor(values["budget"], "EUR")
        if body["budget"] <= 0:
            raise ValueError("not positive")
    except (ValueError, ArithmeticError):
        errors["budget"] = _("Enter the yearly budget, for example 50000.")
    if not errors:
        key = str(form.get("idempotency_key") or uuid.uuid4().hex)
        try:
            await site.api(
                "POST", f"{E}/municipalities/{slug}/pools", json=body, headers={"Idempotency-Key": key}
            )
        except ApiFailure as failure:
            if failure.status not in (400, 403, 409, 422):
                raise
            errors = form_errors(failure)
            if failure.code == "pool_exists":
                errors = {"name": failure.message}
        else:
            site.flash(_("The pool is created: its budget can now match labelled projects."))
            return site.redirect(f"/cities/{slug}/console#pools")
    return await _render_dashboard(site, slug, status=422, values=values, errors=errors)


@router.post("/cities/{slug}/pools/{pool_id}/gifts", include_in_schema=False)
async def pool_gifts(site: SignedIn, form: Form, slug: str, pool_id: str) -> Response:
    """A manager lets backers give to this pool if their project fails, or stops it (one pool per
    year: endorsements refuses a second, said in the flash)."""
    _ = site.gettext
    accepts = form.get("accepts") == "1"
    try:
        await site.client().endorsements_change_pool(pool_id, slug, body={"accepts_gifts": accepts})
    except ApiFailure as failure:
        if failure.status not in (403, 404, 409, 422):
            raise
        site.flash(
            _("Another pool of that year already takes residents' gifts.")
            if failure.code == "gifts_pool_exists"
            else failure.message,
            "error",
        )
    else:
        site.flash(
            _("The pool takes residents' gifts.")
            if accepts
            else _("The pool no longer takes residents' gifts.")
        )
    return site.redirect(f"/cities/{slug}/console#pools")


# -- the label review queue --------------------------------------------------------------------


@router.get("/cities/{slug}/labels", include_in_schema=False)
async def review_queue(site: SignedIn, slug: str) -> Response:
    city, role, _officials = await official_city(site, slug)
    queue = await site.api("GET", f"{E}/municipalities/{slug}/review-queue")
    items = queue.get("items", [])
    waiting = [i for i in items if i.get("label") and i["label"]["status"] in WAITING]
    unlabelled = [i for i in items if not i.get("label")]
    granted = [i for i in items if i.get("label") and i["label"]["status"] == "granted"]
    return site.render("city_dashboard/queue.html", city=city, role=role, waiting=waiting,
                       unlabelled=unlabelled, granted=granted, **_names(site))  # fmt: skip


@router.post("/cities/{slug}/labels", include_in_schema=False)
async def take_up(site: SignedIn, form: Form, slug: str) -> Response:
    """The city opens a review of a campaign in its territory without waiting for a request."""
    campaign_id = str(form.get("campaign_id", "")).strip()
    try:
        label = await site.api("POST", f"{E}/municipalities/{slug}/labels", json={"campaign_id": campaign_id})
    except ApiFailure as failure:
        if failure.status not in (400, 402, 403, 404, 409, 422):
            raise
        site.flash(
            site.gettext("The review could not start: %(reason)s") % {"reason": failure.message}, "error"
        )
        return site.redirect(f"/cities/{slug}/labels")
    site.flash(site.gettext("The review has started."))
    return site.redirect(f"/cities/{slug}/labels/{label['id']}")


# -- the city's own project ------------------------------------------------------------------

PROJECT_FIELDS = ("title", "summary", "description", "category", "neighbourhood", "address", "postcode",
                  "goal", "funding_model", "duration_days")  # fmt: skip


def _project_defaults() -> dict[str, str]:
    return {**{k: "" for k in PROJECT_FIELDS}, "category": "public_space", "funding_model": "keep_it_all",
            "duration_days": "45"}  # fmt: skip


async def _render_project(
    site: Site, slug: str, *, status: int = 200, values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    city, role, _officials = await official_city(site, slug)
    form = {**_project_defaults(), **(values or {})}
    return site.render("city_dashboard/project.html", status=status, city=city, role=role, form=form,
                       errors=errors or {}, idempotency_key=uuid.uuid4().hex, **_names(site))  # fmt: skip


@router.get("/cities/{slug}/projects/new", include_in_schema=False)
async def new_project(site: SignedIn, slug: str) -> Response:
    return await _render_project(site, slug)


async def _label_own_project(site: Site, slug: str, campaign_id: str) -> str | None:
    """Label the city's own project (endorsements checks the caller made it and manages the
    city). Endorsements learns of the new campaign from campaigns' event, so it may take a
    moment: the label's id, or None if it has not heard of it yet (the queue then offers it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LABEL_WAIT_S
    while True:
        try:
            body = {"campaign_id": campaign_id, "note": site.gettext("The city's own project.")}
            label = await site.api("POST", f"{E}/municipalities/{slug}/own-projects", json=body)
            break
        except ApiFailure as failure:
            if failure.code != "campaign_not_found" or loop.time() > deadline:
                if failure.status >= 500:
                    raise
                return None
            await asyncio.sleep(0.3)
    return str(label["id"])


@router.post("/cities/{slug}/projects", include_in_schema=False)
async def propose_project(site: SignedIn, form: Form, slug: str) -> Response:
    """The city proposes its own project: a campaign its manager makes for the city, sent to
    moderation like any other, then labelled by the city as its own."""
    _ = site.gettext
    city, _role, _officials = await official_city(site, slug)
    values = {k: str(form.get(k, "")).strip() for k in PROJECT_FIELDS}
    errors: dict[str, str] = {}
    if len(values["title"]) < 3:
        errors["title"] = _("Give the project a title (at least 3 characters).")
    if values["category"] not in CATEGORIES:
        errors["category"] = _("Choose a category from the list.")
    if values["funding_model"] not in ("keep_it_all", "all_or_nothing"):
        errors["funding_model"] = _("Choose how the money is collected.")
    body: dict[str, Any] = {
        "title": values["title"], "summary": values["summary"], "description": values["description"],
        "category": values["category"], "municipality": slug, "neighbourhood": values["neighbourhood"],
        "address": values["address"], "postcode": values["postcode"], "currency": "EUR",
        "funding_model": values["funding_model"],
    }  # fmt: skip
    try:
        body["goal"] = major_to_minor(values["goal"], "EUR")
        if body["goal"] <= 0:
            raise ValueError("not positive")
    except (ValueError, ArithmeticError):
        errors["goal"] = _("Enter the goal in euros, for example 12000.")
    if not values["duration_days"].isdigit():
        errors["duration_days"] = _("Enter a number of days.")
    else:
        body["duration_days"] = int(values["duration_days"])
    if not errors:
        key = str(form.get("idempotency_key") or uuid.uuid4().hex)
        try:
            campaign = await site.api("POST", CAMPAIGNS, json=body, headers={"Idempotency-Key": key})
            await site.api("POST", f"{CAMPAIGNS}/{campaign['id']}/submit")
        except ApiFailure as failure:
            if failure.status not in (400, 403, 409, 422):
                raise
            errors = form_errors(failure)
        else:
            label_id = await _label_own_project(site, slug, campaign["id"])
            if label_id is None:
                site.flash(
                    _(
                        "The project is sent for review. It appears in the label queue in a moment: label it from there."
                    )
                )
                return site.redirect(f"/cities/{slug}/labels")
            site.flash(_("The project is sent for review and labelled by %(city)s.") % {"city": city["name"]})
            return site.redirect(f"/cities/{slug}/labels/{label_id}")
    return await _render_project(site, slug, status=422, values=values, errors=errors)
