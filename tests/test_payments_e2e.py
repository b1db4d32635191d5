"""Payments in the running platform: a pledge through the gateway to a campaign created and
approved through campaigns' API, its card saved on the stack's
localstripe as Stripe.js does it and charged by payments (localstripe's own signed webhook for
that payment reaches payments too: it registered itself at start-up), and a Stripe delivery
through the gateway's /webhooks/stripe with its body untouched."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import httpx

from devstack.running import RunningStack
from servicekit.bus import Bus
from servicekit.settings import ServiceSettings
from servicekit.testing.helpers import eventually, tap
from servicekit.testing.plugin import TestEnv

LOCAL_WEBHOOK_SECRET = "whsec_civicfund_local"  # payments' default; the local stack keeps it


async def test_pledge_paid_on_localstripe_reaches_the_bus_through_its_webhook(
    gateway_url: str, platform, make_account, env: TestEnv, stack: RunningStack
) -> None:
    bus = Bus(
        ServiceSettings(amqp_url=env.amqp_url, bus_namespace=stack.stack.bus_namespace, service_name="e2e")
    )
    await bus.connect(retry_forever=False)
    try:
        _, seen = await tap(bus, "payment.succeeded")
        owner, account = await make_account(), await make_account()
        campaign = await platform.live_campaign(owner, title="Community garden", goal=100_000)
        campaign_id = campaign["id"]
        backer = account.headers
        body = {"campaign_id": campaign_id, "amount": 4_200, "currency": "EUR"}
        async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:

            async def pledge() -> dict | None:
                response = await client.post(
                    "/api/v1/payments/pledges",
                    json=body,
                    headers={**backer, "Idempotency-Key": f"e2e-{campaign_id}"},
                )
                return response.json() if response.status_code == 201 else None

            await eventually(pledge, timeout=20, interval=0.3)  # until payments projected the campaign
            created = await pledge()
            assert created is not None and created["status"] == "pending"
            assert created["next_action"] == "confirm_card_setup"
            # The browser's part (Stripe.js confirmCardSetup), on the stack's localstripe.
            await platform.save_card(created["client_secret"])

            # Payments charges the saved card server-side; localstripe's own signed
            # payment_intent.succeeded delivery reaches it too (a duplicate it absorbs).
            confirmed = await client.post(f"/api/v1/payments/pledges/{created['id']}/confirm", headers=backer)
            assert confirmed.status_code == 200 and confirmed.json()["status"] == "succeeded", confirmed.text
            await eventually(
                lambda: any(json.loads(m.body)["subject"] == created["id"] for m in seen), timeout=30
            )
            event = next(json.loads(m.body) for m in seen if json.loads(m.body)["subject"] == created["id"])
            assert event["data"]["pledge_id"] == created["id"] and event["data"]["amount"] == 4_200
            mine = (await client.get("/api/v1/payments/me/pledges", headers=backer)).json()["items"]
            assert [(p["id"], p["status"]) for p in mine] == [(created["id"], "succeeded")]

            # A Stripe delivery through the gateway: the signature covers the raw body, so it
            # only verifies if the gateway forwarded the bytes untouched.
            delivery = json.dumps(
                {
                    "id": f"evt_e2e_{uuid.uuid4().hex[:12]}",
                    "object": "event",
                    "type": "customer.created",
                    "created": int(time.time()),
                    "data": {"object": {"id": "cus_e2e", "object": "customer"}},
                },
                indent=2,
            ).encode()
            t = int(time.time())
            mac = hmac.new(
                LOCAL_WEBHOOK_SECRET.encode(), f"{t}.".encode() + delivery, hashlib.sha256
            ).hexdigest()
            ok = await client.post(
                "/webhooks/stripe",
                content=delivery,
                headers={"Stripe-Signature": f"t={t},v1={mac}", "Content-Type": "application/json"},
            )
            assert ok.status_code == 200, ok.text
            assert ok.json() == {"received": True, "duplicate": False}
            forged = await client.post(
                "/webhooks/stripe",
                content=delivery.replace(b"cus_e2e", b"cus_xxx"),
                headers={"Stripe-Signature": f"t={t},v1={mac}", "Content-Type": "application/json"},
            )
            assert forged.status_code == 400
    finally:
        await bus.close()
