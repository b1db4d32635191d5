"""Backers pledge to Montreuil's live campaigns, and Montreuil's manager subscribes the city.

Everything goes through the gateway's public API; the one step the browser does with Stripe.js
(`confirmCardSetup`: save the card on the pledge's SetupIntent) is done against the local
stack's localstripe (`STRIPE_API_BASE`, default http://127.0.0.1:8420) exactly as localstripe's
Stripe.js does it (publishable key + client secret + card data). Payments then charges the card
itself (keep-it-all) or keeps it for later (all-or-nothing). Re-running is safe: idempotency
keys are derived from who pledges to what.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from civicfund_client import ApiError, CampaignsCampaignOut, PaymentsPledgeOut

from .context import Demo, Person

STRIPE = os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:8420").rstrip("/")
CARD = {
    "card[number]": "4242424242424242",
    "card[exp_month]": "12",
    "card[exp_year]": "2031",
    "card[cvc]": "123",
}
# Who backs what: (backer, amount in cents, tip in cents).
BACKERS = [("sofia", 2_500, 200), ("lucas", 5_000, 0), ("montreuil_reviewer", 1_500, 100)]


async def _stripe(method: str, path: str, data: dict[str, str], secret: bool = True) -> dict[str, Any]:
    auth = ("sk_test_civicfund_local", "") if secret else None
    async with httpx.AsyncClient(base_url=STRIPE, timeout=10, auth=auth) as http:
        response = await http.request(method, path, data=data)
        response.raise_for_status()
        return response.json()


async def _card_payment_method() -> str:
    return (await _stripe("POST", "/v1/payment_methods", {"type": "card", **CARD}))["id"]


async def _save_card_in_browser(pledge: PaymentsPledgeOut) -> None:
    secret = str(pledge.get("client_secret"))
    seti = secret.split("_secret_")[0]
    data = {"key": "pk_test_civicfund", "client_secret": secret, "payment_method_data[type]": "card"}
    data.update({f"payment_method_data[{k.replace('[', '][', 1)}": v for k, v in CARD.items()})
    await _stripe("POST", f"/v1/setup_intents/{seti}/confirm", data, secret=False)


async def _pledge(demo: Demo, backer: Person, campaign: CampaignsCampaignOut, amount: int, tip: int) -> str:
    api = demo.api(backer)
    created = await api.payments_create_pledge(
        body={
            "campaign_id": campaign["id"],
            "amount": amount,
            "currency": campaign["currency"],
            "tip": tip,
            "public_name": backer.display_name.split(" ")[0],
        },
        idempotency_key=f"seed-{backer.key}-{campaign['id']}",
    )
    if created.get("next_action") == "retry":  # a card that failed on an earlier run
        created = await api.payments_retry_pledge(
            created["id"], idempotency_key=f"seed-retry-{backer.key}-{campaign['id']}"
        )
    if created.get("next_action") == "confirm_card_setup":
        await _save_card_in_browser(created)
        created = await api.payments_confirm_pledge(created["id"])
    return created["status"]


async def _subscribe_city(demo: Demo) -> None:
    manager = demo.people.get("montreuil_manager")
    if manager is None:
        return
    api = demo.api(manager)
    try:
        current = (await api.payments_list_subscriptions(municipality="montreuil"))["items"]
    except ApiError:
        current = []  # payments has not heard of the city yet: subscribing below says so
    active = [s for s in current if s["active"]]
    if active:
        demo.ids["subscription.montreuil"] = active[0]["id"]
        return
    try:
        created = await api.payments_subscribe_city(
            body={
                "municipality": "montreuil",
                "plan": "yearly",
                "payment_method": await _card_payment_method(),
                "billing_email": manager.email,
            },
            idempotency_key="seed-montreuil-subscription",
        )
    except ApiError as refused:
        demo.notes.append(
            f"Montreuil not subscribed yet ({refused.status} {refused.code}): is it registered?"
        )
        return
    demo.ids["subscription.montreuil"] = created["id"]


async def run(demo: Demo) -> None:
    live = await demo.api().campaigns_list_campaigns(municipality="montreuil")
    campaigns = [c for c in live["items"] if c["status"] == "live"]
    if not campaigns:
        print("    (no live campaign in Montreuil yet: no pledges seeded)", flush=True)
        demo.notes.append("pledges: skipped, no live campaign in Montreuil")
    for campaign in campaigns:
        for key, amount, tip in BACKERS:
            backer = demo.people.get(key)
            if backer is None or backer.user_id == campaign["owner_id"]:
                continue
            status = await _pledge(demo, backer, campaign, amount, tip)
            demo.ids[f"pledge.{key}.{campaign['id'][:12]}"] = status
    await _subscribe_city(demo)
