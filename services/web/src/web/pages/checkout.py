"""Backing a campaign (the payments README, "Checkout"): the amount form posts to the site, which
creates the pledge (an Idempotency-Key per form, so a double submit pledges once) and sends the
backer to the card step; Stripe.js saves the card there (`static/js/checkout.js`) and submits to
`/pledges/{id}/confirm`, which asks payments to re-fetch and charge, then shows the result. A
failed card is retried with a new SetupIntent (`/pledges/{id}/retry`, also the emailed "retry
your payment" link after a failed off-session charge)."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter
from fastapi.responses import Response

from civicfund_client import CampaignsCampaignDetail, PaymentsPledgeIn, PaymentsPledgeOut

from ..gateway import ApiFailure
from ..i18n import Formats, major_to_minor
from ..site import Form, SignedIn, Site
from .pledges import describe, failure_text

T = TypeVar("T")

router = APIRouter()

CARD_STEP = ("confirm_card_setup", "confirm_card_payment")
BUSY_RETRIES = 6  # 409 request_in_progress: the same key's first request is still running
TOTALS_WAIT_S = 4.0  # how long the confirm waits for the campaign's totals to show the pledge


def new_key() -> str:
    return secrets.token_urlsafe(24)


async def campaign_of(site: Site, campaign_id: str) -> CampaignsCampaignDetail:
    return await site.client().campaigns_get_campaign(campaign_id)  # 404 -> the 404 page


async def pledge_of(site: Site, pledge_id: str) -> PaymentsPledgeOut:
    return await site.client().payments_get_pledge(pledge_id)


async def patiently(call: Callable[[], Awaitable[T]]) -> T:
    """A money call whose key may still be in flight (a double click): wait for the first answer.
    A campaign approved a moment ago may not be live in payments' projection yet: wait for it."""
    for attempt in range(BUSY_RETRIES):
        try:
            return await call()
        except ApiFailure as failure:
            waiting = failure.code == "request_in_progress" or (
                failure.code in ("campaign_not_live", "campaign_not_found") and attempt < 3
            )
            if not waiting or attempt == BUSY_RETRIES - 1:
                raise
            await asyncio.sleep(0.4 * (attempt + 1))
    raise AssertionError("unreachable")


# -- the amount form ---------------------------------------------------------------------------


def blank_values(site: Site) -> dict[str, Any]:
    name = (site.user or {}).get("display_name", "")
    return {
        "amount": "", "tip": "", "public_name": name, "anonymous": False, "key": new_key(),
        "fallback": "refund", "fallback_consent": False,
    }  # fmt: skip


async def city_pool_of(site: Site, campaign: dict[str, Any]) -> dict[str, Any] | None:
    """The city's pool taking residents' gifts, if payments offers one for this campaign."""
    try:
        answer = await site.client().payments_fallback_options(str(campaign.get("id")))
    except ApiFailure:
        return None  # payments is down: the other choices still work
    return answer.get("city_pool")


async def fallback_options(site: Site, campaign: dict[str, Any]) -> list[tuple[str, str]]:
    """What an all-or-nothing backer may choose if the project fails (the payments README, "If a
    campaign fails: the backer's choice"): a refund, a gift to the city's pool taking residents'
    gifts (if it has one), or another live project of the same city in the same currency.
    Keep-it-all projects refund; nothing to choose."""
    if campaign.get("funding_model") != "all_or_nothing":
        return []
    options = [("refund", site.gettext("Nothing is charged (the default)"))]
    pool = await city_pool_of(site, campaign)
    if pool:
        options.append(
            ("city_pool", site.gettext("Give it to the city's pool: %(name)s") % {"name": pool["name"]})
        )
    try:
        page = await site.client().campaigns_list_campaigns(
            status=["live"], municipality=str(campaign.get("municipality") or ""), sort="newest", limit=50
        )
    except ApiFailure:
        return options  # the listing is down: the default still works
    for other in page["items"]:
        if other["id"] != campaign.get("id") and other.get("currency") == campaign.get("currency"):
            options.append(
                (other["id"], site.gettext("My pledge goes to: %(title)s") % {"title": other["title"]})
            )
    return options


async def render_back(site: Site, campaign: dict[str, Any], values: dict[str, Any], errors: dict[str, str],
                      status: int = 200) -> Response:  # fmt: skip
    options = await fallback_options(site, campaign)
    return site.render(
        "checkout/back.html", status=status, campaign=campaign, values=values, errors=errors,
        accepting=campaign.get("status") == "live", fallback_options=options,
        pool_offered=any(value == "city_pool" for value, _label in options),
    )  # fmt: skip


