"""Payments in the running platform: a pledge through the gateway, its card saved on the stack's
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
from servicekit.events import new_event
from servicekit.settings import ServiceSettings
from servicekit.signing import SigningKey, access_claims
from servicekit.testing.helpers import eventually, tap
from servicekit.testing.plugin import TestEnv

LOCAL_WEBHOOK_SECRET = "whsec_civicfund_local"  # payments' default; the local stack keeps it


def _headers(key: SigningKey, sub: str) -> dict[str, str]:
    token = key.sign(access_claims(sub, issuer="civicfund-gateway", audience="civicfund", ttl_s=600))
    return {"Authorization": f"Bearer {token}"}


async def test_pledge_paid_on_localstripe_reaches_the_bus_through_its_webhook(
    gateway_url: str, gateway_key: SigningKey, env: TestEnv, stack: RunningStack
) -> None:
    bus = Bus(
        ServiceSettings(amqp_url=env.amqp_url, bus_namespace=stack.stack.bus_namespace, service_name="e2e")
    )
    await bus.connect(retry_forever=False)
    stripe_base = f"http://127.0.0.1:{stack.stack.ports.localstripe}"
    try:
        _, seen = await tap(bus, "payment.succeeded")
        campaign_id = f"cmp_e2e_{uuid.uuid4().hex[:10]}"
        await bus.publish(
            new_event(
                "campaigns",
                "campaign.published",
                campaign_id,
                {
                    "campaign_id": campaign_id,
                    "owner_id": "usr_e2e_owner",
                    "title": "Community garden",
                    "status": "live",
                    "municipality": "montreuil",
                    "goal": 100_000,
                    "currency": "EUR",
                    "funding_model": "keep_it_all",
                    "version": 2,
                },
            )
        )
        backer = _headers(gateway_key, f"usr_e2e_{uuid.uuid4().hex[:8]}")
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
            secret = created["client_secret"]

            # The browser's part (Stripe.js confirmCardSetup), on the stack's localstripe.
            async with httpx.AsyncClient(base_url=stripe_base, timeout=10) as stripe:
                saved = await stripe.post(
                    f"/v1/setup_intents/{secret.split('_secret_')[0]}/confirm",
                    data={
                        "key": "pk_test_e2e",
                        "client_secret": secret,
                        "payment_method_data[type]": "card",
                        "payment_method_data[card][number]": "4242424242424242",
                        "payment_method_data[card][exp_month]": "12",
                        "payment_method_data[card][exp_year]": "2031",
                        "payment_method_data[card][cvc]": "123",
                    },
                )
                assert saved.status_code == 200 and saved.json()["status"] == "succeeded"

            # Payments charges the saved card server-side; localstripe's own signed
            # payment_intent.succeeded delivery reaches it too (a duplicate it absorbs).
            confirmed = await client.post(f"/api/v1/payments/pledges/{created['id']}/confirm", headers=backer)
            assert confirmed.status_code == 200 and confirmed.json()["status"] == "succeeded", confirmed.text
            await eventually(lambda: seen, timeout=30)
            event = json.loads(seen[0].body)
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
