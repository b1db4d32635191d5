"""The project holder's pages: propose a project (a draft), "my projects", and the owner's
dashboard of one campaign (status and the moderator's reason, edit, submit, updates, needs and
the offers made to them, meetups, backers and the ledger, the city's label, cancel).

Every rule stays in the campaigns, payments and endorsements services: the pages only check
what a person can fix in the form before the call (a goal that is not an amount, a title too
short) so the message is in their language, and show the API's own field errors otherwise."""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.datastructures import FormData

from ..gateway import ApiFailure
from ..i18n import Formats, major_to_minor
from ..site import Form, SignedIn, Site
from ..vocabulary import category_names, need_kind_names

router = APIRouter()

CAMPAIGNS = "/api/v1/campaigns/campaigns"
CATEGORIES = (
    "public_space", "sport", "culture", "solidarity", "environment",
    "education", "mobility", "health", "other",
)  # fmt: skip
CURRENCIES = ("EUR", "GBP", "USD", "CHF")
FUNDING_MODELS = ("keep_it_all", "all_or_nothing")
NEED_KINDS = ("volunteers", "hosting", "goods", "space", "skills", "other")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,59}$")
MAX_GOAL = 100_000_000
# Meetups are typed as local times of the platform's cities.
LOCAL_ZONE = ZoneInfo("Europe/Paris")
# Once live, only these change (the rest is what backers pledged to).
LIVE_EDITABLE = ("summary", "description", "neighbourhood", "address", "cover_image_url")
CAMPAIGN_FIELDS = (
    "title", "summary", "description", "category", "municipality", "neighbourhood", "address",
    "postcode", "cover_image_url", "goal", "currency", "funding_model", "duration_days",
)  # fmt: skip
# API field -> form field, where they differ.
FORM_NAMES = {"description": "story", "municipality": "city"}


def status_text(site: Site, campaign: dict[str, Any]) -> tuple[str, str]:
    """(short label, one plain sentence) for the campaign's status."""
    _ = site.gettext
    status = campaign.get("status")
    if status == "draft" and campaign.get("reason"):
        return _("Returned for changes"), _(
            "A moderator sent it back with the reason below. Change what is asked, then submit it again."
        )
    texts = {
        "draft": (_("Draft"), _("Only you can see it. Submit it for review when it is ready.")),
        "submitted": (
            _("Waiting for review"),
            _("A moderator checks every project before it goes live. You will be told of the decision."),
        ),
        "live": (_("Live"), _("Everyone can see it, back it and offer help until its deadline.")),
        "succeeded": (_("Succeeded"), _("The deadline has passed and the campaign reached what it needed.")),
        "failed": (_("Did not succeed"), _("The deadline has passed without reaching what was needed.")),
        "canceled": (_("Canceled"), _("The campaign was stopped; backers who paid are refunded.")),
        "completed": (_("Completed"), _("The project was delivered. Thank you!")),
        "rejected": (_("Rejected"), _("A moderator refused this project, for the reason below.")),
    }
    return texts.get(str(status), (str(status), ""))


# -- helpers ---------------------------------------------------------------------------------


