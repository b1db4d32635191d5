"""Accepting an official's invitation: the emailed link (`/invitations/accept?token=...`) opens
a page with one button, for the signed-in person (anyone else logs in and comes back). The
token is opaque and endorsements has no read of an invitation before it is accepted, so the
page names the city and the role only once accepted.

The gateway learns the new role from `official.appointed`, asynchronously: after accepting,
the page renews the session's tokens until they carry the role (a short bounded wait), so the
header's city console link and every service that reads the token's claims see it at once; if
the role is still not there, the person is told to reload in a moment."""

from __future__ import annotations

import asyncio
import contextlib
import time

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ..gateway import ApiFailure
from ..site import Form, LoginRequired, SignedIn, Site

router = APIRouter()

ROLE_WAIT_S = 6.0
ROLE_POLL_S = 0.4


def _role_name(site: Site, role: str) -> str:
    _ = site.gettext
    return {"reviewer": _("reviewer"), "manager": _("manager")}.get(role, role)


async def _wait_for_role(site: Site, slug: str, role: str) -> bool:
    """Renew the tokens until `/auth/me` says the person holds `role` in `slug`."""
    deadline = time.monotonic() + ROLE_WAIT_S
    while True:
        try:
            await site.renew_tokens()  # a new access token carries the current roles
        except (ApiFailure, LoginRequired):
            return False
        held = ((site.user or {}).get("municipalities") or {}).get(slug)
        if held == role:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(ROLE_POLL_S)


@router.get("/invitations/accept", include_in_schema=False)
async def accept_page(site: SignedIn, token: str = Query("", max_length=400)) -> Response:
    return site.render("invitations/accept.html", token=token.strip(), error=None)


@router.post("/invitations/accept", include_in_schema=False)
async def accept(site: SignedIn, form: Form) -> Response:
    _ = site.gettext
    token = str(form.get("token", "")).strip()
    error = None
    if len(token) < 20:
        error = _("This invitation link is incomplete. Open the link from the email again.")
    else:
        try:
            official = await site.client().endorsements_accept_invitation(body={"token": token})
        except ApiFailure as failure:
            if failure.code == "wrong_invitee":
                error = _(
                    "This invitation was sent to another email address. Log out, then log in with "
                    "the address the invitation was sent to."
                )
            elif failure.status == 410:
                error = _("This invitation has expired or was already used. Ask the city for a new one.")
            elif failure.status in (404, 422):
                error = _("This invitation link is not valid. Open the link from the email again.")
            else:
                raise
        else:
            slug, role = official["municipality"], official["role"]
            city = slug
            with contextlib.suppress(ApiFailure):
                city = (await site.client(auth=False).endorsements_get_municipality(slug))["name"]
            message = _("You are now %(role)s of %(city)s.") % {"role": _role_name(site, role), "city": city}
            if not await _wait_for_role(site, slug, role):
                message += " " + _(
                    "Your new role reaches every page within a minute: reload then if it is missing."
                )
            site.flash(message)
            return site.redirect("/city")
    return site.render("invitations/accept.html", status=422, token=token, error=error)
