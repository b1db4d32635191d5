"""The city's subscription, for its officials: the state (active, trial, lapsed, none) and what
it allows, the invoices; managers subscribe with a card, change the plan and cancel at the end
of the period (or undo it). Payments holds every rule (who may subscribe, what a lapsed
subscription stops); the page shows what it answers.

The card goes straight to Stripe: payments opens a SetupIntent, Stripe.js saves the card with
confirmCardSetup (3-D Secure included) and the form then subscribes with it; when the first
payment also asks the bank, the answer's client secret lets Stripe.js finish it
(confirmCardPayment), and the site asks payments to re-fetch the subscription from Stripe
(static/js/checkout.js does both steps, as for a pledge)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ..gateway import ApiFailure
from ..i18n import parse_instant
from ..site import Form, SignedIn, Site
from .city_console import form_errors, may_manage, official_city, optional, role_names

router = APIRouter()

PLANS = ("monthly", "yearly")


def _plan_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {"monthly": _("Monthly"), "yearly": _("Yearly")}


async def _render(
    site: Site, slug: str, *, status: int = 200, values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    city, role, _officials = await official_city(site, slug)
    refused = False
    try:
        listing = await site.client().payments_list_subscriptions(municipality=slug)
    except ApiFailure as failure:
        if failure.status != 403:
            raise
        listing, refused = None, True  # the session's token does not carry the role yet
    subscriptions = (listing or {}).get("items", [])
    active_sub = next((s for s in subscriptions if s.get("active")), None)
    waiting = next(
        (s for s in subscriptions if s.get("status") == "incomplete" and s.get("client_secret")), None
    )
    trial_until = parse_instant(city.get("trial_until"))
    on_trial = bool(trial_until and trial_until > datetime.now(UTC))
    if active_sub:
        state = "active"
    elif on_trial:
        state = "trial"
    elif city.get("subscription_active"):
        state = "active"
    else:
        state = "lapsed" if subscriptions else "none"
    invoiced = await asyncio.gather(
        *(optional(site, site.client().payments_list_invoices(s["id"], municipality=slug))
          for s in subscriptions[:3])
    )  # fmt: skip
    invoices = sorted((i for got in invoiced for i in (got or {}).get("items", [])),
                      key=lambda i: str(i.get("created") or ""), reverse=True)  # fmt: skip
    form = {"plan": "yearly", "billing_email": "", **(values or {})}
    return site.render("city_billing/subscription.html", status=status, city=city, role=role, state=state,
                       on_trial=on_trial, subscriptions=subscriptions, active_sub=active_sub, waiting=waiting,
                       invoices=invoices, refused=refused, manage=may_manage(role), form=form,
                       errors=errors or {}, plans=_plan_names(site), plan_choices=PLANS,
                       roles=role_names(site))  # fmt: skip


@router.get("/cities/{slug}/subscription", include_in_schema=False)
async def subscription_page(site: SignedIn, slug: str) -> Response:
    return await _render(site, slug)


def _card_page(site: Site, city: dict[str, Any], role: str, **step: Any) -> Response:
    return site.render("city_billing/card.html", city=city, role=role, plans=_plan_names(site),
                       roles=role_names(site), **step)  # fmt: skip


@router.post("/cities/{slug}/subscription/card", include_in_schema=False)
async def card_step(site: SignedIn, form: Form, slug: str) -> Response:
    """The plan is chosen: payments opens the SetupIntent the card page confirms."""
    _ = site.gettext
    city, role, _officials = await official_city(site, slug)
    values = {"plan": str(form.get("plan", "")), "billing_email": str(form.get("billing_email", "")).strip()}
    errors: dict[str, str] = {}
    if values["plan"] not in PLANS:
        errors["plan"] = _("Choose a plan.")
    if values["billing_email"] and "@" not in values["billing_email"]:
        errors["billing_email"] = _("Enter an email address, like name@example.org.")
    if not errors:
        body: dict[str, Any] = {"municipality": slug}
        if values["billing_email"]:
            body["billing_email"] = values["billing_email"]
        try:
            setup = await site.client().payments_card_setup(body=body, idempotency_key=uuid.uuid4().hex)
        except ApiFailure as failure:
            if failure.status not in (400, 403, 404, 409, 422):
                raise
            errors = form_errors(failure)
        else:
            return _card_page(site, city, role, intent_kind="setup_intent", client_secret=setup["client_secret"],
                              action=f"/cities/{slug}/subscription", setup_intent=setup["setup_intent"],
                              plan=values["plan"], billing_email=values["billing_email"])  # fmt: skip
    return await _render(site, slug, status=422, values=values, errors=errors)


@router.post("/cities/{slug}/subscription", include_in_schema=False)
async def subscribe(site: SignedIn, form: Form, slug: str) -> Response:
    """Stripe.js saved the card: subscribe with it (one key per card setup, so a resubmitted
    form does not subscribe twice); a first payment that asks the bank gets its own step."""
    _ = site.gettext
    city, role, _officials = await official_city(site, slug)
    setup_intent = str(form.get("setup_intent", ""))
    body: dict[str, Any] = {
        "municipality": slug,
        "plan": str(form.get("plan", "")),
        "setup_intent": setup_intent,
    }
    if form.get("billing_email"):
        body["billing_email"] = str(form.get("billing_email"))
    try:
        sub = await site.client().payments_subscribe_city(body=body, idempotency_key=f"sub-{setup_intent}")
    except ApiFailure as failure:
        if failure.status not in (400, 402, 403, 404, 409, 422):
            raise
        message = failure.message
        if failure.code == "card_not_saved":
            message = _("Your card was not saved. Try again, or with another card.")
        elif failure.code == "card_declined":
            message = _("Your card was declined. Try another card.")
        return await _render(site, slug, status=422, errors={"__all__": message})
    if sub.get("client_secret"):
        return _card_page(site, city, role, intent_kind="payment_intent", client_secret=sub["client_secret"],
                          action=f"/cities/{slug}/subscription/{sub['id']}/refresh", plan=sub["plan"])  # fmt: skip
    site.flash(_("%(city)s is subscribed.") % {"city": city["name"]})
    return site.redirect(f"/cities/{slug}/subscription")


@router.get("/cities/{slug}/subscription/{subscription_id}/confirm", include_in_schema=False)
async def confirm_page(site: SignedIn, slug: str, subscription_id: str) -> Response:
    """Back to a first payment that still waits for the bank (the secret is kept by payments)."""
    city, role, _officials = await official_city(site, slug)
    listing = await site.client().payments_list_subscriptions(municipality=slug)
    sub = next((s for s in listing["items"] if s["id"] == subscription_id), None)
    if sub is None or not sub.get("client_secret"):
        return site.redirect(f"/cities/{slug}/subscription")
    return _card_page(site, city, role, intent_kind="payment_intent", client_secret=sub["client_secret"],
                      action=f"/cities/{slug}/subscription/{subscription_id}/refresh", plan=sub["plan"])  # fmt: skip


@router.post("/cities/{slug}/subscription/{subscription_id}/refresh", include_in_schema=False)
async def refresh(site: SignedIn, form: Form, slug: str, subscription_id: str) -> Response:
    """Whatever the bank answered in the browser, payments re-fetches the subscription."""
    _ = site.gettext
    await official_city(site, slug)
    sub = await site.client().payments_refresh_subscription(subscription_id, municipality=slug)
    if sub.get("active"):
        site.flash(_("Payment confirmed: the subscription is active."))
    else:
        site.flash(
            _("The payment is not confirmed yet: finish it with your bank, or use another card."), "error"
        )
    return site.redirect(f"/cities/{slug}/subscription")


async def _change(site: Site, slug: str, call: Callable[[], Awaitable[object]], done: str) -> Response:
    await official_city(site, slug)
    try:
        await call()
    except ApiFailure as failure:
        if failure.status not in (400, 402, 403, 404, 409, 422):
            raise
        return await _render(site, slug, status=422, errors={"__all__": failure.message})
    site.flash(done)
    return site.redirect(f"/cities/{slug}/subscription")


@router.post("/cities/{slug}/subscription/{subscription_id}/plan", include_in_schema=False)
async def change_plan(site: SignedIn, form: Form, slug: str, subscription_id: str) -> Response:
    plan = str(form.get("plan", ""))
    if plan not in PLANS:
        return await _render(site, slug, status=422, errors={"__all__": site.gettext("Choose a plan.")})
    done = site.gettext("The plan is now %(plan)s.") % {"plan": _plan_names(site)[plan].lower()}
    return await _change(site, slug, lambda: site.client().payments_change_plan(
        subscription_id, municipality=slug, idempotency_key=uuid.uuid4().hex, body={"plan": plan}), done)  # fmt: skip


@router.post("/cities/{slug}/subscription/{subscription_id}/cancellation", include_in_schema=False)
async def cancellation(site: SignedIn, form: Form, slug: str, subscription_id: str) -> Response:
    cancel = form.get("cancel") == "1"
    _ = site.gettext
    done = (_("The subscription ends with the paid period; labelling works until then.") if cancel
            else _("The cancellation is undone: the subscription renews."))  # fmt: skip
    return await _change(site, slug, lambda: site.client().payments_cancel_at_period_end(
        subscription_id, municipality=slug, body={"cancel_at_period_end": cancel}), done)  # fmt: skip