def _text(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()


async def _send(
    site: Site,
    method: str,
    path: str,
    *,
    json: Any,
    shown: dict[str, Any],
    names: dict[str, str] | None = None,
) -> dict[str, str]:
    """Send a dashboard form's change to the API: no errors, or the refusal as form errors."""
    try:
        await site.api(method, path, json=json)
    except ApiFailure as failure:
        if failure.status not in (400, 409, 422):
            raise
        return _form_errors(failure, shown, names)
    return {}


def _form_errors(failure: ApiFailure, shown: tuple[str, ...] | dict[str, Any], names: dict[str, str] | None = None) -> dict[str, str]:  # fmt: skip
    """The API's refusal as form errors: beside the field it names (`names` maps API field names
    to the form's), else at the top of the form (a field the form does not show, or no field)."""
    errors: dict[str, str] = {}
    general: list[str] = []
    for name, message in failure.field_errors().items():
        field = (names or {}).get(name, name)
        if field in shown:
            errors.setdefault(field, message)
        else:
            general.append(message if field == "__all__" else f"{field}: {message}")
    if general or not errors:
        errors["__all__"] = " ".join(general) or failure.message
    return errors


async def _campaign(site: Site, campaign_id: str) -> dict[str, Any]:
    """The campaign, for its owner only (anyone else gets the not-found page)."""
    campaign = await site.api("GET", f"{CAMPAIGNS}/{campaign_id}")
    if not site.user or campaign.get("owner_id") != site.user.get("id"):
        raise ApiFailure(404, "not_found", site.gettext("You can only manage your own projects."))
    return campaign


async def _municipalities(site: Site) -> list[tuple[str, str]]:
    """The known cities as (slug, name), or nothing (the form then asks for the city as text)."""
    try:
        answer = await site.api("GET", "/api/v1/endorsements/municipalities", auth=False)
    except ApiFailure:
        return []
    items = (answer or {}).get("items") or []
    return sorted(((str(m["slug"]), str(m.get("name") or m["slug"])) for m in items), key=lambda m: m[1])


def _tabs(site: Site, campaign: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, label, url) of the dashboard's tabs that make sense in this status."""
    _ = site.gettext
    base = f"/projects/{campaign['id']}"
    status = campaign.get("status")
    published = status in ("live", "succeeded", "failed", "canceled", "completed")
    tabs = [("overview", _("Overview"), base)]
    if published:
        tabs.append(("updates", _("Updates"), f"{base}/updates"))
    if status in ("draft", "submitted", "live") or published:
        tabs.append(("needs", _("Needs and offers"), f"{base}/needs"))
    if published:
        tabs.append(("meetups", _("Meetups"), f"{base}/meetups"))
        tabs.append(("backers", _("Backers and ledger"), f"{base}/backers"))
    if status in ("draft", "submitted", "live", "succeeded"):
        tabs.append(("label", _("City label"), f"{base}/label"))
    return tabs


def _dashboard(site: Site, template: str, campaign: dict[str, Any], tab: str, status: int = 200,
               **context: Any) -> Response:  # fmt: skip
    label, sentence = status_text(site, campaign)
    return site.render(
        template, status=status, campaign=campaign, tab=tab, tabs=_tabs(site, campaign),
        status_label=label, status_sentence=sentence, categories=category_names(site),
        kinds=need_kind_names(site), **context,
    )  # fmt: skip


# -- propose and edit ------------------------------------------------------------------------


def _values_of(campaign: dict[str, Any] | None, amount_input: Any = None) -> dict[str, str]:
    """The form's values for a campaign (or the defaults of a new one)."""
    if campaign is None:
        return {"category": "other", "currency": "EUR", "funding_model": "keep_it_all", "duration_days": "30"}
    values = {name: "" if campaign.get(name) is None else str(campaign.get(name)) for name in CAMPAIGN_FIELDS}
    values["story"] = values.pop("description")
    values["city"] = values.pop("municipality")
    values["goal"] = (
        amount_input(campaign["goal"], campaign["currency"]) if amount_input else str(campaign["goal"])
    )
    return values


def _parse_campaign(site: Site, form: FormData, fields: tuple[str, ...]) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:  # fmt: skip
    """(typed values, API body, errors) for the campaign form's `fields` (API names)."""
    _ = site.gettext
    values = {name: _text(form, name) for name in (
        "title", "summary", "story", "category", "city", "neighbourhood", "address", "postcode",
        "cover_image_url", "goal", "currency", "funding_model", "duration_days",
    )}  # fmt: skip
    values["story"] = str(form.get("story", "")).strip()
    body: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if "title" in fields:
        if len(values["title"]) < 3:
            errors["title"] = _("Give your project a title of at least 3 characters.")
        elif len(values["title"]) > 140:
            errors["title"] = _("Keep the title under 140 characters.")
        body["title"] = values["title"]
    for name in ("summary", "neighbourhood", "address", "postcode"):
        if name in fields:
            body[name] = values[name]
    if "description" in fields:
        body["description"] = values["story"]
    if "cover_image_url" in fields and values["cover_image_url"]:
        body["cover_image_url"] = values["cover_image_url"]
    if "summary" in fields and len(values["summary"]) > 500:
        errors["summary"] = _("Keep the summary under 500 characters.")
    if "category" in fields:
        if values["category"] not in CATEGORIES:
            errors["category"] = _("Choose a category.")
        body["category"] = values["category"]
    if "municipality" in fields:
        city = values["city"].lower()
        values["city"] = city
        if not city:
            errors["city"] = _("Choose the city where the project takes place.")
        elif not SLUG.match(city):
            errors["city"] = _("Write the city as a short name in lower case, with hyphens (e.g. montreuil).")
        body["municipality"] = city
    if "currency" in fields:
        if values["currency"] not in CURRENCIES:
            errors["currency"] = _("Choose a currency.")
            values["currency"] = "EUR"
        body["currency"] = values["currency"]
    if "goal" in fields:
        try:
            goal = major_to_minor(values["goal"], values["currency"] or "EUR")
        except (ValueError, ArithmeticError):
            errors["goal"] = _("Enter the goal as an amount, for example 2500 or 2500.50.")
        else:
            if goal <= 0:
                errors["goal"] = _("The goal must be more than zero.")
            elif goal > MAX_GOAL:
                errors["goal"] = _("The goal is too large for the platform.")
            body["goal"] = goal
    if "funding_model" in fields:
        if values["funding_model"] not in FUNDING_MODELS:
            errors["funding_model"] = _("Choose how the money is collected.")
        body["funding_model"] = values["funding_model"]
    if "duration_days" in fields:
        try:
            days = int(values["duration_days"])
            if not 7 <= days <= 90:
                raise ValueError(days)
        except ValueError:
            errors["duration_days"] = _("Enter a number of days from 7 to 90.")
        else:
            body["duration_days"] = days
    return values, body, errors


def _propose_page(site: Site, *, values: dict[str, str], errors: dict[str, str], cities: list[tuple[str, str]],
                  key: str, campaign: dict[str, Any] | None = None, status: int = 200) -> Response:  # fmt: skip
    editable = CAMPAIGN_FIELDS if campaign is None or campaign.get("status") == "draft" else LIVE_EDITABLE
    if cities and values.get("city") and values["city"] not in {c[0] for c in cities}:
        cities = [*cities, (values["city"], values["city"])]
    return site.render(
        "projects/propose.html", status=status, values=values, errors=errors, cities=cities, key=key,
        campaign=campaign, editable=editable, categories=category_names(site), currencies=CURRENCIES,
    )  # fmt: skip


@router.get("/propose", include_in_schema=False)
async def propose_page(site: SignedIn) -> Response:
    return _propose_page(site, values=_values_of(None), errors={}, cities=await _municipalities(site),
                         key=secrets.token_urlsafe(18))  # fmt: skip


@router.post("/propose", include_in_schema=False)
async def propose(site: SignedIn, form: Form) -> Response:
    values, body, errors = _parse_campaign(site, form, CAMPAIGN_FIELDS)
    key = _text(form, "idempotency_key")
    if not 16 <= len(key) <= 200:
        key = secrets.token_urlsafe(18)
    if not errors:
        try:
            created = await _create_once(site, body, key)
        except ApiFailure as failure:
            if failure.status not in (400, 409, 422):
                raise
            errors = _form_errors(failure, values, FORM_NAMES)
        else:
            site.flash(site.gettext("Your draft is saved. Submit it for review when it is ready."))
            return site.redirect(f"/projects/{created['id']}")
    # Nothing was created: a corrected form is a new request with a key of its own.
    return _propose_page(site, values=values, errors=errors, cities=await _municipalities(site),
                         key=secrets.token_urlsafe(18), status=422)  # fmt: skip


async def _create_once(site: Site, body: dict[str, Any], key: str) -> dict[str, Any]:
    """Create the draft under the form's key: a second submit of the same form answers the
    first one's draft (while the first is still running, wait for it)."""
    for _attempt in range(20):
        try:
            return await site.api("POST", CAMPAIGNS, json=body, headers={"Idempotency-Key": key})  # type: ignore[no-any-return]
        except ApiFailure as failure:
            if failure.code != "request_in_progress":
                raise
        await asyncio.sleep(0.25)
    raise ApiFailure(
        409, "request_in_progress", site.gettext("Your project is still being saved; reload in a moment.")
    )


@router.get("/projects/{campaign_id}/edit", include_in_schema=False)
async def edit_page(site: SignedIn, campaign_id: str) -> Response:
    campaign = await _campaign(site, campaign_id)
    return _propose_page(site, values=_values_of(campaign, Formats(site.locale).amount_input), errors={},
                         cities=await _municipalities(site), key="", campaign=campaign)  # fmt: skip


@router.post("/projects/{campaign_id}/edit", include_in_schema=False)
async def edit(site: SignedIn, form: Form, campaign_id: str) -> Response:
    campaign = await _campaign(site, campaign_id)
    editable = CAMPAIGN_FIELDS if campaign["status"] == "draft" else LIVE_EDITABLE
    values, body, errors = _parse_campaign(site, form, editable)
    changes = {k: v for k, v in body.items() if v != (campaign.get(k) if campaign.get(k) is not None else "")}
    if not errors and not changes:
        site.flash(site.gettext("Nothing changed."), "info")
        return site.redirect(f"/projects/{campaign_id}")
    if not errors:
        errors = await _send(
            site, "PATCH", f"{CAMPAIGNS}/{campaign_id}", json=changes, shown=values, names=FORM_NAMES
        )
        if not errors:
            site.flash(site.gettext("Your changes are saved."))
            return site.redirect(f"/projects/{campaign_id}")
    return _propose_page(site, values=values, errors=errors, cities=await _municipalities(site), key="",
                         campaign=campaign, status=422)  # fmt: skip


# -- my projects -----------------------------------------------------------------------------


@router.get("/projects", include_in_schema=False)
async def my_projects(site: SignedIn, cursor: str = Query("", max_length=500)) -> Response:
    page = await site.api(
        "GET", CAMPAIGNS, params={"mine": "true", "sort": "newest", "limit": 20, "cursor": cursor}
    )
    items = [(c, *status_text(site, c)) for c in page.get("items", [])]
    return site.render("projects/list.html", items=items, next_cursor=page.get("next_cursor"),
                       categories=category_names(site))  # fmt: skip


# -- the dashboard ---------------------------------------------------------------------------


@router.get("/projects/{campaign_id}", include_in_schema=False)
async def dashboard(site: SignedIn, campaign_id: str) -> Response:
    campaign = await _campaign(site, campaign_id)
    return _dashboard(site, "projects/overview.html", campaign, "overview")


@router.post("/projects/{campaign_id}/submit", include_in_schema=False)
async def submit(site: SignedIn, form: Form, campaign_id: str) -> Response:
    await _campaign(site, campaign_id)
    try:
        await site.api("POST", f"{CAMPAIGNS}/{campaign_id}/submit")
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        site.flash(site.gettext("It could not be submitted: %(why)s") % {"why": failure.message}, "error")
    else:
        site.flash(
            site.gettext("Your project is sent for review. You will be told when a moderator decides.")
        )
    return site.redirect(f"/projects/{campaign_id}")


# updates


async def _updates(site: Site, campaign_id: str) -> list[dict[str, Any]]:
    page = await site.api("GET", f"{CAMPAIGNS}/{campaign_id}/updates", params={"limit": 50})
    return list(page.get("items", []))


@router.get("/projects/{campaign_id}/updates", include_in_schema=False)
async def updates_page(site: SignedIn, campaign_id: str) -> Response:
    campaign = await _campaign(site, campaign_id)
    return _dashboard(site, "projects/updates.html", campaign, "updates", updates=await _updates(site, campaign_id),
                      values={}, errors={})  # fmt: skip


@router.post("/projects/{campaign_id}/updates", include_in_schema=False)
async def post_update(site: SignedIn, form: Form, campaign_id: str) -> Response:
    campaign = await _campaign(site, campaign_id)
    _ = site.gettext
    values = {"title": _text(form, "title"), "body": str(form.get("body", "")).strip()}
    errors: dict[str, str] = {}
    if len(values["title"]) < 3:
        errors["title"] = _("Give the update a title of at least 3 characters.")
    if not values["body"]:
        errors["body"] = _("Write what is new.")
    if not errors:
        errors = await _send(site, "POST", f"{CAMPAIGNS}/{campaign_id}/updates", json=values, shown=values)
        if not errors:
            site.flash(_("Your update is posted; followers and backers are told."))
            return site.redirect(f"/projects/{campaign_id}/updates")
    return _dashboard(site, "projects/updates.html", campaign, "updates", status=422,
                      updates=await _updates(site, campaign_id), values=values, errors=errors)  # fmt: skip


# needs and offers


async def _needs_with_offers(site: Site, campaign_id: str) -> list[dict[str, Any]]:
    needs = (await site.api("GET", f"{CAMPAIGNS}/{campaign_id}/needs")).get("items", [])

    async def offers(need: dict[str, Any]) -> dict[str, Any]:
        if not need.get("offers_count"):
            return {**need, "offers": []}
        answer = await site.api("GET", f"{CAMPAIGNS}/{campaign_id}/needs/{need['id']}/offers")
        return {**need, "offers": answer.get("items", [])}

    return list(await asyncio.gather(*(offers(n) for n in needs)))


@router.get("/projects/{campaign_id}/needs", include_in_schema=False)
async def needs_page(site: SignedIn, campaign_id: str) -> Response:
    campaign = await _campaign(site, campaign_id)
    return _dashboard(site, "projects/needs.html", campaign, "needs", needs=await _needs_with_offers(site, campaign_id),
                      values={"kind": "volunteers", "quantity": "1"}, errors={})  # fmt: skip


@router.post("/projects/{campaign_id}/needs", include_in_schema=False)
async def add_need(site: SignedIn, form: Form, campaign_id: str) -> Response:
    campaign = await _campaign(site, campaign_id)
    _ = site.gettext
    values = {name: _text(form, name) for name in ("title", "kind", "quantity", "unit", "description")}
    errors: dict[str, str] = {}
    if len(values["title"]) < 3:
        errors["title"] = _("Give the need a title of at least 3 characters.")
    if values["kind"] not in NEED_KINDS:
        errors["kind"] = _("Choose a kind of help.")
    try:
        quantity = int(values["quantity"])
        if not 1 <= quantity <= 10_000:
            raise ValueError(quantity)
    except ValueError:
        errors["quantity"] = _("Enter a whole number from 1 to 10000.")
        quantity = 0
    if not errors:
        errors = await _send(
            site,
            "POST",
            f"{CAMPAIGNS}/{campaign_id}/needs",
            json={**values, "quantity": quantity},
            shown=values,
        )
        if not errors:
            site.flash(_("The need is added to your project."))
            return site.redirect(f"/projects/{campaign_id}/needs")
    return _dashboard(site, "projects/needs.html", campaign, "needs", status=422,
                      needs=await _needs_with_offers(site, campaign_id), values=values, errors=errors)  # fmt: skip


@router.post("/projects/{campaign_id}/needs/{need_id}/offers/{offer_id}/decision", include_in_schema=False)
async def decide_offer(site: SignedIn, form: Form, campaign_id: str, need_id: str, offer_id: str) -> Response:
    await _campaign(site, campaign_id)
    decision = _text(form, "decision")
    if decision not in ("accept", "decline"):
        raise ApiFailure(422, "invalid", "accept or decline")
    try:
        await site.api("POST", f"{CAMPAIGNS}/{campaign_id}/needs/{need_id}/offers/{offer_id}/decision",
                       json={"decision": decision})  # fmt: skip
    except ApiFailure as failure:
        if failure.status not in (409, 422):
            raise
        site.flash(
            site.gettext("That offer could not be decided: %(why)s") % {"why": failure.message}, "error"
        )
    else:
        site.flash(site.gettext("Offer accepted. The helper is told.") if decision == "accept"
                   else site.gettext("Offer declined. The helper is told."))  # fmt: skip
    return site.redirect(f"/projects/{campaign_id}/needs#need-{need_id}")


# meetups


async def _meetups(site: Site, campaign_id: str) -> list[dict[str, Any]]:
    answer = await site.api("GET", f"{CAMPAIGNS}/{campaign_id}/meetups")
    return list(answer.get("items", []))


@router.get("/projects/{campaign_id}/meetups", include_in_schema=False)
async def meetups_page(site: SignedIn, campaign_id: str) -> Response:
    campaign = await _campaign(site, campaign_id)
    return _dashboard(site, "projects/meetups.html", campaign, "meetups", meetups=await _meetups(site, campaign_id),
                      values={}, errors={})  # fmt: skip


def _local_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_ZONE)


