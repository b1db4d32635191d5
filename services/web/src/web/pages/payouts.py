"""Getting paid: a project holder's payout account (Stripe Connect Express onboarding: the site
asks payments for a link, the holder fills Stripe's hosted form, Stripe sends them back to the
return page, or to the refresh page when the link went stale) and their campaigns' payouts, with
Stripe's fees and the backers' tips shown apart; for admins, the payouts waiting for approval
and the failed ones (approve, retry).

Payments holds every rule (when a campaign has money to release, how much, who may approve);
the return page asks payments to re-fetch the account from Stripe, never taking the browser's
word for it."""

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

PAYOUTS = "/api/v1/payments/payouts"
MY_PAYOUTS = "/api/v1/payments/me/payouts"
CAMPAIGNS = "/api/v1/campaigns/campaigns"


def status_text(gettext: Callable[[str], str], status: str) -> str:
    words = {
        "pending": gettext("Waiting for approval"),
        "approved": gettext("Approved: waiting to be transferred"),
        "transferring": gettext("Being transferred"),
        "paid": gettext("Paid to your account"),
        "failed": gettext("Transfer failed"),
    }
    return words.get(status, status)


def account_text(gettext: Callable[[str], str], status: str) -> str:
    words = {
        "none": gettext("Not set up yet"),
        "onboarding": gettext("Started: Stripe still needs your details"),
        "restricted": gettext("On hold: Stripe needs more information"),
        "ready": gettext("Ready to receive payouts"),
    }
    return words.get(status, status)


def failure_text(gettext: Callable[[str], str], reason: str | None) -> str:
    words = {
        "transfer_reversed": gettext("The transfer was reversed."),
        "insufficient_capabilities_for_transfer": gettext(
            "The holder's account cannot receive transfers yet."
        ),
        "balance_insufficient": gettext("The platform's Stripe balance is too low for now."),
    }
    return words.get(reason or "", reason or "")


def _q(value: str) -> str:
    return quote(value, safe="")


async def _titles(site: Site, campaign_ids: set[str]) -> dict[str, str]:
    async def one(campaign_id: str) -> tuple[str, str]:
        try:
            campaign = await site.api("GET", f"{CAMPAIGNS}/{_q(campaign_id)}")
        except ApiFailure:
            return campaign_id, ""
        return campaign_id, str((campaign or {}).get("title") or "")

    return dict(await asyncio.gather(*(one(c) for c in sorted(campaign_ids))))


def _shown(site: Site, payouts: list[dict[str, Any]], titles: dict[str, str]) -> list[dict[str, Any]]:
    _ = site.gettext
    return [
        {
            **p,
            "title": titles.get(p["campaign_id"]) or _("A project"),
            "status_text": status_text(_, p["status"]),
            "failure_text": failure_text(_, p.get("failure_reason")),
        }
        for p in payouts
    ]


async def _get_paid(site: Site, *, status: int = 200, error: str | None = None) -> Response:
    account, mine = await asyncio.gather(site.api("GET", f"{PAYOUTS}/account"), site.api("GET", MY_PAYOUTS))
    payouts = mine.get("items", [])
    titles = await _titles(site, {p["campaign_id"] for p in payouts})
    return site.render(
        "payouts/get_paid.html", status=status, account=account,
        account_text=account_text(site.gettext, account["status"]),
        payouts=_shown(site, payouts, titles), error=error,
    )  # fmt: skip


@router.get("/me/payouts", include_in_schema=False)
async def get_paid(site: SignedIn) -> Response:
    return await _get_paid(site)


@router.post("/me/payouts/onboarding", include_in_schema=False)
async def start_onboarding(site: SignedIn, form: Form) -> Response:
    """A fresh single-use link to Stripe's hosted onboarding, offered on a page of its own."""
    body: dict[str, Any] = {}
    email = (site.user or {}).get("email")
    if isinstance(email, str) and "@" in email:
        body["email"] = email
    try:
        started = await site.api(
            "POST", f"{PAYOUTS}/account/onboarding", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
    except ApiFailure as failure:
        if failure.status not in (409, 422, 502):
            raise
        return await _get_paid(
            site, status=502, error=site.gettext("Stripe could not be reached. Try again shortly.")
        )
    # A link, not a redirect: the site's Content-Security-Policy (form-action 'self') rightly
    # forbids a form's answer from sending the browser to another origin.
    return site.render("payouts/continue.html", url=started["url"])


@router.get("/payouts/onboarding/return", include_in_schema=False)
async def onboarding_return(site: SignedIn) -> Response:
    """Where Stripe sends the holder back: payments asks Stripe how the account stands."""
    try:
        account = await site.api("POST", f"{PAYOUTS}/account/refresh")
    except ApiFailure as failure:
        if failure.status != 404:
            raise
        return site.redirect("/me/payouts")
    return site.render(
        "payouts/return.html", account=account, account_text=account_text(site.gettext, account["status"])
    )


@router.get("/payouts/onboarding/refresh", include_in_schema=False)
async def onboarding_refresh(site: SignedIn) -> Response:
    """Stripe's link was used or expired: the holder starts again with a fresh one."""
    return site.render("payouts/refresh.html")


# -- admins ---------------------------------------------------------------------------------------


async def _admin(site: Annotated[Site, Depends(signed_in)]) -> Site:
    if not site.is_admin:
        raise HTTPException(403)
    return site


AdminSite = Annotated[Site, Depends(_admin)]


async def _admin_page(site: Site, *, status: int = 200, error: str | None = None) -> Response:
    pending, failed, paying = await asyncio.gather(
        site.api("GET", PAYOUTS, params={"status": "pending", "limit": 100}),
        site.api("GET", PAYOUTS, params={"status": "failed", "limit": 100}),
        site.api("GET", PAYOUTS, params={"status": "approved", "limit": 100}),
    )
    every = [*pending["items"], *failed["items"], *paying["items"]]
    titles = await _titles(site, {p["campaign_id"] for p in every})
    return site.render(
        "admin/payouts.html", status=status, error=error,
        pending=_shown(site, pending["items"], titles), failed=_shown(site, failed["items"], titles),
        waiting=_shown(site, paying["items"], titles),
    )  # fmt: skip


@router.get("/admin/payouts", include_in_schema=False)
async def admin_payouts(site: AdminSite) -> Response:
    return await _admin_page(site)


async def _decide(site: Site, payout_id: str, action: str) -> Response:
    _ = site.gettext
    try:
        await site.api(
            "POST", f"{PAYOUTS}/{_q(payout_id)}/{action}", headers={"Idempotency-Key": uuid.uuid4().hex}
        )
    except ApiFailure as failure:
        if failure.status not in (404, 409, 502):
            raise
        message = {
            404: _("This payout no longer exists."),
            409: _("This payout changed meanwhile: see its state below."),
        }.get(failure.status, _("Stripe could not be reached. Try again shortly."))
        return await _admin_page(site, status=failure.status, error=message)
    site.flash(
        _("Payout approved.") if action == "approve" else _("Payout approved again: a new transfer is asked.")
    )
    return site.redirect("/admin/payouts")


@router.post("/admin/payouts/{payout_id}/approve", include_in_schema=False)
async def approve(site: AdminSite, form: Form, payout_id: str) -> Response:
    return await _decide(site, payout_id, "approve")


@router.post("/admin/payouts/{payout_id}/retry", include_in_schema=False)
async def retry(site: AdminSite, form: Form, payout_id: str) -> Response:
    return await _decide(site, payout_id, "retry")
