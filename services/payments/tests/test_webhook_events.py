"""Webhooks localstripe never sends, built and signed the way Stripe does: setup_intent.succeeded
and charge.refunded (a refund made in the Stripe dashboard). Plus a card saved after the
campaign already succeeded."""

from __future__ import annotations

import json
import uuid
from typing import Any

from servicekit.testing.helpers import eventually, tap


async def live(payments: Any, model: str) -> str:
    campaign_id = f"cmp_{uuid.uuid4().hex}"
    await payments.publish(
        "campaign.published",
        campaign_id,
        payments.campaign_data(campaign_id, "usr_owner_wh", "live", model, 2),
    )
    await eventually(lambda: payments.store.campaign(campaign_id))
    return campaign_id


async def new_pledge(payments: Any, campaign_id: str, backer: dict[str, str], amount: int) -> dict[str, Any]:
    async with payments.client() as client:
        created = await client.post(
            "/pledges",
            json={"campaign_id": campaign_id, "amount": amount, "currency": "EUR"},
            headers={**backer, "Idempotency-Key": f"idem-{uuid.uuid4().hex}"},
        )
    assert created.status_code == 201, created.text
    return created.json()


async def status_of(payments: Any, pledge_id: str) -> str:
    return (await payments.store.pledge(pledge_id))["status"]


async def test_setup_intent_succeeded_webhook_authorises_without_the_browser(payments: Any) -> None:
    _q, seen = await tap(payments.ctx.bus, "pledge.authorized")
    campaign_id = await live(payments, "all_or_nothing")
    pledge = await new_pledge(payments, campaign_id, payments.auth("usr_seti"), 1_500)
    await payments.browser.confirm_setup(pledge["client_secret"], payments.good_card)
    seti = pledge["client_secret"].split("_secret_")[0]
    setup_intent = await payments.browser.get(f"/v1/setup_intents/{seti}")
    response = await payments.webhook(payments.stripe_event("setup_intent.succeeded", setup_intent))
    assert response.status_code == 200
    await eventually(lambda: seen, timeout=10)
    assert json.loads(seen[0].body)["data"]["pledge_id"] == pledge["id"]
    assert await status_of(payments, pledge["id"]) == "authorized"


async def test_dashboard_refunds_reach_the_ledger_through_charge_refunded(payments: Any) -> None:
    _q, seen = await tap(payments.ctx.bus, "payment.refunded")
    campaign_id = await live(payments, "keep_it_all")
    backer = payments.auth("usr_refund")
    pledge = await new_pledge(payments, campaign_id, backer, 3_000)
    paid = await payments.checkout(pledge, payments.good_card, backer)
    assert paid["status"] == "succeeded"
    intent_id = paid["receipt"]["payment_intent_id"]

    # Someone refunds 1 000 in the Stripe dashboard; Stripe sends charge.refunded.
    refund = await payments.browser.post("/v1/refunds", payment_intent=intent_id, amount="1000")
    intent = await payments.browser.get(f"/v1/payment_intents/{intent_id}")
    charge = intent["latest_charge"]
    charge = charge if isinstance(charge, dict) else await payments.browser.get(f"/v1/charges/{charge}")
    delivery = payments.stripe_event(
        "charge.refunded", {**charge, "amount_refunded": 1_000, "refunded": False}
    )
    assert (await payments.webhook(delivery)).status_code == 200
    await eventually(lambda: seen, timeout=10)
    data = json.loads(seen[0].body)["data"]
    assert data["refund_id"] == refund["id"] and data["amount"] == 1_000
    # The same refund seen again (another delivery) is journaled once.
    again = payments.stripe_event("charge.refunded", {**charge, "amount_refunded": 1_000})
    assert (await payments.webhook(again)).status_code == 200

    async def processed() -> bool:
        return await payments.store.db.stripe_events.count_documents({"status": "processed"}) == 2

    await eventually(processed)
    async with payments.client() as client:
        ledger = await client.get(f"/campaigns/{campaign_id}/ledger", headers=payments.auth("usr_owner_wh"))
        assert ledger.json()["totals"]["raised"] == 2_000
        admin = payments.auth("usr_admin", roles=["admin"])
        assert (await client.get(f"/campaigns/{campaign_id}/reconciliation", headers=admin)).json()[
            "ok"
        ] is True
    assert len(seen) == 1 and await status_of(payments, pledge["id"]) == "succeeded"  # partly refunded


async def test_card_saved_after_the_campaign_succeeded_is_still_charged(payments: Any) -> None:
    campaign_id = await live(payments, "all_or_nothing")
    backer = payments.auth("usr_slow")
    pledge = await new_pledge(payments, campaign_id, backer, 800)
    await payments.publish(
        "campaign.succeeded",
        campaign_id,
        payments.campaign_data(campaign_id, "usr_owner_wh", "succeeded", "all_or_nothing", 4),
    )

    async def ended() -> bool:
        return (await payments.store.campaign(campaign_id))["status"] == "succeeded"

    await eventually(ended)
    await payments.browser.confirm_setup(pledge["client_secret"], payments.good_card)
    async with payments.client() as client:
        await client.post(f"/pledges/{pledge['id']}/confirm", headers=backer)

    async def charged() -> bool:
        return await status_of(payments, pledge["id"]) == "succeeded"

    await eventually(charged, timeout=15)
    assert len(await payments.browser.intents_of(pledge["id"])) == 1


async def test_card_saved_after_the_campaign_completed_is_charged_and_a_late_payment_refunded(
    payments: Any,
) -> None:
    """The outcome rule is the same for late pledges as for the campaign.* handler: `completed`
    (after `succeeded`) charges a card saved late; a 3-D Secure payment completed after
    `canceled` is refunded, with the campaign's reason."""
    _q, seen = await tap(payments.ctx.bus, "payment.refunded")
    aon = await live(payments, "all_or_nothing")
    kia = await live(payments, "keep_it_all")
    backer = payments.auth("usr_late")
    slow_card = await new_pledge(payments, aon, backer, 600)
    asked = await payments.checkout(
        await new_pledge(payments, kia, backer, 700), payments.three_ds_card, backer
    )
    assert asked["status"] == "requires_action"
    for verb, version in (("succeeded", 4), ("completed", 5)):
        await payments.publish(
            f"campaign.{verb}",
            aon,
            payments.campaign_data(aon, "usr_owner_wh", verb, "all_or_nothing", version),
        )
    canceled = payments.campaign_data(kia, "usr_owner_wh", "canceled", "keep_it_all", 4)
    await payments.publish("campaign.canceled", kia, {**canceled, "reason": "venue lost"})

    async def ended() -> bool:
        a, k = await payments.store.campaign(aon), await payments.store.campaign(kia)
        return a["status"] == "completed" and k["status"] == "canceled"

    await eventually(ended)
    # The open 3-D Secure payment is left alone by the cancel: it can still take money.
    assert await status_of(payments, asked["id"]) == "requires_action"
    await payments.checkout(slow_card, payments.good_card, backer)
    assert await payments.browser.authenticate(asked["client_secret"]) == 200
    async with payments.client() as client:
        await client.post(f"/pledges/{asked['id']}/confirm", headers=backer)

    async def settled() -> bool:
        return (await status_of(payments, slow_card["id"]), await status_of(payments, asked["id"])) == (
            "succeeded",
            "refunded",
        )

    await eventually(settled, timeout=15)
    await eventually(lambda: seen, timeout=10)
    assert json.loads(seen[0].body)["data"]["reason"] == "campaign canceled: venue lost"