@router.post("/projects/{campaign_id}/meetups", include_in_schema=False)
async def add_meetup(site: SignedIn, form: Form, campaign_id: str) -> Response:
    campaign = await _campaign(site, campaign_id)
    _ = site.gettext
    values = {name: _text(form, name) for name in ("title", "starts_at", "place", "capacity", "description")}
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "title": values["title"],
        "place": values["place"],
        "description": values["description"],
    }
    if len(values["title"]) < 3:
        errors["title"] = _("Give the meetup a title of at least 3 characters.")
    if len(values["place"]) < 2:
        errors["place"] = _("Say where people meet.")
    try:
        body["starts_at"] = _local_time(values["starts_at"]).isoformat()
    except ValueError:
        errors["starts_at"] = _("Enter a date and time, for example 2027-05-10 18:00.")
    try:
        body["capacity"] = int(values["capacity"])
        if not 1 <= body["capacity"] <= 10_000:
            raise ValueError(values["capacity"])
    except ValueError:
        errors["capacity"] = _("Enter a whole number from 1 to 10000.")
    if not errors:
        errors = await _send(site, "POST", f"{CAMPAIGNS}/{campaign_id}/meetups", json=body, shown=values)
        if not errors:
            site.flash(_("The meetup is scheduled; followers are told."))
            return site.redirect(f"/projects/{campaign_id}/meetups")
    return _dashboard(site, "projects/meetups.html", campaign, "meetups", status=422,
                      meetups=await _meetups(site, campaign_id), values=values, errors=errors)  # fmt: skip