@router.get("/campaigns/{campaign_id}/back", include_in_schema=False)
async def back_page(site: SignedIn, campaign_id: str) -> Response:
    campaign = await campaign_of(site, campaign_id)
    return await render_back(site, campaign, blank_values(site), {})


def parse_amount(site: Site, text: str, currency: str, required: bool) -> tuple[int | None, str | None]:
    if not text.strip():
        return (None, site.gettext("Enter the amount you pledge, for example 25.")) if required else (0, None)
    try:
        minor = major_to_minor(text, currency)
    except (ValueError, ArithmeticError):
        return None, site.gettext("Enter an amount in figures, for example 25 or 25,50.")
    if required and minor <= 0:
        return None, site.gettext("Enter an amount greater than zero.")
    return minor, None


def range_message(site: Site, failure: ApiFailure, currency: str) -> str:
    """payments says "amount must be between 100 and 10000000" (minor units): in the page's words."""
    found = re.findall(r"\d+", failure.message)
    if len(found) >= 2:
        formats = Formats(site.locale)
        return site.gettext("Enter an amount between %(low)s and %(high)s.") % {
            "low": formats.money(int(found[0]), currency),
            "high": formats.money(int(found[1]), currency),
        }
    return site.gettext("This amount cannot be pledged.")


@router.post("/campaigns/{campaign_id}/back", include_in_schema=False)
async def back(site: SignedIn, form: Form, campaign_id: str) -> Response:
    campaign = await campaign_of(site, campaign_id)
    currency = str(campaign.get("currency") or "EUR")
    values = {
        "amount": str(form.get("amount", ""))[:40],
        "tip": str(form.get("tip", ""))[:40],
        "public_name": str(form.get("public_name", "")).strip()[:80],
        "anonymous": form.get("anonymous") == "1",
        "key": str(form.get("key", ""))[:200] or new_key(),
        "fallback": str(form.get("fallback", "refund"))[:100] or "refund",
        "fallback_consent": form.get("fallback_consent") == "1",
    }
    errors: dict[str, str] = {}
    if values["fallback"] != "refund" and not values["fallback_consent"]:
        errors["fallback_consent"] = consent_missing(site, values["fallback"])
    amount, error = parse_amount(site, values["amount"], currency, required=True)
    if error:
        errors["amount"] = error
    tip, error = parse_amount(site, values["tip"], currency, required=False)
    if error:
        errors["tip"] = error
    if campaign.get("status") != "live":
        errors["__all__"] = site.gettext("This project is not taking pledges.")
    if not errors:
        body: PaymentsPledgeIn = {
            "campaign_id": campaign_id, "amount": amount or 0, "currency": currency, "tip": tip or 0,
            "anonymous": values["anonymous"],
        }  # fmt: skip
        if values["public_name"] and not values["anonymous"]:
            body["public_name"] = values["public_name"]
        if values["fallback"] == "city_pool":
            body["fallback"] = {"kind": "city_pool", "municipality": str(campaign.get("municipality") or "")}
            body["fallback_consent"] = True
        elif values["fallback"] != "refund":
            body["fallback"] = {"kind": "campaign", "campaign_id": values["fallback"]}
            body["fallback_consent"] = True
        try:
            pledge = await patiently(
                lambda: site.client().payments_create_pledge(body=body, idempotency_key=values["key"])
            )
        except ApiFailure as failure:
            errors = pledge_errors(site, failure, currency)
        else:
            return site.redirect(f"/pledges/{pledge['id']}/pay")
    # A refused request leaves nothing behind; a fresh key all the same for the corrected form.
    values["key"] = new_key()
    return await render_back(site, campaign, values, errors, status=422)


def consent_missing(site: Site, choice: str) -> str:
    if choice == "city_pool":
        return site.gettext("Tick this box to give your pledge to the city's pool.")
    return site.gettext("Tick this box to send your pledge to the other project.")


def pledge_errors(site: Site, failure: ApiFailure, currency: str) -> dict[str, str]:
    if failure.code == "amount_out_of_range":
        return {"amount": range_message(site, failure, currency)}
    if failure.code == "tip_out_of_range":
        return {"tip": range_message(site, failure, currency)}
    if failure.code in ("campaign_not_live", "campaign_not_found"):
        return {"__all__": site.gettext("This project is not taking pledges.")}
    if failure.code == "fallback_consent_required":
        return {"fallback_consent": site.gettext("Tick this box to send your pledge to the other project.")}
    if failure.code == "fallback_unavailable":
        return {"fallback": site.gettext("The city's pool no longer takes gifts. Choose again.")}
    if failure.code.startswith("fallback_"):
        # The other project ended, moved or was never offered here: choose again.
        return {"fallback": site.gettext("This project cannot receive your pledge. Choose again.")}
    if failure.status == 422:
        errors = failure.field_errors()
        if "__all__" in errors:
            errors["__all__"] = site.gettext("Check the amounts and try again.")
        return errors
    if failure.status == 403:
        return {"__all__": site.gettext("This account cannot back projects.")}
    if failure.status in (409, 502, 503, 504):
        return {
            "__all__": site.gettext("The payment service did not answer. Nothing was charged: try again.")
        }
    raise failure


