"""Milestone releases (issue 13): the holder splits a campaign's payout into tranches and
proves each later milestone (links to photos or documents); backers and the labelling city see
the campaign's milestones: a backer objects while the window is open, a city official confirms.

Payments holds every rule (the plan's sums, who is a backer, which city confirms, the window);
the site shows its refusals beside the fields they concern."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from ..gateway import ApiFailure
from ..site import Form, SignedIn, Site, signed_in

router = APIRouter()

PAYMENTS = "/api/v1/payments"
CAMPAIGNS = "/api/v1/campaigns/campaigns"
ROWS = 5


def _q(value: str) -> str:
    return quote(value, safe="")


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def milestone_text(gettext: Callable[[str], str], status: str) -> str:
    words = {
        "awaiting_proof": gettext("Waiting for the holder's proof"),
        "awaiting_city": gettext("Waiting for the labelling city's confirmation"),
        "objection_window": gettext("Open to backers' objections"),
        "objected": gettext("Objected: the Civicfund team decides"),
        "released": gettext("Released"),
        "held": gettext("Held by the Civicfund team"),
    }
    return words.get(status, status)


async def _campaign(site: Site, campaign_id: str) -> dict[str, Any]:
    return dict(await site.api("GET", f"{CAMPAIGNS}/{_q(campaign_id)}") or {})


def _shown(site: Site, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**m, "status_text": milestone_text(site.gettext, m["status"])} for m in items]


# -- the holder -----------------------------------------------------------------------------------


async def _plan_page(
    site: Site, campaign_id: str, *, status: int = 200, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None, proof_errors: dict[str, dict[str, str]] | None = None,
) -> Response:  # fmt: skip
    campaign, plan, milestones = await asyncio.gather(
        _campaign(site, campaign_id),
        site.api("GET", f"{PAYMENTS}/campaigns/{_q(campaign_id)}/payout-plan"),
        site.api("GET", f"{PAYMENTS}/campaigns/{_q(campaign_id)}/milestones"),
    )
    if values is None:
        values = {}
        for i, t in enumerate(plan["tranches"], start=1):
            values[f"percent_{i}"] = str(t["percent"])
            values[f"title_{i}"] = t.get("title") or ""
    return site.render(
        "tranches/plan.html", status=status, campaign=campaign, campaign_id=campaign_id, rows=range(1, ROWS + 1),
        values=values, errors=errors or {}, milestones=_shown(site, milestones["items"]),
        proof_errors=proof_errors or {},
    )  # fmt: skip


@router.get("/me/payouts/{campaign_id}/plan", include_in_schema=False)
async def plan_page(site: SignedIn, campaign_id: str) -> Response:
    return await _plan_page(site, campaign_id)


@router.post("/me/payouts/{campaign_id}/plan", include_in_schema=False)
async def save_plan(site: SignedIn, form: Form, campaign_id: str) -> Response:
    _ = site.gettext
    values = {k: str(form.get(k) or "").strip() for k in [f"percent_{i}" for i in range(1, ROWS + 1)]
              + [f"title_{i}" for i in range(1, ROWS + 1)]}  # fmt: skip
    errors: dict[str, str] = {}
    tranches: list[dict[str, Any]] = []
    for i in range(1, ROWS + 1):
        percent, title = values[f"percent_{i}"], values[f"title_{i}"]
        if not percent and not title:
            continue
        if not percent.isdigit() or not 1 <= int(percent) <= 100:
            errors[f"percent_{i}"] = _("Enter a whole percentage from 1 to 100.")
            continue
        if i > 1 and not title:
            errors[f"title_{i}"] = _("Name the milestone that releases this tranche.")
        tranches.append({"percent": int(percent), "title": title or None})
    if not errors and sum(t["percent"] for t in tranches) != 100:
        errors["percent_1"] = _("The tranches must add up to 100 %.")
    if errors:
        return await _plan_page(site, campaign_id, status=422, errors=errors, values=values)
    try:
        await site.api("PUT", f"{PAYMENTS}/campaigns/{_q(campaign_id)}/payout-plan",
                       json={"tranches": tranches}, headers=_key())  # fmt: skip
    except ApiFailure as failure:
        if failure.status not in (404, 409, 422):
            raise
        message = {
            409: _("The plan can no longer change: the first payout was approved."),
            404: _("This project is not yours."),
        }.get(failure.status, _("The tranches must add up to 100 % and each later one needs a milestone."))
        return await _plan_page(
            site, campaign_id, status=failure.status, errors={"percent_1": message}, values=values
        )
    site.flash(_("Payout plan saved."))
    return site.redirect(f"/me/payouts/{_q(campaign_id)}/plan")


@router.post("/me/payouts/{campaign_id}/milestones/{payout_id}/proof", include_in_schema=False)
async def submit_proof(site: SignedIn, form: Form, campaign_id: str, payout_id: str) -> Response:
    _ = site.gettext
    urls = [u.strip() for u in str(form.get("urls") or "").split() if u.strip()]
    if not urls or not all(u.startswith(("https://", "http://")) for u in urls):
        errors = {payout_id: {"urls": _("Give at least one link (https://…) to photos or documents.")}}
        return await _plan_page(site, campaign_id, status=422, proof_errors=errors)
    try:
        await site.api("POST", f"{PAYMENTS}/payouts/{_q(payout_id)}/milestone-proof",
                       json={"urls": urls}, headers=_key())  # fmt: skip
    except ApiFailure as failure:
        if failure.status not in (404, 409, 422):
            raise
        message = {
            409: _("An earlier milestone is not released yet, or this one was already proved."),
        }.get(failure.status, _("Give at least one link (https://…) to photos or documents."))
        return await _plan_page(
            site, campaign_id, status=failure.status, proof_errors={payout_id: {"urls": message}}
        )
    site.flash(_("Proof sent."))
    return site.redirect(f"/me/payouts/{_q(campaign_id)}/plan")


# -- backers and the labelling city ---------------------------------------------------------------


async def _milestones_page(
    site: Site, campaign_id: str, *, status: int = 200, errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    campaign, milestones = await asyncio.gather(
        _campaign(site, campaign_id), site.api("GET", f"{PAYMENTS}/campaigns/{_q(campaign_id)}/milestones")
    )
    return site.render(
        "tranches/milestones.html", status=status, campaign=campaign, campaign_id=campaign_id,
        milestones=_shown(site, milestones["items"]), errors=errors or {}, values=values or {},
    )  # fmt: skip


@router.get("/campaigns/{campaign_id}/milestones", include_in_schema=False)
async def milestones_page(site: SignedIn, campaign_id: str) -> Response:
    return await _milestones_page(site, campaign_id)


@router.post("/campaigns/{campaign_id}/milestones/{payout_id}/objections", include_in_schema=False)
async def object_to(site: SignedIn, form: Form, campaign_id: str, payout_id: str) -> Response:
    _ = site.gettext
    reason = str(form.get("reason") or "").strip()
    if len(reason) < 10:
        errors = {
            payout_id: {"reason": _("Say in a sentence or two what is wrong (10 characters at least).")}
        }
        return await _milestones_page(
            site, campaign_id, status=422, errors=errors, values={payout_id: reason}
        )
    try:
        await site.api("POST", f"{PAYMENTS}/payouts/{_q(payout_id)}/objections",
                       json={"reason": reason}, headers=_key())  # fmt: skip
    except ApiFailure as failure:
        if failure.status not in (403, 404, 409, 422):
            raise
        message = {
            403: _("Only the project's backers may object."),
            409: _("You already objected, or the objection window has ended."),
        }.get(failure.status, _("Say in a sentence or two what is wrong (10 characters at least)."))
        errors = {payout_id: {"reason": message}}
        return await _milestones_page(site, campaign_id, status=failure.status, errors=errors,
                                      values={payout_id: reason})  # fmt: skip
    site.flash(_("Your objection was recorded: the Civicfund team will decide."))
    return site.redirect(f"/campaigns/{_q(campaign_id)}/milestones")


@router.post("/campaigns/{campaign_id}/milestones/{payout_id}/confirm", include_in_schema=False)
async def confirm(site: SignedIn, form: Form, campaign_id: str, payout_id: str) -> Response:
    _ = site.gettext
    try:
        await site.api("POST", f"{PAYMENTS}/payouts/{_q(payout_id)}/confirm", headers=_key())
    except ApiFailure as failure:
        if failure.status not in (403, 404, 409):
            raise
        message = {
            403: _("Only an official of the city that labelled the project confirms its milestones."),
        }.get(failure.status, _("This milestone changed meanwhile: see its state below."))
        return await _milestones_page(
            site, campaign_id, status=failure.status, errors={payout_id: {"confirm": message}}
        )
    site.flash(_("Milestone confirmed: the tranche can now be paid out."))
    return site.redirect(f"/campaigns/{_q(campaign_id)}/milestones")


# -- admins: objected milestones ------------------------------------------------------------------


async def _admin(site: Annotated[Site, Depends(signed_in)]) -> Site:
    if not site.is_admin:
        raise HTTPException(403)
    return site


AdminSite = Annotated[Site, Depends(_admin)]


async def _admin_page(site: Site, *, status: int = 200, error: str | None = None) -> Response:
    objected = await site.api("GET", f"{PAYMENTS}/milestones", params={"status": "objected", "limit": 100})
    items = _shown(site, objected["items"])
    reasons = await asyncio.gather(
        *(site.api("GET", f"{PAYMENTS}/payouts/{_q(m['payout']['id'])}/objections") for m in items)
    )
    for m, r in zip(items, reasons, strict=True):
        m["reasons"] = [o["reason"] for o in r["items"]]
    return site.render("tranches/admin.html", status=status, error=error, milestones=items)


@router.get("/admin/milestones", include_in_schema=False)
async def admin_milestones(site: AdminSite) -> Response:
    return await _admin_page(site)


@router.post("/admin/milestones/{payout_id}/{decision}", include_in_schema=False)
async def admin_decide(site: AdminSite, form: Form, payout_id: str, decision: str) -> Response:
    _ = site.gettext
    if decision not in ("release", "hold"):
        raise HTTPException(404)
    try:
        await site.api("POST", f"{PAYMENTS}/payouts/{_q(payout_id)}/milestone-decision",
                       json={"decision": decision}, headers=_key())  # fmt: skip
    except ApiFailure as failure:
        if failure.status not in (404, 409):
            raise
        return await _admin_page(site, status=failure.status,
                                 error=_("This milestone changed meanwhile: see its state below."))  # fmt: skip
    site.flash(
        _("Milestone released: approve its payout on Payouts.")
        if decision == "release"
        else _("Milestone held.")
    )
    return site.redirect("/admin/milestones")