# backers and the ledger


@router.get("/projects/{campaign_id}/backers", include_in_schema=False)
async def backers_page(site: SignedIn, campaign_id: str) -> Response:
    campaign = await _campaign(site, campaign_id)
    ledger: dict[str, Any] | None
    try:
        ledger = await site.api("GET", f"/api/v1/payments/campaigns/{campaign_id}/ledger")
    except ApiFailure as failure:
        if failure.status not in (403, 404, 503, 504):
            raise
        ledger = None  # payments does not know the campaign yet (no money moved) or is away
    _ = site.gettext
    accounts = {"project": _("Project"), "platform": _("Platform tips"), "match": _("City match funding"),
                "commitments": _("City promises"), "stripe_fees": _("Stripe fees"), "payouts": _("Payouts")}  # fmt: skip
    entry_kinds = {"charge": _("Payment"), "refund": _("Refund"), "platform_fee": _("Tip to the platform"),
                   "match_applied": _("Match funding given"), "match_released": _("Match funding released"),
                   "match_committed": _("Match funding promised"), "match_canceled": _("Promise withdrawn"),
                   "stripe_fee": _("Stripe fee"), "transfer": _("Paid out to you"),
                   "transfer_reversal": _("Payout reversed")}  # fmt: skip
    return _dashboard(site, "projects/backers.html", campaign, "backers", ledger=ledger, accounts=accounts,
                      entry_kinds=entry_kinds)  # fmt: skip


