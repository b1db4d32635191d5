"""Match money the cities owe (payments' city dues): on the campaign page, each city's match as
promised / due / received; on the city console's dashboard, what the city owes, with the form a
manager uses to declare a bank transfer sent; for admins, the declared transfers to confirm as
received. Payments holds every rule (who may declare or confirm, in which state)."""

from __future__ import annotations

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

DUES = "/api/v1/payments/city-dues"
OWED = ("due", "transfer_declared", "received")


def due_status_names(gettext: Callable[[str], str]) -> dict[str, str]:
    return {
        "promised": gettext("Promised"),
        "due": gettext("Due"),
        "transfer_declared": gettext("Transfer declared, waiting for confirmation"),
        "received": gettext("Received"),
        "canceled": gettext("Withdrawn"),
    }


def method_names(gettext: Callable[[str], str]) -> dict[str, str]:
    return {"invoice": gettext("Invoice on the city's card"), "bank_transfer": gettext("Bank transfer"),
            "residents_gifts": gettext("Settled from residents' gifts")}  # fmt: skip


def _q(value: str) -> str:
    return quote(value, safe="")


async def campaign_matches(site: Site, campaign_id: str) -> list[dict[str, Any]]:
    """Each city's match money for a campaign (public; [] when payments does not answer)."""
    try:
        page = await site.api("GET", f"/api/v1/payments/campaigns/{_q(campaign_id)}/city-matches", auth=False)
    except ApiFailure:
        return []
    return list((page or {}).get("items") or [])


async def city_owes(site: Site, slug: str) -> list[dict[str, Any]] | None:
    """What the city owes or paid (its officials; None when payments refuses or is down)."""
    try:
        page = await site.api("GET", DUES, params={"municipality": slug})
    except ApiFailure:
        return None
    return [d for d in (page or {}).get("items") or [] if d["status"] in OWED]


def dues_context(site: Site) -> dict[str, Any]:
    return {"due_statuses": due_status_names(site.gettext), "due_methods": method_names(site.gettext)}


# -- a city manager declares a transfer -----------------------------------------------------------


async def _render_declare(
    site: Site, slug: str, due: dict[str, Any], *, status: int = 200, reference: str = "",
    errors: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    return site.render(
        "city_dues/declare.html", status=status, slug=slug, due=due, reference=reference, errors=errors or {},
        idempotency_key=uuid.uuid4().hex, **dues_context(site),
    )  # fmt: skip


async def _due_of(site: Site, slug: str, due_id: str) -> dict[str, Any]:
    owed = await city_owes(site, slug)
    if owed is None:
        raise HTTPException(403)
    for due in owed:
        if due["id"] == due_id:
            return due
    raise HTTPException(404)


@router.get("/cities/{slug}/dues/{due_id}/transfer", include_in_schema=False)
async def declare_form(site: SignedIn, slug: str, due_id: str) -> Response:
    return await _render_declare(site, slug, await _due_of(site, slug, due_id))


@router.post("/cities/{slug}/dues/{due_id}/transfer", include_in_schema=False)
async def declare(site: SignedIn, form: Form, slug: str, due_id: str) -> Response:
    _ = site.gettext
    due = await _due_of(site, slug, due_id)
    reference = str(form.get("reference") or "").strip()
    key = str(form.get("idempotency_key") or "") or uuid.uuid4().hex
    try:
        await site.api(
            "POST", f"{DUES}/{_q(due_id)}/transfer-declaration", json={"reference": reference},
            headers={"Idempotency-Key": key},
        )  # fmt: skip
    except ApiFailure as failure:
        if failure.status == 422:
            error = _("Give the reference on your bank statement: 3 to 80 letters, digits, spaces or . / _ -")
            return await _render_declare(site, slug, due, status=422, reference=reference,
                                         errors={"reference": error})  # fmt: skip
        if failure.status in (403, 409):
            error = (
                _("Only a manager of the city declares its transfers.")
                if failure.status == 403
                else _("This match is not waiting for a transfer any more: see its state on the dashboard.")
            )
            return await _render_declare(site, slug, due, status=failure.status, reference=reference,
                                         errors={"__all__": error})  # fmt: skip
        raise
    site.flash(_("Transfer declared: an administrator will confirm it once the money is received."))
    return site.redirect(f"/cities/{_q(slug)}/console#dues")


# -- admins confirm transfers received ------------------------------------------------------------


async def _admin(site: Annotated[Site, Depends(signed_in)]) -> Site:
    if not site.is_admin:
        raise HTTPException(403)
    return site


AdminSite = Annotated[Site, Depends(_admin)]


async def _admin_page(site: Site, *, status: int = 200, error: str | None = None) -> Response:
    page = await site.api("GET", DUES, params={"status": "transfer_declared", "limit": 200})
    return site.render(
        "city_dues/admin.html", status=status, error=error, dues=page.get("items", []), **dues_context(site)
    )


@router.get("/admin/city-transfers", include_in_schema=False)
async def admin_transfers(site: AdminSite) -> Response:
    return await _admin_page(site)


@router.post("/admin/city-transfers/{due_id}/confirm", include_in_schema=False)
async def confirm(site: AdminSite, form: Form, due_id: str) -> Response:
    _ = site.gettext
    key = str(form.get("idempotency_key") or "") or uuid.uuid4().hex
    try:
        await site.api("POST", f"{DUES}/{_q(due_id)}/transfer-confirmation", headers={"Idempotency-Key": key})
    except ApiFailure as failure:
        if failure.status not in (404, 409):
            raise
        message = {404: _("This transfer no longer exists.")}.get(
            failure.status, _("This transfer changed meanwhile: see the list below.")
        )
        return await _admin_page(site, status=failure.status, error=message)
    site.flash(_("Transfer confirmed as received."))
    return site.redirect("/admin/city-transfers")
