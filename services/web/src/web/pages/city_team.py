"""The city's officials, for its officials: who they are and their role; managers invite
someone by email (the emailed link opens the accept page, invitations.py), appoint someone
who has an account, change a role and remove an official. Endorsements holds the rules (only
managers and admins manage officials; the gateway puts the role in the person's next token)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from civicfund_client import EndorsementsAppointByEmailIn, EndorsementsInviteIn

from ..gateway import ApiFailure
from ..site import Form, SignedIn, Site
from .city_console import form_errors, may_manage, official_city, role_names

router = APIRouter()

ROLES = ("reviewer", "manager")


async def _render(
    site: Site, slug: str, *, status: int = 200, form_name: str = "", values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    city, role, officials = await official_city(site, slug)
    officials.sort(key=lambda o: (o.get("role") != "manager", str(o.get("email") or o.get("user_id"))))
    forms = {name: {"email": "", "role": "reviewer"} for name in ("invite", "appoint")}
    if form_name in forms:
        forms[form_name].update(values or {})
    return site.render("city_team/officials.html", status=status, city=city, role=role, officials=officials,
                       forms=forms, form_name=form_name, errors=errors or {}, manage=may_manage(role),
                       me=(site.user or {}).get("id"), roles=role_names(site), role_choices=ROLES)  # fmt: skip


@router.get("/cities/{slug}/officials", include_in_schema=False)
async def officials_page(site: SignedIn, slug: str) -> Response:
    return await _render(site, slug)


def _person(site: Site, form: Any) -> tuple[dict[str, str], dict[str, str]]:
    _ = site.gettext
    values = {"email": str(form.get("email", "")).strip(), "role": str(form.get("role", "")).strip()}
    errors: dict[str, str] = {}
    if "@" not in values["email"] or len(values["email"]) < 3:
        errors["email"] = _("Enter an email address, like name@example.org.")
    if values["role"] not in ROLES:
        errors["role"] = _("Choose a role from the list.")
    return values, errors


async def _send(
    site: Site, slug: str, form_name: str, call: Awaitable[object], values: dict[str, str], done: str
) -> Response:
    try:
        await call
    except ApiFailure as failure:
        if failure.status not in (400, 403, 404, 409, 422):
            raise
        errors = form_errors(failure)
        if failure.code == "account_not_found":
            errors = {"email": site.gettext("No account has this email: send an invitation instead.")}
        return await _render(site, slug, status=422, form_name=form_name, values=values, errors=errors)
    site.flash(done)
    return site.redirect(f"/cities/{slug}/officials")


@router.post("/cities/{slug}/officials/invite", include_in_schema=False)
async def invite(site: SignedIn, form: Form, slug: str) -> Response:
    values, errors = _person(site, form)
    if errors:
        return await _render(site, slug, status=422, form_name="invite", values=values, errors=errors)
    done = site.gettext("The invitation is sent to %(email)s; its link is valid for 14 days.") % values
    body: EndorsementsInviteIn = {"email": values["email"], "role": values["role"]}
    return await _send(
        site, slug, "invite", site.client().endorsements_invite_official(slug, body=body), values, done
    )


@router.post("/cities/{slug}/officials", include_in_schema=False)
async def appoint(site: SignedIn, form: Form, slug: str) -> Response:
    values, errors = _person(site, form)
    if errors:
        return await _render(site, slug, status=422, form_name="appoint", values=values, errors=errors)
    done = site.gettext("%(email)s is appointed.") % values
    body: EndorsementsAppointByEmailIn = {"email": values["email"], "role": values["role"]}
    call = site.client().endorsements_appoint_official_by_email(slug, body=body)
    return await _send(site, slug, "appoint", call, values, done)


@router.post("/cities/{slug}/officials/{user_id}/role", include_in_schema=False)
async def change_role(site: SignedIn, form: Form, slug: str, user_id: str) -> Response:
    role = str(form.get("role", "")).strip()
    if role not in ROLES:
        site.flash(site.gettext("Choose a role from the list."), "error")
        return site.redirect(f"/cities/{slug}/officials")
    call = site.client().endorsements_appoint_official(user_id=user_id, slug=slug, body={"role": role})
    return await _send(site, slug, "role", call, {}, site.gettext("The role is changed."))


@router.post("/cities/{slug}/officials/{user_id}/remove", include_in_schema=False)
async def remove(site: SignedIn, form: Form, slug: str, user_id: str) -> Response:
    call = site.client().endorsements_remove_official(user_id=user_id, slug=slug)
    return await _send(
        site, slug, "remove", call, {}, site.gettext("The official is removed; their access ends now.")
    )