# the city's label


async def _labels(site: Site, campaign_id: str) -> list[dict[str, Any]]:
    """Every label request made for the campaign, in every state (the owner's view), newest first."""
    try:
        answer = await site.api("GET", f"/api/v1/endorsements/campaigns/{campaign_id}/label-requests")
    except ApiFailure:
        return []
    return list((answer or {}).get("items") or [])


@router.get("/projects/{campaign_id}/label", include_in_schema=False)
async def label_page(site: SignedIn, campaign_id: str) -> Response:
    campaign = await _campaign(site, campaign_id)
    return _dashboard(site, "projects/label.html", campaign, "label", labels=await _labels(site, campaign_id),
                      values={}, errors={}, requested=None)  # fmt: skip


@router.post("/projects/{campaign_id}/label", include_in_schema=False)
async def request_label(site: SignedIn, form: Form, campaign_id: str) -> Response:
    campaign = await _campaign(site, campaign_id)
    values = {"message": str(form.get("message", "")).strip()}
    errors: dict[str, str] = {}
    if len(values["message"]) > 2000:
        errors["message"] = site.gettext("Keep the message under 2000 characters.")
    if not errors:
        try:
            await site.api("POST", "/api/v1/endorsements/labels", json={"campaign_id": campaign_id, **values})
        except ApiFailure as failure:
            if failure.status not in (400, 402, 403, 404, 409, 422):
                raise
            errors = _form_errors(failure, values)
            if "__all__" in errors and failure.code in ("campaign_not_found", "not_found"):
                errors["__all__"] = site.gettext(
                    "The city does not know this project yet. Try again in a moment."
                )
            elif failure.code == "label_exists":
                errors["__all__"] = site.gettext("You already asked this city; it has your request.")
        else:
            site.flash(site.gettext("Your request is sent to the city. You will be told of its answer."))
            return site.redirect(f"/projects/{campaign_id}/label")
    return _dashboard(site, "projects/label.html", campaign, "label", status=422,
                      labels=await _labels(site, campaign_id), values=values, errors=errors)  # fmt: skip


# cancel


@router.get("/projects/{campaign_id}/cancel", include_in_schema=False)
async def cancel_page(site: SignedIn, campaign_id: str) -> Response:
    campaign = await _campaign(site, campaign_id)
    return _dashboard(site, "projects/cancel.html", campaign, "overview", values={}, errors={})


@router.post("/projects/{campaign_id}/cancel", include_in_schema=False)
async def cancel(site: SignedIn, form: Form, campaign_id: str) -> Response:
    campaign = await _campaign(site, campaign_id)
    values = {"reason": str(form.get("reason", "")).strip()}
    errors: dict[str, str] = {}
    if len(values["reason"]) < 3:
        errors["reason"] = site.gettext("Tell backers and followers why, in a few words.")
    if not errors:
        errors = await _send(site, "POST", f"{CAMPAIGNS}/{campaign_id}/cancel", json=values, shown=values)
        if not errors:
            site.flash(site.gettext("The campaign is canceled. Backers who paid are refunded."), "info")
            return site.redirect(f"/projects/{campaign_id}")
    return _dashboard(
        site, "projects/cancel.html", campaign, "overview", status=422, values=values, errors=errors
    )
