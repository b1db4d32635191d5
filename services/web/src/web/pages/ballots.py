"""A call's participatory-budget vote on the site: the resident's ballot (add and remove
proposals with htmx, the running total per heading, the rule's message beside a refused line,
check out, "your ballot is counted", change until the vote closes), the results page (by
heading: votes, winners, the tie-break rule, online and paper counts, the digest to recount
against), and for the city's officials the paper-ballot entry form with the turnout statistics.

Endorsements holds every rule: the pages show its answers (a refusal's message is the rule's)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ..gateway import ApiFailure
from ..site import Form, SignedIn, Site, SiteDep
from .cities import _call, call_phase
from .city_console import E, form_errors, official_city, optional

router = APIRouter()

REFUSALS = (400, 403, 404, 409, 422)


def rule_text(site: Site, rule: dict[str, Any], currency: str) -> str:
    """The ballot rule in words, with where it comes from."""
    _ = site.gettext
    kind = rule.get("kind")
    if kind == "approval":
        return _("Choose up to %(n)s proposals (approval voting, as in CONSUL).") % {
            "n": rule.get("max_lines")
        }
    if kind == "knapsack":
        return _("Choose proposals whose amounts fit in the heading's budget (CONSUL's knapsack voting).")
    text = _("Spend between %(p)s %% and 100 %% of the heading's budget (Decidim's threshold rule).") % {
        "p": rule.get("min_percent")
    }
    if rule.get("min_projects"):
        text += " " + _("At least %(n)s proposals.") % {"n": rule["min_projects"]}
    if rule.get("max_projects"):
        text += " " + _("At most %(n)s proposals.") % {"n": rule["max_projects"]}
    return text


def tie_break_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {
        "earliest_submission": _("equal votes: the proposal submitted first wins"),
        "lowest_amount": _("equal votes: the cheaper proposal wins"),
        "draw": _("equal votes: a draw from the seed published before the vote"),
    }


async def _render_ballot(
    site: Site, slug: str, call_id: str, *, status: int = 200, refused: dict[str, str] | None = None,
    problem: str = "", problem_code: str = "",
) -> Response:  # fmt: skip
    call, city = await _call(site, slug, call_id)
    if not call.get("ballot"):
        return site.redirect(f"/cities/{slug}/calls/{call_id}")
    ballot = None
    try:
        ballot = await site.api("GET", f"{E}/calls/{call_id}/ballot")
    except ApiFailure as failure:
        if failure.status not in REFUSALS:
            raise
        problem, problem_code = problem or failure.message, problem_code or failure.code
    proposals = (await site.api("GET", f"{E}/calls/{call_id}/proposals", auth=False)).get("items", [])
    on_ballot = {line["proposal_id"] for h in (ballot or {}).get("headings", []) for line in h["lines"]}
    where = _headings_of(call, proposals)
    return site.render(
        "ballots/ballot.html", status=status, call=call, city=city, ballot=ballot, proposals=proposals,
        on_ballot=on_ballot, where=where, refused=refused or {}, problem=problem, problem_code=problem_code,
        rule=rule_text(site, call["ballot"]["rule"], call["currency"]), phase=call_phase(call),
        tie_breaks=tie_break_names(site),
    )  # fmt: skip


def _headings_of(call: dict[str, Any], proposals: list[dict[str, Any]]) -> dict[str, str]:
    """Which heading shows each proposal (the same placing as endorsements: the city's own,
    else the heading of its postcode, else the city-wide one), only to group the page."""
    setup = call["ballot"]
    out = {}
    for p in proposals:
        key = setup.get("assign", {}).get(p["id"])
        if key is None:
            code = (p.get("postcode") or "").strip().upper()
            key = next((h["key"] for h in setup["headings"] if code in h["postcodes"]), None) or next(
                (h["key"] for h in setup["headings"] if not h["postcodes"]), None
            )
        if key is not None:
            out[p["id"]] = key
    return out


async def _act(
    site: Site, slug: str, call_id: str, method: str, path: str, proposal_id: str = ""
) -> Response:
    """Send one ballot change; a refusal comes back on the page beside its line. A token older
    than the person's email verification is renewed once (the claim is in the token)."""
    for attempt in (1, 2):
        try:
            await site.api(method, path)
        except ApiFailure as failure:
            if failure.status not in REFUSALS:
                raise
            if failure.code == "email_not_verified" and attempt == 1:
                await site.renew_tokens()
                if (site.user or {}).get("email_verified"):
                    continue
            refused = {proposal_id or "checkout": failure.message}
            return await _render_ballot(
                site, slug, call_id, status=failure.status, refused=refused,
                problem=failure.message if failure.code in ("email_not_verified", "not_resident") else "",
                problem_code=failure.code,
            )  # fmt: skip
        break
    return await _render_ballot(site, slug, call_id)


