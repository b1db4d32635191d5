"""The city's subscription, for its officials: the state (active, trial, lapsed, none) and what
it allows; managers subscribe with a card (Stripe.js), read the invoices, change the plan and
cancel at the end of the period. Payments holds every rule (who may subscribe, what a lapsed
subscription stops); the page shows what it answers."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import Response

from ..gateway import ApiFailure
from ..i18n import parse_instant
from ..site import SignedIn
from .city_console import official_city, role_names

router = APIRouter()

SUBSCRIPTIONS = "/api/v1/payments/subscriptions"


@router.get("/cities/{slug}/subscription", include_in_schema=False)
async def subscription_page(site: SignedIn, slug: str) -> Response:
    city, role, _officials = await official_city(site, slug)
    refused = False
    try:
        listing = await site.api("GET", SUBSCRIPTIONS, params={"municipality": slug})
    except ApiFailure as failure:
        if failure.status != 403:
            raise
        listing, refused = None, True  # the session's token does not carry the role yet
    subscriptions = (listing or {}).get("items", [])
    active_sub = next((s for s in subscriptions if s.get("active")), None)
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
    return site.render("city_billing/subscription.html", city=city, role=role, state=state, on_trial=on_trial,
                       subscriptions=subscriptions, refused=refused, roles=role_names(site))  # fmt: skip
