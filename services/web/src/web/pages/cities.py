"""The city side of the site: a city's public page, its calls for projects (citizens' side:
the call, its proposals, submitting one, voting, the results), and the pages its officials open
from their emails and inbox: a label request (review, grant with the support offered, decline,
revoke); `/city` lists the cities of a signed-in official. The console's calls, officials,
subscription and city systems pages are in city_calls.py, city_team.py, city_billing.py and
city_systems.py.

Every rule stays in endorsements, payments and notifications: the official pages first ask
endorsements for the city's officials (officials and admins only, so anyone else gets the 403
page), then read what they show."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import FormData

from ..gateway import ApiFailure
from ..i18n import major_to_minor, parse_instant
from ..site import Form, SignedIn, Site, SiteDep
from ..vocabulary import campaign_status_names, category_names, support_kind_names

router = APIRouter()

E = "/api/v1/endorsements"
CAMPAIGNS = "/api/v1/campaigns/campaigns"
SUPPORT_KINDS = ("land", "venue", "equipment", "permits", "communication", "technical_help")
CATEGORIES = (
    "public_space", "sport", "culture", "solidarity", "environment",
    "education", "mobility", "health", "other",
)  # fmt: skip
MAX_WINNER_CALLS = 6


# -- names shown for API values ------------------------------------------------------------


def role_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {"reviewer": _("reviewer"), "manager": _("manager"), "admin": _("administrator")}


def label_status_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {
        "requested": _("Requested"),
        "under_review": _("Under review"),
        "granted": _("Granted"),
        "declined": _("Declined"),
        "revoked": _("Revoked"),
    }


def proposal_status_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {
        "submitted": _("Submitted"),
        "shortlisted": _("Shortlisted"),
        "selected": _("Selected"),
        "not_selected": _("Not selected"),
    }


def selection_mode_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {
        "jury": _("Chosen by a jury"),
        "vote": _("Chosen by the residents' vote"),
        "jury_then_vote": _("Shortlisted by a jury, then put to the residents' vote"),
    }


def names(site: Site) -> dict[str, Any]:
    return {
        "roles": role_names(site),
        "support_kinds": support_kind_names(site),
        "categories": category_names(site),
        "label_statuses": label_status_names(site),
        "proposal_statuses": proposal_status_names(site),
        "campaign_statuses": campaign_status_names(site),
        "selection_modes": selection_mode_names(site),
    }


# -- shared reads ---------------------------------------------------------------------------


def _form_errors(failure: ApiFailure) -> dict[str, str]:
    errors = dict(failure.field_errors())
    if not errors:
        errors["__all__"] = failure.message
    return errors


async def _optional(site: Site, path: str, **kwargs: Any) -> Any:
    """A read the page can do without (None when the API refuses or is down)."""
    try:
        return await site.api("GET", path, **kwargs)
    except ApiFailure:
        return None


async def _official_city(site: Site, slug: str) -> tuple[dict[str, Any], str]:
    """The city and the caller's role there; the officials list answers 403 to anyone but the
    city's officials and admins (the error page), 404 for an unknown city."""
    officials = await site.api("GET", f"{E}/municipalities/{slug}/officials")
    city = await site.api("GET", f"{E}/municipalities/{slug}")
    me = site.user.get("id") if site.user else None
    role = next((o["role"] for o in officials.get("items", []) if o.get("user_id") == me), None)
    return city, role or ("admin" if site.is_admin else "")


def call_phase(call: dict[str, Any], now: datetime | None = None) -> str:
    """Where a call stands for citizens: upcoming, submissions, between, vote, counting, closed."""
    now = now or datetime.now(UTC)
    if call.get("status") != "open":
        return "closed"
    opens = parse_instant(call.get("submission_opens_at"))
    closes = parse_instant(call.get("submission_closes_at"))
    vote_opens = parse_instant(call.get("vote_opens_at"))
    vote_closes = parse_instant(call.get("vote_closes_at"))
    if opens and now < opens:
        return "upcoming"
    if closes and now < closes:
        return "submissions"
    if vote_opens and vote_closes:
        if now < vote_opens:
            return "between"
        if now < vote_closes:
            return "vote"
    return "counting"


# -- the public city page -------------------------------------------------------------------


