"""The city console's calls for projects, for the city's officials: the calls of the city and
a form to open one (theme, budget, maximum award, eligibility, submission and vote windows,
selection mode); each call's page lists the proposals (shortlist them), schedules the vote
(dates, or open / close it now), shows the live results, selects the winners (a jury picks
them with their awards; a vote call takes the ranking) and closes the call. Selecting launches
the winners as campaigns labelled by the city (campaigns does it on `call.proposal_selected`);
the page links to them. Citizens use the call's public page (cities.py).

Endorsements holds every rule (who runs calls, windows, budget, votes); the page checks what
it can beside each field first and shows the API's refusal otherwise."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import FormData

from ..gateway import ApiFailure
from ..i18n import major_to_minor, parse_instant
from ..site import Form, SignedIn, Site
from ..vocabulary import category_names
from .cities import call_phase, proposal_status_names, selection_mode_names
from .city_console import E, form_errors, may_manage, official_city, optional, role_names

router = APIRouter()

CATEGORIES = (
    "public_space", "sport", "culture", "solidarity", "environment",
    "education", "mobility", "health", "other",
)  # fmt: skip
MODES = ("jury", "vote", "jury_then_vote")
DATES = ("submission_opens_at", "submission_closes_at", "vote_opens_at", "vote_closes_at")
DEFAULT_VOTE_DAYS = 14


def _zone(site: Site) -> ZoneInfo:
    return ZoneInfo(site.settings.display_timezone)


def _local_input(value: Any, zone: ZoneInfo) -> str:
    """An API instant as a datetime-local field's value, in the platform's zone."""
    moment = parse_instant(value)
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if moment else ""


def _parse_local(text: str, zone: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _names(site: Site) -> dict[str, Any]:
    return {
        "roles": role_names(site),
        "categories": category_names(site),
        "proposal_statuses": proposal_status_names(site),
        "selection_modes": selection_mode_names(site),
    }


# -- the calls of the city, and opening one ---------------------------------------------------


def _blank_call(zone: ZoneInfo) -> dict[str, Any]:
    today = datetime.now(zone).replace(hour=9, minute=0, second=0, microsecond=0)
    return {
        "title": "", "theme": "", "description": "", "budget": "", "max_award": "", "currency": "EUR",
        "categories": [], "territory_only": True, "winners": "1", "selection_mode": "vote",
        "votes_per_resident": "3",
        "submission_opens_at": today.strftime("%Y-%m-%dT%H:%M"),
        "submission_closes_at": (today + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
        "vote_opens_at": (today + timedelta(days=31)).strftime("%Y-%m-%dT%H:%M"),
        "vote_closes_at": (today + timedelta(days=45)).strftime("%Y-%m-%dT%H:%M"),
    }  # fmt: skip


async def _render_calls(
    site: Site, slug: str, *, status: int = 200, values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    city, role, _officials = await official_city(site, slug)
    listing = await site.api("GET", f"{E}/municipalities/{slug}/calls")
    calls = sorted(listing.get("items", []), key=lambda c: str(c.get("submission_opens_at")), reverse=True)
    for call in calls:
        call["phase"] = call_phase(call)
    form = {**_blank_call(_zone(site)), **(values or {})}
    return site.render("city_calls/calls.html", status=status, city=city, role=role, calls=calls, form=form,
                       errors=errors or {}, manage=may_manage(role), category_choices=CATEGORIES,
                       **_names(site))  # fmt: skip


@router.get("/cities/{slug}/console/calls", include_in_schema=False)
async def calls_page(site: SignedIn, slug: str) -> Response:
    return await _render_calls(site, slug)


def _call_body(site: Site, form: FormData) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The typed form, the API's body and the errors beside each field."""
    _ = site.gettext
    zone = _zone(site)
    keys = ("title", "theme", "description", "budget", "max_award", "currency", "winners",
            "selection_mode", "votes_per_resident", *DATES)  # fmt: skip
    values: dict[str, Any] = {k: str(form.get(k, "")).strip() for k in keys}
    values["categories"] = [str(c) for c in form.getlist("categories")]
    values["territory_only"] = bool(form.get("territory_only"))
    values["currency"] = values["currency"] or "EUR"
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "title": values["title"], "theme": values["theme"], "description": values["description"],
        "currency": values["currency"], "selection_mode": values["selection_mode"],
        "eligibility": {"categories": values["categories"], "territory_only": values["territory_only"]},
    }  # fmt: skip
    if len(values["title"]) < 3:
        errors["title"] = _("Give the call a title of at least 3 characters.")
    if values["selection_mode"] not in MODES:
        errors["selection_mode"] = _("Choose how the winners are chosen.")
    if any(c not in CATEGORIES for c in values["categories"]):
        errors["categories"] = _("Choose categories from the list.")
    for name in ("budget", "max_award"):
        try:
            body[name] = major_to_minor(values[name], values["currency"])
            if body[name] <= 0:
                raise ValueError(name)
        except (ValueError, ArithmeticError):
            errors[name] = _("Enter an amount, for example 20000 or 2500.50.")
    if "budget" in body and "max_award" in body and body["max_award"] > body["budget"]:
        errors["max_award"] = _("The maximum award cannot be more than the budget.")
    for name, low, high in (("winners", 1, 200), ("votes_per_resident", 1, 50)):
        try:
            body[name] = int(values[name])
            if not low <= body[name] <= high:
                raise ValueError(name)
        except ValueError:
            errors[name] = _("Enter a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
    moments: dict[str, datetime] = {}
    needs_vote = values["selection_mode"] in ("vote", "jury_then_vote")
    for name in DATES:
        if not values[name]:
            if name.startswith("submission") or needs_vote:
                errors[name] = _("Enter a date and time, for example 2027-05-10 18:00.")
            continue
        try:
            moments[name] = _parse_local(values[name], zone)
        except ValueError:
            errors[name] = _("Enter a date and time, for example 2027-05-10 18:00.")
    if not needs_vote and values["selection_mode"] in MODES:
        moments.pop("vote_opens_at", None)
        moments.pop("vote_closes_at", None)
    errors.update(_window_errors(site, moments))
    body.update({k: v.isoformat() for k, v in moments.items()})
    return values, body, errors


def _window_errors(site: Site, moments: dict[str, datetime]) -> dict[str, str]:
    _ = site.gettext
    errors: dict[str, str] = {}
    opens, closes = moments.get("submission_opens_at"), moments.get("submission_closes_at")
    vote_opens, vote_closes = moments.get("vote_opens_at"), moments.get("vote_closes_at")
    if opens and closes and closes <= opens:
        errors["submission_closes_at"] = _("Proposals must close after they open.")
    if vote_opens and closes and vote_opens < closes:
        errors["vote_opens_at"] = _("The vote opens once proposals are closed.")
    if vote_opens and vote_closes and vote_closes <= vote_opens:
        errors["vote_closes_at"] = _("The vote must close after it opens.")
    return errors


# Domain refusals named after the field they concern, so they show beside it.
CODE_FIELDS = {"bad_call_budget": "max_award", "bad_call_windows": "submission_closes_at"}


def _refusal(failure: ApiFailure) -> dict[str, str]:
    errors = form_errors(failure)
    if failure.code in CODE_FIELDS and "__all__" in errors:
        errors[CODE_FIELDS[failure.code]] = errors.pop("__all__")
    return errors


@router.post("/cities/{slug}/console/calls", include_in_schema=False)
async def open_call(site: SignedIn, form: Form, slug: str) -> Response:
    values, body, errors = _call_body(site, form)
    if not errors:
        try:
            call = await site.api("POST", f"{E}/municipalities/{slug}/calls", json=body)
        except ApiFailure as failure:
            if failure.status not in (400, 402, 403, 409, 422):
                raise
            errors = _refusal(failure)
        else:
            site.flash(site.gettext("The call is open; residents find it on the city's page."))
            return site.redirect(f"/cities/{slug}/console/calls/{call['id']}")
    return await _render_calls(site, slug, status=422, values=values, errors=errors)


# -- one call: proposals, the vote, results, winners ------------------------------------------


async def _render_call(
    site: Site, slug: str, call_id: str, *, status: int = 200, form_name: str = "",
    values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    city, role, _officials = await official_city(site, slug)
    call = await site.api("GET", f"{E}/calls/{call_id}")
    if call.get("municipality") != slug:
        raise ApiFailure(404, "not_found", "no such call in this city")
    proposals, results = await asyncio.gather(
        site.api("GET", f"{E}/calls/{call_id}/proposals"),
        optional(site, f"{E}/calls/{call_id}/results")
        if call["selection_mode"] != "jury"
        else asyncio.sleep(0),
    )
    items = proposals.get("items", [])
    by_id = {p["id"]: p for p in items}
    ranking = [{**r, "proposal": by_id.get(r["proposal_id"])} for r in (results or {}).get("ranking", [])]
    zone = _zone(site)
    schedule = {name: _local_input(call.get(name), zone) for name in DATES}
    if form_name == "schedule":
        schedule.update(values or {})
    picks = dict(values or {}) if form_name == "select" else {}
    now = datetime.now(UTC)
    vote_closes = parse_instant(call.get("vote_closes_at"))
    submissions_close = parse_instant(call.get("submission_closes_at"))
    selectable = call["status"] == "open" and (
        (call["selection_mode"] == "jury" and submissions_close is not None and now >= submissions_close)
        or (call["selection_mode"] != "jury" and vote_closes is not None and now >= vote_closes)
    )
    return site.render(
        "city_calls/call.html", status=status, city=city, role=role, call=call, phase=call_phase(call),
        proposals=items, results=results, ranking=ranking, schedule=schedule, picks=picks,
        form_name=form_name, errors=errors or {}, manage=may_manage(role), selectable=selectable,
        **_names(site),
    )  # fmt: skip


@router.get("/cities/{slug}/console/calls/{call_id}", include_in_schema=False)
async def call_page(site: SignedIn, slug: str, call_id: str) -> Response:
    return await _render_call(site, slug, call_id)


async def _act(
    site: Site, slug: str, call_id: str, method: str, path: str, body: dict[str, Any] | None,
    done: str, form_name: str, values: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    try:
        await site.api(method, path, json=body, headers=headers)
    except ApiFailure as failure:
        if failure.status not in (400, 402, 403, 409, 422):
            raise
        errors = _refusal(failure)
        return await _render_call(site, slug, call_id, status=422, form_name=form_name, values=values,
                                  errors=errors)  # fmt: skip
    site.flash(done)
    return site.redirect(f"/cities/{slug}/console/calls/{call_id}")


@router.post(
    "/cities/{slug}/console/calls/{call_id}/proposals/{proposal_id}/shortlist", include_in_schema=False
)
async def shortlist(site: SignedIn, form: Form, slug: str, call_id: str, proposal_id: str) -> Response:
    await official_city(site, slug)
    note = str(form.get("note", "")).strip()[:2000]
    return await _act(site, slug, call_id, "POST", f"{E}/proposals/{proposal_id}/shortlist", {"note": note},
                      site.gettext("The proposal is shortlisted."), "shortlist")  # fmt: skip


@router.post("/cities/{slug}/console/calls/{call_id}/schedule", include_in_schema=False)
async def schedule(site: SignedIn, form: Form, slug: str, call_id: str) -> Response:
    """Dates typed in the form, or a quick action: open the vote now (submissions close now,
    the vote runs until the date typed, else two weeks), close the vote now."""
    _ = site.gettext
    await official_city(site, slug)
    call = await site.api("GET", f"{E}/calls/{call_id}")
    zone = _zone(site)
    action = str(form.get("action", "dates"))
    values = {name: str(form.get(name, "")).strip() for name in DATES[1:]}
    errors: dict[str, str] = {}
    moments: dict[str, datetime] = {}
    for name, text in values.items():
        if text:
            try:
                moments[name] = _parse_local(text, zone)
            except ValueError:
                errors[name] = _("Enter a date and time, for example 2027-05-10 18:00.")
    now = datetime.now(UTC).replace(microsecond=0)
    if action == "open_vote_now":
        closes = parse_instant(call.get("submission_closes_at"))
        changes = {"vote_opens_at": now}
        if closes is None or closes > now:
            changes["submission_closes_at"] = now
        later = moments.get("vote_closes_at") or parse_instant(call.get("vote_closes_at"))
        changes["vote_closes_at"] = (
            later if later and later > now else now + timedelta(days=DEFAULT_VOTE_DAYS)
        )
        done = _("The vote is open; residents can vote on the call's page.")
    elif action == "close_vote_now":
        changes = {"vote_closes_at": now}
        done = _("The vote is closed; the results are final.")
    else:
        changes = dict(moments)
        known = {k: parse_instant(call.get(k)) for k in DATES}
        errors.update(_window_errors(site, {**{k: v for k, v in known.items() if v}, **changes}))
        if not changes and not errors:
            errors["__all__"] = _("Change at least one date.")
        done = _("The call's dates are changed.")
    if errors:
        return await _render_call(site, slug, call_id, status=422, form_name="schedule", values=values,
                                  errors=errors)  # fmt: skip
    body = {k: v.isoformat() for k, v in changes.items()}
    return await _act(site, slug, call_id, "POST", f"{E}/calls/{call_id}/schedule", body, done, "schedule",
                      values)  # fmt: skip


@router.post("/cities/{slug}/console/calls/{call_id}/close", include_in_schema=False)
async def close(site: SignedIn, form: Form, slug: str, call_id: str) -> Response:
    await official_city(site, slug)
    return await _act(site, slug, call_id, "POST", f"{E}/calls/{call_id}/close", None,
                      site.gettext("The call is closed without winners."), "close")  # fmt: skip


@router.post("/cities/{slug}/console/calls/{call_id}/selection", include_in_schema=False)
async def select(site: SignedIn, form: Form, slug: str, call_id: str) -> Response:
    """A jury call sends the ticked proposals with their awards; a vote call takes the ranking."""
    _ = site.gettext
    await official_city(site, slug)
    call = await site.api("GET", f"{E}/calls/{call_id}")
    body: dict[str, Any] = {"note": str(form.get("note", "")).strip()[:2000]}
    values: dict[str, Any] = {"note": body["note"], "winners": [str(w) for w in form.getlist("winner")]}
    errors: dict[str, str] = {}
    if call["selection_mode"] == "jury":
        winners = []
        for pid in values["winners"]:
            typed = str(form.get(f"award-{pid}", "")).strip()
            values[f"award-{pid}"] = typed
            try:
                winners.append({"proposal_id": pid, "award": major_to_minor(typed, call["currency"])})
            except (ValueError, ArithmeticError):
                errors[f"award-{pid}"] = _("Enter an amount, for example 2500 or 2500.50.")
        if not values["winners"]:
            errors["__all__"] = _("Tick the winning proposals and give each its award.")
        body["winners"] = winners
    if errors:
        return await _render_call(site, slug, call_id, status=422, form_name="select", values=values,
                                  errors=errors)  # fmt: skip
    # Money: one key per press of the button (a reload of the answer does not select twice:
    # the call is decided then, and endorsements refuses a second selection).
    headers = {"Idempotency-Key": f"select-{call_id}-{secrets.token_hex(8)}"}
    return await _act(site, slug, call_id, "POST", f"{E}/calls/{call_id}/selection", body,
                      _("The winners are selected: they are launched as campaigns labelled by the city."),
                      "select", values, headers)  # fmt: skip
