"""Proof of residency for a city's votes, on the site.

For the city's managers (console tab "Residents"): which proofs the city accepts (its census,
letters with a code), the census file to upload (only keyed hashes are kept: endorsements never
stores a row), and letters to print for a call: one per address, each with its code, laid out
one letter per printed page. The codes appear on that page only.

For a resident: `/cities/{slug}/calls/{call_id}/residency` proves residency for the call with
the census (document number, birth date, postcode) or the code of the letter, then goes back to
the ballot. Endorsements holds every rule (one proof per account and call, guessing bounded,
codes expire); the page shows its refusals beside the fields."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from ..gateway import ApiFailure
from ..site import Form, SignedIn, Site
from .cities import _call
from .city_console import form_errors, may_manage, official_city, role_names

router = APIRouter()

METHODS = ("census", "letter")
REFUSALS = (400, 403, 404, 409, 410, 413, 415, 422, 429)
MAX_LETTERS = 5000


def method_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {
        "census": _("The city's census: document number, birth date and postcode"),
        "letter": _("A letter with a code, posted to the resident's address"),
    }


async def _render_console(
    site: Site, slug: str, *, status: int = 200, errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None, upload: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    city, role, _officials = await official_city(site, slug)
    api = site.client()
    overview = await api.endorsements_residency_overview(slug)
    listing = await api.endorsements_list_calls(slug)
    open_calls = [c for c in listing.get("items", []) if c.get("status") == "open"]
    return site.render(
        "residency/console.html", status=status, city=city, role=role, roles=role_names(site), overview=overview,
        manage=may_manage(role), method_names=method_names(site), calls=open_calls,
        call_options=[("", "—"), *((c["id"], c["title"]) for c in open_calls)],
        errors=errors or {}, form=values or {}, upload=upload,
    )  # fmt: skip


@router.get("/cities/{slug}/console/residency", include_in_schema=False)
async def console(site: SignedIn, slug: str) -> Response:
    return await _render_console(site, slug)


@router.post("/cities/{slug}/console/residency/methods", include_in_schema=False)
async def set_methods(site: SignedIn, form: Form, slug: str) -> Response:
    methods = [m for m in form.getlist("methods") if m in METHODS]
    try:
        await site.client().endorsements_configure_residency(slug, body={"methods": methods})
    except ApiFailure as failure:
        if failure.status not in REFUSALS:
            raise
        return await _render_console(site, slug, status=422, errors={"methods": failure.message})
    site.flash(site.gettext("The proofs of residency are saved."))
    return site.redirect(f"/cities/{slug}/console/residency")


@router.post("/cities/{slug}/console/residency/census", include_in_schema=False)
async def upload_census(site: SignedIn, form: Form, slug: str) -> Response:
    _ = site.gettext
    file = form.get("census")
    content = await file.read() if isinstance(file, UploadFile) else b""
    if not content:
        return await _render_console(
            site, slug, status=422, errors={"census": _("Choose the census file (CSV).")}
        )
    try:
        upload = await site.client().endorsements_upload_census(slug, body=content)
    except ApiFailure as failure:
        if failure.status not in REFUSALS:
            raise
        return await _render_console(site, slug, status=422, errors={"census": failure.message})
    return await _render_console(site, slug, upload=dict(upload))


def _addresses(site: Site, text: str) -> tuple[list[dict[str, Any]], str | None]:
    """One address a line: name; street; postcode; town (; latitude; longitude), as the city's
    address file exports them (a semicolon or a comma between fields)."""
    _ = site.gettext
    rows: list[dict[str, Any]] = []
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return [], _("Give at least one address.")
    if len(lines) > MAX_LETTERS:
        return [], _("At most %(n)s letters at a time.") % {"n": MAX_LETTERS}
    delimiter = ";" if ";" in lines[0] else ","
    for number, fields in enumerate(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter), start=1):
        fields = [f.strip() for f in fields]
        if len(fields) < 4 or not fields[1] or not fields[2]:
            return [], _("Line %(n)s: give name; street; postcode; town.") % {"n": number}
        row: dict[str, Any] = {
            "name": fields[0],
            "line1": fields[1],
            "postcode": fields[2],
            "city": fields[3],
        }
        if len(fields) >= 6 and fields[4] and fields[5]:
            try:
                row["lat"], row["lon"] = (
                    float(fields[4].replace(",", ".")),
                    float(fields[5].replace(",", ".")),
                )
            except ValueError:
                return [], _("Line %(n)s: latitude and longitude must be numbers.") % {"n": number}
        rows.append(row)
    return rows, None


def _letter_errors(site: Site, failure: ApiFailure, rows: list[dict[str, Any]]) -> dict[str, str]:
    """The API names a refused address by its index: the page names its line."""
    if failure.code == "address_outside_territory":
        lines = [str(int(d["loc"][2]) + 1) for d in failure.details if len(d.get("loc", [])) > 2]
        return {
            "addresses": site.gettext("Not on the city's territory: line(s) %(lines)s.")
            % {"lines": ", ".join(lines)}
        }
    errors = form_errors(failure)
    return {"addresses": errors.pop("__all__", failure.message), **errors}


@router.post("/cities/{slug}/console/residency/letters", include_in_schema=False)
async def make_letters(site: SignedIn, form: Form, slug: str) -> Response:
    _ = site.gettext
    values = {"call_id": str(form.get("call_id", "")), "addresses": str(form.get("addresses", ""))}
    rows, problem = _addresses(site, values["addresses"])
    errors: dict[str, str] = {}
    if problem:
        errors["addresses"] = problem
    if not values["call_id"]:
        errors["call_id"] = _("Choose the call the letters are for.")
    if errors:
        return await _render_console(site, slug, status=422, errors=errors, values=values)
    try:
        batch = await site.client().endorsements_make_letters(
            slug,
            body={"call_id": values["call_id"], "addresses": rows},
        )
    except ApiFailure as failure:
        if failure.status not in REFUSALS:
            raise
        return await _render_console(
            site, slug, status=422, errors=_letter_errors(site, failure, rows), values=values
        )
    return site.render(
        "residency/letters.html", batch=batch, proof_url=f"/cities/{slug}/calls/{batch['call_id']}/residency"
    )


# -- the resident ----------------------------------------------------------------------------


async def _render_proof(
    site: Site, slug: str, call_id: str, *, status: int = 200, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    call, city = await _call(site, slug, call_id)
    proof = await site.client().endorsements_my_residency(call_id)
    return site.render(
        "residency/prove.html", status=status, call=call, city=city, proof=proof, errors=errors or {},
        form=values or {}, ballot_url=f"/cities/{slug}/calls/{call_id}/ballot",
    )  # fmt: skip


@router.get("/cities/{slug}/calls/{call_id}/residency", include_in_schema=False)
async def prove_page(site: SignedIn, slug: str, call_id: str) -> Response:
    return await _render_proof(site, slug, call_id)


def _proof_errors(site: Site, failure: ApiFailure, field: str) -> dict[str, str]:
    _ = site.gettext
    known = {
        "not_in_census": _(
            "The city's census has no entry with this document number, birth date and postcode."
        ),
        "proof_already_used": _("This proof was already used by another account for this vote."),
        "unknown_code": _("This code is not one of the letters for this vote. Check it and try again."),
        "code_expired": _("This code has expired. Ask the city for a new letter."),
        "too_many_attempts": _("Too many attempts that matched nothing. Try again in an hour."),
    }
    if failure.code in known:
        return {field: known[failure.code]}
    return form_errors(failure)


async def _prove(site: Site, slug: str, call_id: str, method: str, body: dict[str, str], field: str,
                 values: dict[str, str]) -> Response:  # fmt: skip
    api = site.client()
    try:
        if method == "census":
            await api.endorsements_prove_by_census(call_id, body=body)
        else:
            await api.endorsements_prove_by_letter(call_id, body=body)
    except ApiFailure as failure:
        if failure.status not in REFUSALS:
            raise
        return await _render_proof(site, slug, call_id, status=422, errors=_proof_errors(site, failure, field),
                                   values=values)  # fmt: skip
    site.flash(site.gettext("You have proved that you live in the city: you can vote."))
    return site.redirect(f"/cities/{slug}/calls/{call_id}/ballot")


def _census_values(form: FormData) -> dict[str, str]:
    return {k: str(form.get(k, "")).strip() for k in ("document_number", "birth_date", "postcode")}


@router.post("/cities/{slug}/calls/{call_id}/residency/census", include_in_schema=False)
async def prove_by_census(site: SignedIn, form: Form, slug: str, call_id: str) -> Response:
    _ = site.gettext
    values = _census_values(form)
    errors: dict[str, str] = {}
    if len(values["document_number"]) < 4:
        errors["document_number"] = _("Give the number of your identity document.")
    if not values["birth_date"]:
        errors["birth_date"] = _("Give your date of birth.")
    if len(values["postcode"]) < 2:
        errors["postcode"] = _("Give your postcode.")
    if errors:
        return await _render_proof(site, slug, call_id, status=422, errors=errors, values=values)
    return await _prove(site, slug, call_id, "census", values, "document_number", values)


@router.post("/cities/{slug}/calls/{call_id}/residency/letter", include_in_schema=False)
async def prove_by_letter(site: SignedIn, form: Form, slug: str, call_id: str) -> Response:
    code = str(form.get("code", "")).strip()
    if len(code.replace("-", "").replace(" ", "")) < 10:
        return await _render_proof(site, slug, call_id, status=422, values={"code": code},
                                   errors={"code": site.gettext("Type the 10 characters of the code on your letter.")})  # fmt: skip
    return await _prove(site, slug, call_id, "letter", {"code": code}, "code", {"code": code})