@router.get("/cities/{slug}/calls/{call_id}/ballot", include_in_schema=False)
async def ballot_page(site: SignedIn, slug: str, call_id: str) -> Response:
    return await _render_ballot(site, slug, call_id)


@router.post("/cities/{slug}/calls/{call_id}/ballot/lines/{proposal_id}", include_in_schema=False)
async def add_line(site: SignedIn, form: Form, slug: str, call_id: str, proposal_id: str) -> Response:
    path = f"{E}/calls/{call_id}/ballot/lines/{proposal_id}"
    return await _act(site, slug, call_id, "PUT", path, proposal_id)


@router.post("/cities/{slug}/calls/{call_id}/ballot/lines/{proposal_id}/remove", include_in_schema=False)
async def remove_line(site: SignedIn, form: Form, slug: str, call_id: str, proposal_id: str) -> Response:
    path = f"{E}/calls/{call_id}/ballot/lines/{proposal_id}"
    return await _act(site, slug, call_id, "DELETE", path, proposal_id)


@router.post("/cities/{slug}/calls/{call_id}/ballot/checkout", include_in_schema=False)
async def checkout(site: SignedIn, form: Form, slug: str, call_id: str) -> Response:
    return await _act(site, slug, call_id, "POST", f"{E}/calls/{call_id}/ballot/checkout")


# -- results ----------------------------------------------------------------------------------


@router.get("/cities/{slug}/calls/{call_id}/results", include_in_schema=False)
async def results_page(site: SiteDep, slug: str, call_id: str) -> Response:
    call, city = await _call(site, slug, call_id)
    results, problem = None, ""
    try:
        results = await site.api("GET", f"{E}/calls/{call_id}/results")
    except ApiFailure as failure:
        if failure.status not in REFUSALS:
            raise
        problem = failure.message
    rule = rule_text(site, call["ballot"]["rule"], call["currency"]) if call.get("ballot") else ""
    return site.render(
        "ballots/results.html", call=call, city=city, results=results, problem=problem, rule=rule,
        tie_breaks=tie_break_names(site),
    )  # fmt: skip


# -- paper ballots and statistics (the city's officials) ----------------------------------------


async def _render_paper(
    site: Site, slug: str, call_id: str, *, status: int = 200, values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    city, role, _officials = await official_city(site, slug)
    call, _city = await _call(site, slug, call_id)
    proposals, stats = await asyncio.gather(
        site.api("GET", f"{E}/calls/{call_id}/proposals", auth=False),
        optional(site, f"{E}/calls/{call_id}/statistics"),
    )
    form = {"station": "", "postcode": "", "lines": [], **(values or {})}
    return site.render(
        "ballots/paper.html", status=status, call=call, city=city, role=role, stats=stats,
        proposals=[p for p in proposals.get("items", []) if p["status"] in ("submitted", "shortlisted")],
        form=form, errors=errors or {}, phase=call_phase(call),
    )  # fmt: skip


@router.get("/cities/{slug}/calls/{call_id}/paper-ballots", include_in_schema=False)
async def paper_page(site: SignedIn, slug: str, call_id: str) -> Response:
    return await _render_paper(site, slug, call_id)


@router.post("/cities/{slug}/calls/{call_id}/paper-ballots", include_in_schema=False)
async def enter_paper(site: SignedIn, form: Form, slug: str, call_id: str) -> Response:
    _ = site.gettext
    values = {
        "station": str(form.get("station", "")).strip()[:120],
        "postcode": str(form.get("postcode", "")).strip()[:10],
        "lines": [str(v)[:100] for v in form.getlist("lines")][:200],
    }
    errors: dict[str, str] = {}
    if len(values["station"]) < 2:
        errors["station"] = _("Name the polling station.")
    if not values["postcode"]:
        errors["postcode"] = _("Enter the voter's postcode.")
    if not values["lines"]:
        errors["lines"] = _("Tick the proposals marked on the paper ballot.")
    if not errors:
        try:
            await site.api("POST", f"{E}/calls/{call_id}/paper-ballots", json=values)
        except ApiFailure as failure:
            if failure.status not in REFUSALS:
                raise
            errors = form_errors(failure)
            if "__all__" in errors and failure.code == "paper_ballot_refused":
                errors = {"lines": errors["__all__"]}
            elif "__all__" in errors and failure.code == "not_resident":
                errors = {"postcode": errors["__all__"]}
        else:
            site.flash(_("The paper ballot is counted."))
            return site.redirect(f"/cities/{slug}/calls/{call_id}/paper-ballots")
    return await _render_paper(site, slug, call_id, status=422, values=values, errors=errors)
