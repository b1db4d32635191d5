"""What a city's manager does with the subscription in the console, on localstripe: a card that
needs 3-D Secure leaves the first payment waiting, the answer carries the client secret that
Stripe.js confirms, the refresh re-fetches the state from Stripe (active, subscription.activated);
invoices; cancel at the end of the period and undo; change plan. Refusals: reviewers, other
cities, unknown subscriptions."""

from __future__ import annotations

import json
import uuid
from typing import Any

from payments.subscriptions import CitySubscriptions
from servicekit.testing.helpers import eventually, tap


async def _city(payments: Any) -> str:
    slug = f"ville-{uuid.uuid4().hex[:8]}"
    await payments.publish(
        "municipality.registered", slug, {"municipality_id": f"mun_{slug}", "slug": slug, "name": "Ville"}
    )
    await eventually(lambda: payments.store.municipality(slug))
    await eventually(lambda: payments.ctx.get(CitySubscriptions).plans_ready.is_set(), timeout=15)
    return slug


async def test_three_d_secure_subscription_finishes_in_the_browser_then_cancels_at_period_end(
    payments_hearing_localstripe: Any,
) -> None:
    payments = payments_hearing_localstripe
    _q, seen = await tap(payments.ctx.bus, "subscription.*")
    slug = await _city(payments)
    manager = payments.auth("usr_manager", municipalities={slug: "manager"})
    reviewer = payments.auth("usr_reviewer", municipalities={slug: "reviewer"})
    city = {"municipality": slug}
    async with payments.client() as client:
        # The card is saved first: a SetupIntent that Stripe.js confirms (3-D Secure passed).
        setup = await client.post("/subscriptions/card-setups", json=city,
                                  headers={**manager, "Idempotency-Key": f"c-{uuid.uuid4().hex}"})  # fmt: skip
        assert setup.status_code == 201, setup.text
        refused = await client.post("/subscriptions/card-setups", json=city,
                                    headers={**reviewer, "Idempotency-Key": f"c-{uuid.uuid4().hex}"})  # fmt: skip
        assert refused.status_code == 403
        seti = setup.json()["setup_intent"]
        body = {"municipality": slug, "plan": "monthly", "setup_intent": seti}
        early = await client.post(
            "/subscriptions", json=body, headers={**manager, "Idempotency-Key": f"s-{uuid.uuid4().hex}"}
        )
        assert early.status_code == 422 and early.json()["error"]["code"] == "card_not_saved"
        assert await payments.browser.confirm_setup(
            setup.json()["client_secret"], payments.three_ds_card
        ) == ("succeeded")
        pm = await payments.browser.payment_method(payments.good_card)
        both = {**body, "payment_method": pm}
        assert (
            await client.post("/subscriptions", json=both, headers={**manager, "Idempotency-Key": "both-1"})
        ).status_code == 422
        created = await client.post(
            "/subscriptions", json=body, headers={**manager, "Idempotency-Key": f"s-{uuid.uuid4().hex}"}
        )
        assert created.status_code == 201, created.text
        sub = created.json()
        assert sub["status"] == "incomplete" and sub["active"] is False
        assert sub["client_secret"] and sub["client_secret"].startswith("pi_")
        listed = (await client.get("/subscriptions", params=city, headers=manager)).json()["items"]
        assert listed[0]["client_secret"] == sub["client_secret"]  # a reload can still finish it

        # Stripe.js's confirmCardPayment: the 3-D Secure dialog, passed.
        assert await payments.browser.authenticate(sub["client_secret"]) == 200
        refreshed = await client.post(f"/subscriptions/{sub['id']}/refresh", params=city, headers=manager)
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["active"] is True and refreshed.json()["client_secret"] is None
        await eventually(lambda: any(m.routing_key == "subscription.activated" for m in seen), timeout=10)
        activated = json.loads(next(m for m in seen if m.routing_key == "subscription.activated").body)
        assert activated["data"]["municipality"] == slug

        invoices = await client.get(f"/subscriptions/{sub['id']}/invoices", params=city, headers=reviewer)
        assert invoices.status_code == 200, invoices.text
        items = invoices.json()["items"]
        assert len(items) == 1 and items[0]["status"] == "paid" and items[0]["amount_paid"] == 4_900
        assert items[0]["currency"] == "EUR"

        cancel = {"cancel_at_period_end": True}
        path = f"/subscriptions/{sub['id']}/cancellation"
        assert (await client.post(path, params=city, json=cancel, headers=reviewer)).status_code == 403
        other = payments.auth("usr_other", municipalities={"elsewhere": "manager"})
        assert (
            await client.post(path, params={"municipality": "elsewhere"}, json=cancel, headers=other)
        ).status_code == 404
        assert (
            await client.post(path, params=city, json={"when": "now"}, headers=manager)
        ).status_code == 422
        canceled = await client.post(path, params=city, json=cancel, headers=manager)
        assert canceled.status_code == 200, canceled.text
        assert canceled.json()["cancel_at_period_end"] is True and canceled.json()["active"] is True
        undone = await client.post(path, params=city, json={"cancel_at_period_end": False}, headers=manager)
        assert undone.json()["cancel_at_period_end"] is False
        assert (
            await client.post("/subscriptions/sub_nope/refresh", params=city, headers=manager)
        ).status_code == 404
    assert not any(m.routing_key == "subscription.lapsed" for m in seen)


async def test_manager_changes_the_plan(payments_hearing_localstripe: Any) -> None:
    payments = payments_hearing_localstripe
    slug = await _city(payments)
    manager = payments.auth("usr_manager", municipalities={slug: "manager"})
    reviewer = payments.auth("usr_reviewer", municipalities={slug: "reviewer"})
    pm = await payments.browser.payment_method(payments.good_card)
    city = {"municipality": slug}
    async with payments.client() as client:
        created = await client.post(
            "/subscriptions",
            json={"municipality": slug, "plan": "monthly", "payment_method": pm},
            headers={**manager, "Idempotency-Key": f"s-{uuid.uuid4().hex}"},
        )
        sub = created.json()
        assert sub["active"] is True and sub["client_secret"] is None
        path = f"/subscriptions/{sub['id']}/plan"
        key = {"Idempotency-Key": f"p-{uuid.uuid4().hex}"}
        assert (
            await client.post(path, params=city, json={"plan": "yearly"}, headers=manager)
        ).status_code == 422
        refused = await client.post(path, params=city, json={"plan": "yearly"}, headers={**reviewer, **key})
        assert refused.status_code == 403
        same = await client.post(path, params=city, json={"plan": "monthly"}, headers={**manager, **key})
        assert same.status_code == 409 and same.json()["error"]["code"] == "same_plan"
        changed = await client.post(path, params=city, json={"plan": "yearly"}, headers={**manager, **key})
        assert changed.status_code == 200, changed.text
        assert changed.json()["plan"] == "yearly" and changed.json()["active"] is True
        listed = (await client.get("/subscriptions", params=city, headers=manager)).json()["items"]
        assert [s["plan"] for s in listed] == ["yearly"]