# -- the card step -----------------------------------------------------------------------------


@router.get("/pledges/{pledge_id}/pay", include_in_schema=False)
async def pay_page(site: SignedIn, pledge_id: str) -> Response:
    pledge = await pledge_of(site, pledge_id)
    if pledge.get("next_action") not in CARD_STEP or not pledge.get("client_secret"):
        return site.redirect(f"/pledges/{pledge_id}")
    campaign = await campaign_of(site, pledge["campaign_id"])
    return site.render("checkout/pay.html", pledge=describe(site, pledge), campaign=campaign)


async def funded(site: Site, campaign_id: str) -> int | None:
    try:
        campaign = await campaign_of(site, campaign_id)
    except ApiFailure:
        return None
    return int((campaign.get("totals") or {}).get("funded", 0))


@router.post("/pledges/{pledge_id}/confirm", include_in_schema=False)
async def confirm(site: SignedIn, form: Form, pledge_id: str) -> Response:
    """Stripe.js saved the card (or finished 3-D Secure): payments re-fetches and goes on."""
    before_pledge = await pledge_of(site, pledge_id)
    before = await funded(site, before_pledge["campaign_id"])
    pledge = await patiently(lambda: site.client().payments_confirm_pledge(pledge_id))
    action = pledge.get("next_action")
    if action == "confirm_card_setup":
        site.flash(site.gettext("Your card is not saved yet. Enter it again."), "error")
        return site.redirect(f"/pledges/{pledge_id}/pay")
    if action == "confirm_card_payment":
        return site.redirect(f"/pledges/{pledge_id}/pay")
    counted = pledge.get("status") in ("succeeded", "authorized") and before_pledge.get(
        "status"
    ) != pledge.get("status")
    if counted and before is not None:
        # The campaign's totals follow the payment by an event: wait a moment, so the result
        # page shows the new total (the page is right either way, only later).
        deadline = time.monotonic() + TOTALS_WAIT_S
        while time.monotonic() < deadline:
            now = await funded(site, pledge["campaign_id"])
            if now is None or now >= before + int(pledge.get("amount", 0)):
                break
            await asyncio.sleep(0.25)
    return site.redirect(f"/pledges/{pledge_id}")


@router.get("/pledges/{pledge_id}", include_in_schema=False)
async def result(site: SignedIn, pledge_id: str) -> Response:
    pledge = await pledge_of(site, pledge_id)
    if pledge.get("next_action") in CARD_STEP and pledge.get("client_secret"):
        return site.redirect(f"/pledges/{pledge_id}/pay")
    campaign = await campaign_of(site, pledge["campaign_id"])
    return site.render(
        "checkout/result.html", pledge=describe(site, pledge), campaign=campaign,
        failure=failure_text(site.gettext, pledge.get("failure_reason")), retry_key=new_key(),
    )  # fmt: skip


# -- trying another card -----------------------------------------------------------------------


@router.get("/pledges/{pledge_id}/retry", include_in_schema=False)
async def retry_page(site: SignedIn, pledge_id: str) -> Response:
    """The emailed "retry your payment" link: what happened, the amount, until when; a new card."""
    pledge = await pledge_of(site, pledge_id)
    if pledge.get("next_action") in CARD_STEP and pledge.get("client_secret"):
        return site.redirect(f"/pledges/{pledge_id}/pay")
    if pledge.get("next_action") != "retry":
        return site.redirect(f"/pledges/{pledge_id}")
    campaign = await campaign_of(site, pledge["campaign_id"])
    return site.render(
        "checkout/retry.html", pledge=describe(site, pledge), campaign=campaign,
        failure=failure_text(site.gettext, pledge.get("failure_reason")), retry_key=new_key(),
    )  # fmt: skip


@router.post("/pledges/{pledge_id}/retry", include_in_schema=False)
async def retry(site: SignedIn, form: Form, pledge_id: str) -> Response:
    key = str(form.get("key", ""))[:200] or new_key()
    try:
        await patiently(lambda: site.client().payments_retry_pledge(pledge_id, idempotency_key=key))
    except ApiFailure as failure:
        if failure.code != "not_retryable":
            raise
        site.flash(site.gettext("This pledge can no longer be paid with another card."), "error")
        return site.redirect(f"/pledges/{pledge_id}")
    return site.redirect(f"/pledges/{pledge_id}/pay")
