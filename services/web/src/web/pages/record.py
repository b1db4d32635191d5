"""What a project receives (campaigns' record): on the campaign page, money, the match, a
call's award and votes, in-kind help from citizens and from the city with value and status,
permits with theirs; on the record's own page, the owner declares a permit and confirms a city's
support item accepted or delivered, and an official of the labelling city marks a permit
granted or refused. Campaigns holds every rule (who may do what, in which state)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from ..gateway import ApiFailure
from ..site import Form, SignedIn, Site, SiteDep
from .discover import city_name, municipalities

router = APIRouter()

C = "/api/v1/campaigns/campaigns"


def _q(value: str) -> str:
    return quote(value, safe="")


def record_names(gettext: Callable[[str], str]) -> dict[str, dict[str, str]]:
    _ = gettext
    return {
        "support_types": {
            "land": _("Land"), "venue": _("Venue"), "equipment": _("Equipment"), "permit": _("Permit"),
            "other": _("Other support"),
        },
        "support_statuses": {"offered": _("Offered"), "accepted": _("Accepted"), "delivered": _("Delivered")},
        "permit_statuses": {"required": _("Required"), "granted": _("Granted"), "refused": _("Refused")},
    }  # fmt: skip


async def project_record(site: Site, campaign_id: str) -> dict[str, Any] | None:
    """The campaign's record (None when campaigns does not answer: the page shows the rest)."""
    try:
        return dict(await site.api("GET", f"{C}/{_q(campaign_id)}/record"))
    except ApiFailure:
        return None


def record_context(site: Site, record: dict[str, Any] | None) -> dict[str, Any]:
    return {"record": record, **record_names(site.gettext)}


def _official_cities(site: Site) -> set[str]:
    return set(((site.user or {}).get("municipalities") or {}).keys())


async def _render(
    site: Site, campaign_id: str, *, status: int = 200, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    try:
        campaign = await site.api("GET", f"{C}/{_q(campaign_id)}")
    except ApiFailure as failure:
        if failure.status == 404:
            raise HTTPException(404) from failure
        raise
    record = await project_record(site, campaign_id)
    cities = await municipalities(site)
    user_id = (site.user or {}).get("id")
    deciders = set(campaign.get("labelled_by") or []) or {campaign["municipality"]}
    return site.render(
        "record/page.html", status=status, c=campaign, is_owner=bool(user_id and campaign["owner_id"] == user_id),
        is_city=bool(_official_cities(site) & deciders), errors=errors or {}, values=values or {},
        city_name=lambda slug: city_name(cities, slug),
        **record_context(site, record),
    )  # fmt: skip


@router.get("/campaigns/{campaign_id}/record", include_in_schema=False)
async def record_page(site: SiteDep, campaign_id: str) -> Response:
    return await _render(site, campaign_id)


@router.post("/campaigns/{campaign_id}/record/permits", include_in_schema=False)
async def declare_permit(site: SignedIn, form: Form, campaign_id: str) -> Response:
    _ = site.gettext
    values = {k: str(form.get(k) or "").strip() for k in ("name", "authority")}
    errors = {k: _("Give 2 to 140 characters.") for k, v in values.items() if not 2 <= len(v) <= 140}
    if errors:
        return await _render(site, campaign_id, status=422, errors=errors, values=values)
    try:
        await site.api("POST", f"{C}/{_q(campaign_id)}/permits", json=values)
    except ApiFailure as failure:
        if failure.status in (403, 409, 422):
            message = (
                _("Only the project's owner or an official of the labelling city declares a permit.")
                if failure.status == 403
                else _("This project takes no more permits.") if failure.status == 409
                else _("Give 2 to 140 characters.")
            )  # fmt: skip
            return await _render(site, campaign_id, status=failure.status, errors={"__all__": message},
                                 values=values)  # fmt: skip
        raise
    site.flash(_("Permit declared: the payout waits until the city grants it."))
    return site.redirect(f"/campaigns/{_q(campaign_id)}/record#permits")


@router.post("/campaigns/{campaign_id}/record/permits/{permit_id}", include_in_schema=False)
async def decide_permit(site: SignedIn, form: Form, campaign_id: str, permit_id: str) -> Response:
    _ = site.gettext
    decision = str(form.get("decision") or "")
    if decision not in ("granted", "refused"):
        return await _render(
            site, campaign_id, status=422, errors={f"permit-{permit_id}": _("Choose granted or refused.")}
        )
    try:
        await site.api(
            "POST", f"{C}/{_q(campaign_id)}/permits/{_q(permit_id)}/decision", json={"decision": decision}
        )
    except ApiFailure as failure:
        if failure.status in (403, 404):
            message = _("Only an official of the labelling city decides on a permit.")
            return await _render(
                site, campaign_id, status=failure.status, errors={f"permit-{permit_id}": message}
            )
        raise
    site.flash(_("Permit granted.") if decision == "granted" else _("Permit refused."))
    return site.redirect(f"/campaigns/{_q(campaign_id)}/record#permits")


@router.post("/campaigns/{campaign_id}/record/support/{label_id}/{index}", include_in_schema=False)
async def confirm_support(
    site: SignedIn, form: Form, campaign_id: str, label_id: str, index: int
) -> Response:
    _ = site.gettext
    status = str(form.get("status") or "")
    key = f"support-{label_id}-{index}"
    if status not in ("accepted", "delivered"):
        return await _render(site, campaign_id, status=422, errors={key: _("Choose accepted or delivered.")})
    try:
        await site.api(
            "POST", f"{C}/{_q(campaign_id)}/city-support/{_q(label_id)}/{index}", json={"status": status}
        )
    except ApiFailure as failure:
        if failure.status in (403, 404, 409):
            message = (
                _("This support is already further along.") if failure.status == 409
                else _("Only the project's owner confirms the city's support.")
            )  # fmt: skip
            return await _render(site, campaign_id, status=failure.status, errors={key: message})
        raise
    site.flash(_("Support confirmed."))
    return site.redirect(f"/campaigns/{_q(campaign_id)}/record#city-support")