async def _winners(site: Site, slug: str) -> list[dict[str, Any]]:
    """The decided calls of the city with their selected proposals (newest calls first)."""
    calls = await _optional(site, f"{E}/municipalities/{slug}/calls", auth=False)
    decided = [c for c in (calls or {}).get("items", []) if c.get("status") == "decided"]
    decided.sort(key=lambda c: str(c.get("submission_closes_at") or ""), reverse=True)
    decided = decided[:MAX_WINNER_CALLS]
    proposals = await asyncio.gather(
        *(_optional(site, f"{E}/calls/{c['id']}/proposals", auth=False) for c in decided)
    )
    found = []
    for call, listing in zip(decided, proposals, strict=True):
        selected = [p for p in (listing or {}).get("items", []) if p.get("status") == "selected"]
        if selected:
            found.append({"call": call, "winners": selected})
    return found


@router.get("/cities/{slug}", include_in_schema=False)
async def city_page(site: SiteDep, slug: str) -> Response:
    page, winners = await asyncio.gather(
        site.api("GET", f"{E}/municipalities/{slug}/page", auth=False), _winners(site, slug)
    )
    my_role = ((site.user or {}).get("municipalities") or {}).get(slug)
    return site.render("cities/page.html", page=page, city=page["municipality"], winners=winners,
                       my_role=my_role, **names(site))  # fmt: skip


@router.get("/city", include_in_schema=False)
async def my_cities(site: SignedIn) -> Response:
    roles: dict[str, str] = dict((site.user or {}).get("municipalities") or {})
    if not roles:
        # A role given moments ago reaches the session with a new token (see invitations.py).
        with contextlib.suppress(ApiFailure):
            await site.renew_tokens()
        roles = dict((site.user or {}).get("municipalities") or {})
    listing = await _optional(site, f"{E}/municipalities", auth=False)
    by_slug = {m["slug"]: m for m in (listing or {}).get("items", []) if m.get("slug")}
    cities = [
        {"slug": slug, "name": (by_slug.get(slug) or {}).get("name") or slug, "role": role}
        for slug, role in sorted(roles.items())
    ]
    return site.render("cities/console.html", cities=cities, **names(site))


# -- calls for projects (citizens' side) ---------------------------------------------------


async def _call(site: Site, slug: str, call_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    call = await site.api("GET", f"{E}/calls/{call_id}", auth=False)
    if call.get("municipality") != slug:
        raise ApiFailure(404, "not_found", "no such call in this city")
    city = await site.api("GET", f"{E}/municipalities/{slug}", auth=False)
    return call, city


async def _render_call(
    site: Site, slug: str, call_id: str, *, status: int = 200, values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    call, city = await _call(site, slug, call_id)
    proposals, results = await asyncio.gather(
        _optional(site, f"{E}/calls/{call_id}/proposals", auth=False),
        _optional(site, f"{E}/calls/{call_id}/results"),
    )
    items = (proposals or {}).get("items", [])
    by_id = {p["id"]: p for p in items}
    ranking = [{**r, "proposal": by_id.get(r["proposal_id"])} for r in (results or {}).get("ranking", [])]
    phase = call_phase(call)
    postcode = (site.user or {}).get("postcode") or ""
    form = {"title": "", "summary": "", "category": "", "requested_amount": "", "goal": "",
            "postcode": postcode, **(values or {})}  # fmt: skip
    return site.render(
        "cities/call.html", status=status, call=call, city=city, proposals=items, results=results,
        ranking=ranking, phase=phase, form=form, errors=errors or {}, **names(site),
    )  # fmt: skip


@router.get("/cities/{slug}/calls/{call_id}", include_in_schema=False)
async def call_page(site: SiteDep, slug: str, call_id: str) -> Response:
    return await _render_call(site, slug, call_id)


@router.post("/cities/{slug}/calls/{call_id}/proposals", include_in_schema=False)
async def submit_proposal(site: SignedIn, form: Form, slug: str, call_id: str) -> Response:
    _ = site.gettext
    call, _city = await _call(site, slug, call_id)
    keys = ("title", "summary", "category", "requested_amount", "goal", "postcode")
    values = {k: str(form.get(k, "")).strip() for k in keys}
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "title": values["title"],
        "summary": values["summary"],
        "postcode": values["postcode"],
    }
    if not values["title"]:
        errors["title"] = _("Give your proposal a title.")
    if not values["summary"]:
        errors["summary"] = _("Say in a few lines what you propose.")
    if not values["postcode"]:
        errors["postcode"] = _("Enter the postcode where the project takes place.")
    if values["category"]:
        if values["category"] not in CATEGORIES:
            errors["category"] = _("Choose a category from the list.")
        body["category"] = values["category"]
    for name, required in (("requested_amount", True), ("goal", False)):
        if not values[name]:
            if required:
                errors[name] = _("Enter the amount you ask the city for.")
            continue
        try:
            body[name] = major_to_minor(values[name], call["currency"])
        except (ValueError, ArithmeticError):
            errors[name] = _("Enter an amount, for example 2500 or 2500.50.")
    if not errors:
        try:
            await site.api("POST", f"{E}/calls/{call_id}/proposals", json=body)
        except ApiFailure as failure:
            if failure.status not in (400, 403, 409, 422):
                raise
            errors = _form_errors(failure)
        else:
            site.flash(_("Your proposal is submitted. The city will review it."))
            return site.redirect(f"/cities/{slug}/calls/{call_id}#proposals")
    return await _render_call(site, slug, call_id, status=422, values=values, errors=errors)


@router.post("/cities/{slug}/calls/{call_id}/proposals/{proposal_id}/vote", include_in_schema=False)
async def vote(site: SignedIn, form: Form, slug: str, call_id: str, proposal_id: str) -> Response:
    _ = site.gettext
    await _call(site, slug, call_id)
    try:
        answer = await site.api("POST", f"{E}/proposals/{proposal_id}/votes")
    except ApiFailure as failure:
        if failure.status not in (400, 403, 409, 422):
            raise
        site.flash(_("Your vote was not counted: %(reason)s") % {"reason": failure.message}, "error")
    else:
        site.flash(_("Your vote is counted. Votes left: %(n)s") % {"n": answer.get("votes_left", 0)})
    return site.redirect(f"/cities/{slug}/calls/{call_id}#proposals")


# -- a label request (officials) -----------------------------------------------------------

MATCH_CONDITIONS = ("instant", "on_goal_reached", "lump_sum_at_threshold")
MATCH_FIELDS = ("pool_id", "condition", "ratio", "cap_per_contribution", "cap_per_project",
                "max_contributions_per_backer", "min_backers", "threshold_percent", "lump_sum")  # fmt: skip
MATCH_AMOUNTS = ("cap_per_contribution", "cap_per_project", "lump_sum")
MATCH_COUNTS = {
    "max_contributions_per_backer": (1, 1000),
    "min_backers": (0, 100_000),
    "threshold_percent": (1, 100),
}


def match_condition_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {
        "instant": _("Instant: each contribution is matched as it comes"),
        "on_goal_reached": _("On goal reached: paid once the goal is met"),
        "lump_sum_at_threshold": _("Lump sum once a share of the goal is raised"),
    }


def _grant_defaults() -> dict[str, str]:
    return {
        "note": "",
        "kind": "",
        "description": "",
        "address": "",
        "starts_on": "",
        "ends_on": "",
        "value": "",
        **{name: "" for name in MATCH_FIELDS},
        "condition": "instant",
        "ratio": "1",
        "previewed": "",
    }


def _ratio(text: str) -> float:
    """ "1", "0,5", "2" or "1:1" -> city money per unit contributed; ValueError otherwise."""
    if ":" in text:
        city, backers = (major_to_minor(part, "EUR") for part in text.split(":", 1))
        if not backers:
            raise ValueError("not a ratio")
        value = Decimal(city) / Decimal(backers)
    else:
        value = Decimal(major_to_minor(text, "EUR")) / 100
    if value <= 0 or value > 10 or value != value.quantize(Decimal("0.01")):
        raise ValueError("not a ratio")
    return float(value)


def _match_body(
    site: Site, values: dict[str, str], pools: list[dict[str, Any]], currency: str
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The match commitment typed in the grant form (None when no pool is chosen), with the
    errors to show beside its fields; the API checks the rest (budget, consistency)."""
    _ = site.gettext
    if not values["pool_id"]:
        return None, {}
    errors: dict[str, str] = {}
    pool = next((p for p in pools if p["id"] == values["pool_id"]), None)
    if pool is None:
        errors["pool_id"] = _("Choose one of the city's pools.")
    else:
        currency = pool["currency"]
    body: dict[str, Any] = {"pool_id": values["pool_id"], "condition": values["condition"]}
    if values["condition"] not in MATCH_CONDITIONS:
        errors["condition"] = _("Choose when the city pays.")
    try:
        body["ratio"] = _ratio(values["ratio"])
    except (ValueError, ArithmeticError):
        errors["ratio"] = _("Enter what the city adds per euro given: 1 for 1:1, 2 for 2:1, 0.5 for 1:2.")
    for name in MATCH_AMOUNTS:
        if values[name]:
            try:
                body[name] = major_to_minor(values[name], currency)
            except (ValueError, ArithmeticError):
                errors[name] = _("Enter an amount, for example 2500 or 2500.50.")
            else:
                if body[name] <= 0:
                    errors[name] = _("Enter an amount above zero.")
    for name, (low, high) in MATCH_COUNTS.items():
        if values[name]:
            if not values[name].isdigit() or not low <= int(values[name]) <= high:
                errors[name] = _("Enter a whole number from %(low)s to %(high)s.") % {
                    "low": low,
                    "high": high,
                }
            else:
                body[name] = int(values[name])
    if values["condition"] == "lump_sum_at_threshold":
        if not values["lump_sum"]:
            errors["lump_sum"] = _("Enter the lump sum the city pays.")
        if not values["threshold_percent"]:
            errors["threshold_percent"] = _("Enter the share of the goal that releases the lump sum.")
    elif values["condition"] in MATCH_CONDITIONS and not values["cap_per_project"]:
        errors["cap_per_project"] = _("Enter the most the city gives this project: the pool reserves it.")
    return body, errors


def _fingerprint(match: dict[str, Any] | None) -> str:
    """What the manager last saw previewed: granting a rule they have not seen previews it first."""
    return json.dumps(match, sort_keys=True, separators=(",", ":")) if match else ""


async def _render_label(
    site: Site, slug: str, label_id: str, *, status: int = 200, form_name: str = "",
    values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
    preview: dict[str, Any] | None = None, notice: str = "",
) -> Response:  # fmt: skip
    city, role = await _official_city(site, slug)
    label = await site.api("GET", f"{E}/labels/{label_id}")
    if label.get("municipality") != slug:
        raise ApiFailure(404, "not_found", "no such label in this city")
    is_open = label.get("status") in ("requested", "under_review")
    campaign, pools = await asyncio.gather(
        _optional(site, f"{CAMPAIGNS}/{label['campaign_id']}"),
        _optional(site, f"{E}/municipalities/{slug}/pools") if is_open and role == "manager" else _none(),
    )
    commitments = await asyncio.gather(
        *(_optional(site, f"{E}/commitments/{cid}", auth=False) for cid in label.get("commitment_ids") or [])
    )
    grant = _grant_defaults()
    reason = ""
    if form_name == "grant":
        grant.update(values or {})
    elif values:
        reason = values.get("reason", "")
    return site.render(
        "cities/label.html", status=status, city=city, role=role, label=label, campaign=campaign,
        form_name=form_name, grant=grant, reason=reason, errors=errors or {}, pools=(pools or {}).get("items", []),
        preview=preview, notice=notice, idempotency_key=uuid.uuid4().hex, commitments=[c for c in commitments if c],
        match_conditions=match_condition_names(site), **names(site),
    )  # fmt: skip


async def _none() -> None:
    return None


@router.get("/cities/{slug}/labels/{label_id}", include_in_schema=False)
async def label_page(site: SignedIn, slug: str, label_id: str) -> Response:
    return await _render_label(site, slug, label_id)


async def _label_action(
    site: Site, slug: str, label_id: str, form_name: str, path: str, body: dict[str, Any] | None,
    values: dict[str, str], done: str, headers: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    await _official_city(site, slug)
    try:
        await site.api("POST", f"{E}/labels/{label_id}/{path}", json=body, headers=headers)
    except ApiFailure as failure:
        if failure.status not in (400, 402, 403, 404, 409, 422):
            raise
        errors = _form_errors(failure)
        for nested in ("support", "match"):
            if nested in errors:
                errors.setdefault("__all__", errors.pop(nested))
        return await _render_label(site, slug, label_id, status=422 if failure.status == 422 else failure.status,
                                   form_name=form_name, values=values, errors=errors)  # fmt: skip
    site.flash(done)
    return site.redirect(f"/cities/{slug}/labels/{label_id}")


@router.post("/cities/{slug}/labels/{label_id}/review", include_in_schema=False)
async def start_review(site: SignedIn, form: Form, slug: str, label_id: str) -> Response:
    return await _label_action(site, slug, label_id, "review", "review", None, {},
                               site.gettext("The review has started."))  # fmt: skip


def _reason(site: Site, form: FormData) -> tuple[str, dict[str, str]]:
    reason = str(form.get("reason", "")).strip()
    errors = {}
    if len(reason) < 3:
        errors["reason"] = site.gettext(
            "Give the reason (at least 3 characters): the project holder reads it."
        )
    return reason, errors


@router.post("/cities/{slug}/labels/{label_id}/decline", include_in_schema=False)
async def decline(site: SignedIn, form: Form, slug: str, label_id: str) -> Response:
    reason, errors = _reason(site, form)
    if errors:
        return await _render_label(site, slug, label_id, status=422, form_name="decline",
                                   values={"reason": reason}, errors=errors)  # fmt: skip
    return await _label_action(site, slug, label_id, "decline", "decline", {"reason": reason},
                               {"reason": reason}, site.gettext("The label is declined; the project holder is told why."))  # fmt: skip


@router.post("/cities/{slug}/labels/{label_id}/revoke", include_in_schema=False)
async def revoke(site: SignedIn, form: Form, slug: str, label_id: str) -> Response:
    reason, errors = _reason(site, form)
    if errors:
        return await _render_label(site, slug, label_id, status=422, form_name="revoke",
                                   values={"reason": reason}, errors=errors)  # fmt: skip
    return await _label_action(site, slug, label_id, "revoke", "revoke", {"reason": reason},
                               {"reason": reason}, site.gettext("The label is revoked; the reason is public."))  # fmt: skip


def _support_offer(
    site: Site, values: dict[str, str], currency: str
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    _ = site.gettext
    errors: dict[str, str] = {}
    if not values["kind"]:
        if values["description"] or values["address"] or values["value"]:
            errors["kind"] = _("Choose the kind of support you describe.")
        return [], errors
    offer: dict[str, Any] = {"kind": values["kind"], "description": values["description"]}
    if values["kind"] not in SUPPORT_KINDS:
        errors["kind"] = _("Choose a kind of support from the list.")
    if len(values["description"]) < 3:
        errors["description"] = _("Describe the support the city gives (at least 3 characters).")
    if values["kind"] in ("land", "venue") and not values["address"]:
        errors["address"] = _("Land and venues need an address.")
    if values["address"]:
        offer["address"] = values["address"]
    for name in ("starts_on", "ends_on"):
        if values[name]:
            offer[name] = values[name]
    if values["starts_on"] and values["ends_on"] and values["ends_on"] < values["starts_on"]:
        errors["ends_on"] = _("The end date is before the start date.")
    if values["value"]:
        try:
            offer["value"] = major_to_minor(values["value"], currency)
            offer["currency"] = currency
        except (ValueError, ArithmeticError):
            errors["value"] = _("Enter an amount, for example 2500 or 2500.50.")
    return [offer], errors


@router.post("/cities/{slug}/labels/{label_id}/grant", include_in_schema=False)
async def grant(site: SignedIn, form: Form, slug: str, label_id: str) -> Response:
    """Grant with the support given and, for a manager, a match commitment. A match is granted
    only once its cost preview was shown for exactly that rule: "Preview the cost" (or granting
    a rule not previewed yet) shows the preview and keeps the form."""
    _ = site.gettext
    values = {k: str(form.get(k, "")).strip() for k in _grant_defaults()}
    currency = str(form.get("currency") or "EUR")
    support, errors = _support_offer(site, values, currency)
    body: dict[str, Any] = {"note": values["note"], "support": support}
    match: dict[str, Any] | None = None
    if values["pool_id"]:
        pools = await _optional(site, f"{E}/municipalities/{slug}/pools")
        match, match_errors = _match_body(site, values, (pools or {}).get("items", []), currency)
        errors.update(match_errors)
    if errors:
        return await _render_label(site, slug, label_id, status=422, form_name="grant", values=values,
                                   errors=errors)  # fmt: skip
    wants_preview = form.get("intent") == "preview"
    if match is not None and (wants_preview or values["previewed"] != _fingerprint(match)):
        await _official_city(site, slug)
        try:
            preview = await site.api("POST", f"{E}/labels/{label_id}/match-preview", json=match)
        except ApiFailure as failure:
            if failure.status not in (400, 403, 404, 409, 422):
                raise
            return await _render_label(site, slug, label_id, status=422 if failure.status == 422 else failure.status,
                                       form_name="grant", values=values, errors=_form_errors(failure))  # fmt: skip
        values["previewed"] = _fingerprint(match)
        notice = "" if wants_preview else _("Check what the match costs, then grant the label.")
        return await _render_label(site, slug, label_id, form_name="grant", values=values, preview=preview,
                                   notice=notice)  # fmt: skip
    headers = None
    if match is not None:
        body["match"] = match
        # From the rendered form: a double submission is answered once, not committed twice.
        headers = {"Idempotency-Key": str(form.get("idempotency_key") or uuid.uuid4().hex)}
    values["previewed"] = ""
    done = (
        _("The label is granted with match funding; the project holder is told.")
        if match
        else _("The label is granted; the project holder is told.")
    )
    return await _label_action(site, slug, label_id, "grant", "grant", body, values, done, headers)
