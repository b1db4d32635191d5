"""Keep-it-all pledges end to end on localstripe: pledge, Stripe.js confirm, signed webhooks,
events, ledger, receipts, privacy, idempotency, reconciliation."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from payments import reconciliation
from servicekit.mongo import Tx, utcnow
from servicekit.testing.helpers import eventually, tap


async def live_campaign(payments: Any, owner: str, model: str = "keep_it_all") -> str:
    campaign_id = f"cmp_{uuid.uuid4().hex}"
    await payments.publish(
        "campaign.published",
        campaign_id,
        payments.campaign_data(campaign_id, owner, "live", model, version=3),
    )
    await eventually(lambda: payments.store.campaign(campaign_id), timeout=10)
    return campaign_id


def bodies(messages: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(m.body) for m in messages]


async def test_keep_it_all_pledge_confirm_webhook_event_ledger(payments: Any) -> None:
    assert payments.ctx.bus is not None
    _q, seen = await tap(payments.ctx.bus, "payment.*")
    owner, backer = "usr_owner_kia", f"usr_{uuid.uuid4().hex[:8]}"
    campaign_id = await live_campaign(payments, owner)
    body = {
        "campaign_id": campaign_id,
        "amount": 2_500,
        "currency": "EUR",
        "tip": 300,
        "public_name": "Nadia",
    }
    key = {"Idempotency-Key": f"idem-{uuid.uuid4().hex}"}
    async with payments.client() as client:
        first = await client.post("/pledges", json=body, headers={**payments.auth(backer), **key})
        assert first.status_code == 201, first.text
        pledge = first.json()
        # Both funding models save the card first; nothing is charged yet.
        assert pledge["status"] == "pending" and pledge["intent_kind"] == "setup_intent"
        assert pledge["next_action"] == "confirm_card_setup" and pledge["client_secret"].startswith("seti_")

        # Same key, same body: the same pledge and still no second intent.
        again = await client.post("/pledges", json=body, headers={**payments.auth(backer), **key})
        assert again.status_code == 201 and again.json()["id"] == pledge["id"]
        assert again.json()["client_secret"] == pledge["client_secret"]
        assert await payments.browser.intents_of(pledge["id"]) == []
        # Same key, different request: refused.
        other = await client.post(
            "/pledges", json={**body, "amount": 9_999}, headers={**payments.auth(backer), **key}
        )
        assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"

        # The browser saves the card; no confirm call: Stripe's signed setup_intent.succeeded
        # makes payments charge it server-side.
        assert (
            await payments.browser.confirm_setup(pledge["client_secret"], payments.good_card) == "succeeded"
        )
        seti = pledge["client_secret"].split("_secret_")[0]
        setup_intent = await payments.browser.get(f"/v1/setup_intents/{seti}")
        saved = await payments.webhook(payments.stripe_event("setup_intent.succeeded", setup_intent))
        assert saved.status_code == 200 and saved.json() == {"received": True, "duplicate": False}
        await eventually(lambda: payments.browser.intents_of(pledge["id"]), timeout=15)
        intents = await payments.browser.intents_of(pledge["id"])
        assert len(intents) == 1 and intents[0]["amount"] == 2_800
        intent_id = intents[0]["id"]

        # Stripe delivers payment_intent.succeeded, signed with the endpoint secret.
        intent = await payments.browser.get(f"/v1/payment_intents/{intent_id}")
        assert intent["status"] == "succeeded"
        delivery = payments.stripe_event("payment_intent.succeeded", intent)
        response = await payments.webhook(delivery)
        assert response.status_code == 200 and response.json() == {"received": True, "duplicate": False}

        await eventually(lambda: any(m.routing_key == "payment.succeeded" for m in seen), timeout=15)
        event = next(b for b in bodies(seen) if b["type"] == "org.civicfund.payment.succeeded")
        assert event["data"]["pledge_id"] == pledge["id"]
        assert event["data"]["amount"] == 2_500 and event["data"]["tip"] == 300
        assert event["data"]["payment_intent_id"] == intent_id and event["data"]["public_name"] == "Nadia"

        # The same delivery again changes nothing.
        replay = await payments.webhook(delivery)
        assert replay.status_code == 200 and replay.json()["duplicate"] is True
        # A late, out-of-order payment_failed for the same intent does not undo the payment.
        late = payments.stripe_event(
            "payment_intent.payment_failed", {**intent, "status": "requires_payment_method"}
        )
        assert (await payments.webhook(late)).status_code == 200

        async def late_processed() -> bool:
            doc = await payments.store.db.stripe_events.find_one({"_id": json.loads(late)["id"]})
            return doc is not None and doc["status"] != "pending"

        await eventually(late_processed, timeout=10)
        assert [m.routing_key for m in seen].count("payment.succeeded") == 1
        assert "payment.failed" not in [m.routing_key for m in seen]

        mine = await client.get("/me/pledges", headers=payments.auth(backer))
        assert mine.status_code == 200
        (item,) = mine.json()["items"]
        assert item["status"] == "succeeded" and item["client_secret"] is None
        assert item["receipt"]["total"] == 2_800 and item["receipt"]["payment_intent_id"] == intent_id

        # The ledger: the project's charge and the platform's tip; raised == what campaigns shows.
        ledger = await client.get(f"/campaigns/{campaign_id}/ledger", headers=payments.auth(owner))
        assert ledger.status_code == 200, ledger.text
        totals = ledger.json()["totals"]
        assert totals["raised"] == 2_500 and totals["platform_fees"] == 300 and totals["payout_owed"] == 2_500
        assert sorted(e["kind"] for e in ledger.json()["entries"]) == ["charge", "platform_fee"]
        assert (
            await client.get(f"/campaigns/{campaign_id}/ledger", headers=payments.auth(backer))
        ).status_code == 403
        admin = payments.auth("usr_admin", roles=["admin"])
        assert (await client.get(f"/campaigns/{campaign_id}/ledger", headers=admin)).status_code == 200

        # Privacy: another backer neither reads nor confirms this pledge.
        stranger = payments.auth("usr_stranger")
        assert (await client.get(f"/pledges/{pledge['id']}", headers=stranger)).status_code == 404
        assert (await client.post(f"/pledges/{pledge['id']}/confirm", headers=stranger)).status_code == 404
        assert (await client.get("/me/pledges", headers=stranger)).json()["items"] == []

        # Reconciliation agrees with Stripe, then finds a difference injected into the journal.
        rec = await client.get(f"/campaigns/{campaign_id}/reconciliation", headers=admin)
        assert rec.status_code == 200 and rec.json()["ok"] is True, rec.text

        async def inject(tx: Tx) -> None:
            await tx.db.ledger.insert_one(
                {
                    "_id": "charge:pi_forged:project",
                    "campaign_id": campaign_id,
                    "pledge_id": pledge["id"],
                    "account": "project",
                    "kind": "charge",
                    "amount": 1_000,
                    "currency": "EUR",
                    "stripe_ref": "pi_forged",
                    "at": utcnow(),
                },
                session=tx.session,
            )

        await payments.ctx.mongo.transact(inject)  # type: ignore[union-attr]
        rec = (await client.get(f"/campaigns/{campaign_id}/reconciliation", headers=admin)).json()
        assert rec["ok"] is False
        assert rec["differences"] == [
            {"pledge_id": pledge["id"], "field": "charged", "journal": 3_800, "stripe": 2_800}
        ]
        assert (
            await client.get(f"/campaigns/{campaign_id}/reconciliation", headers=payments.auth(owner))
        ).status_code == 403
    # The same check from an ops shell (`python -m payments.reconciliation <campaign id>`).
    assert await reconciliation.run_check(payments.ctx.settings, [campaign_id]) == 1


async def test_declined_card_fails_clearly_and_another_card_pays(payments: Any) -> None:
    assert payments.ctx.bus is not None
    _q, seen = await tap(payments.ctx.bus, "payment.*")
    me = payments.auth(f"usr_{uuid.uuid4().hex[:8]}")
    campaign_id = await live_campaign(payments, "usr_owner_decline")
    async with payments.client() as client:
        created = await client.post(
            "/pledges",
            json={"campaign_id": campaign_id, "amount": 1_000, "currency": "EUR"},
            headers={**me, "Idempotency-Key": f"idem-{uuid.uuid4().hex}"},
        )
        pledge = created.json()

        # The card saves, then the server-side payment is declined; no webhook at all.
        confirmed = await payments.checkout(pledge, payments.declined_card, me)
        assert confirmed["status"] == "failed" and confirmed["failure_reason"] == "card_declined"
        assert confirmed["next_action"] == "retry" and confirmed["client_secret"] is None
        await eventually(lambda: any(m.routing_key == "payment.failed" for m in seen), timeout=15)
        (failed,) = [b for b in bodies(seen) if b["type"] == "org.civicfund.payment.failed"]
        assert failed["data"]["pledge_id"] == pledge["id"] and failed["data"]["reason"]
        assert failed["data"]["payment_intent_id"].startswith("pi_")

        # Confirming again changes nothing and emits nothing more.
        again = await client.post(f"/pledges/{pledge['id']}/confirm", headers=me)
        assert again.json()["status"] == "failed"
        ledger = await client.get(
            f"/campaigns/{campaign_id}/ledger", headers=payments.auth("usr_owner_decline")
        )
        assert ledger.json()["entries"] == []

        # "Try another card": a new SetupIntent; a card that cannot even be saved...
        key = {"Idempotency-Key": f"retry-{uuid.uuid4().hex}"}
        retry = await client.post(f"/pledges/{pledge['id']}/retry", headers={**me, **key})
        assert retry.status_code == 200, retry.text
        fresh = retry.json()
        assert fresh["status"] == "pending" and fresh["next_action"] == "confirm_card_setup"
        assert (
            fresh["client_secret"].startswith("seti_") and fresh["client_secret"] != pledge["client_secret"]
        )
        replay = await client.post(f"/pledges/{pledge['id']}/retry", headers={**me, **key})
        assert replay.json()["client_secret"] == fresh["client_secret"]
        assert await payments.browser.confirm_setup(fresh["client_secret"], payments.unsavable_card) == (
            "card_declined"
        )
        unsaved = (await client.post(f"/pledges/{pledge['id']}/confirm", headers=me)).json()
        assert unsaved["status"] == "failed" and unsaved["next_action"] == "retry"

        # ...then a good one, which pays.
        retry = await client.post(
            f"/pledges/{pledge['id']}/retry", headers={**me, "Idempotency-Key": f"retry-{uuid.uuid4().hex}"}
        )
        paid = await payments.checkout(retry.json(), payments.good_card, me)
        assert paid["status"] == "succeeded" and paid["next_action"] is None
        assert paid["receipt"]["total"] == 1_000
        settled = await client.post(
            f"/pledges/{pledge['id']}/retry", headers={**me, "Idempotency-Key": f"retry-{uuid.uuid4().hex}"}
        )
        assert settled.status_code == 409 and settled.json()["error"]["code"] == "not_retryable"
    await eventually(lambda: any(m.routing_key == "payment.succeeded" for m in seen), timeout=15)
    assert [m.routing_key for m in seen] == ["payment.failed", "payment.succeeded"]
    intents = await payments.browser.intents_of(pledge["id"])
    assert sorted(i["status"] for i in intents) == ["requires_payment_method", "succeeded"]


async def test_three_d_secure_is_completed_in_the_browser(payments: Any) -> None:
    me = payments.auth(f"usr_{uuid.uuid4().hex[:8]}")
    campaign_id = await live_campaign(payments, "usr_owner_3ds")
    async with payments.client() as client:
        created = await client.post(
            "/pledges",
            json={"campaign_id": campaign_id, "amount": 4_000, "currency": "EUR", "tip": 100},
            headers={**me, "Idempotency-Key": f"idem-{uuid.uuid4().hex}"},
        )
        pledge = created.json()
        asked = await payments.checkout(pledge, payments.three_ds_card, me)
        assert asked["status"] == "requires_action" and asked["next_action"] == "confirm_card_payment"
        assert asked["intent_kind"] == "payment_intent" and asked["client_secret"].startswith("pi_")
        # Confirming again before the backer authenticated: the same intent, nothing new.
        still = (await client.post(f"/pledges/{pledge['id']}/confirm", headers=me)).json()
        assert still["status"] == "requires_action" and still["client_secret"] == asked["client_secret"]
        assert len(await payments.browser.intents_of(pledge["id"])) == 1

        assert await payments.browser.authenticate(asked["client_secret"]) == 200
        paid = (await client.post(f"/pledges/{pledge['id']}/confirm", headers=me)).json()
        assert paid["status"] == "succeeded" and paid["client_secret"] is None
        assert paid["receipt"]["payment_intent_id"] == asked["client_secret"].split("_secret_")[0]
        totals = (
            await client.get(f"/campaigns/{campaign_id}/ledger", headers=payments.auth("usr_owner_3ds"))
        ).json()["totals"]
        assert totals["raised"] == 4_000 and totals["platform_fees"] == 100

        # A backer who fails authentication can try another card.
        other = await client.post(
            "/pledges",
            json={"campaign_id": campaign_id, "amount": 2_000, "currency": "EUR"},
            headers={**me, "Idempotency-Key": f"idem-{uuid.uuid4().hex}"},
        )
        asked = await payments.checkout(other.json(), payments.three_ds_card, me)
        assert await payments.browser.authenticate(asked["client_secret"], success=False) == 200
        refused = (await client.post(f"/pledges/{other.json()['id']}/confirm", headers=me)).json()
        assert refused["status"] == "failed" and refused["next_action"] == "retry"
        assert refused["failure_reason"] == "payment_intent_authentication_failure"


async def test_webhook_signatures_are_checked(payments: Any) -> None:
    body = payments.stripe_event("payment_intent.succeeded", {"id": "pi_unknown", "object": "payment_intent"})
    assert (await payments.webhook(body, payments.sign(body, secret="whsec_wrong"))).status_code == 400
    old = payments.sign(body, timestamp=int(time.time()) - 3_600)
    assert (await payments.webhook(body, old)).status_code == 400
    tampered = body.replace(b"pi_unknown", b"pi_unknowx")
    assert (await payments.webhook(tampered, payments.sign(body))).status_code == 400
    async with payments.client() as client:
        unsigned = await client.post("/webhooks/stripe", content=body)
        assert unsigned.status_code == 400 and unsigned.json()["error"]["code"] == "missing_signature"
    # Nothing rejected was stored.
    assert await payments.store.db.stripe_events.count_documents({}) == 0
    ok = await payments.webhook(body)
    assert ok.status_code == 200


async def test_bad_pledges_get_clear_4xx(payments: Any) -> None:
    backer = payments.auth("usr_bad_input")
    campaign_id = await live_campaign(payments, "usr_owner_bad")
    idem = {"Idempotency-Key": f"idem-{uuid.uuid4().hex}"}
    async with payments.client() as client:
        base = {"campaign_id": campaign_id, "amount": 1_000, "currency": "EUR"}
        assert (await client.post("/pledges", json=base, headers=backer)).status_code == 422  # no key
        assert (await client.post("/pledges", json=base, headers=idem)).status_code == 401
        cases = [
            ({**base, "amount": -5}, 422, "validation_error"),
            ({**base, "amount": 12.5}, 422, "validation_error"),
            ({**base, "extra": 1}, 422, "validation_error"),
            ({**base, "amount": 50}, 422, "amount_out_of_range"),
            ({**base, "currency": "USD"}, 409, "currency_mismatch"),
            ({**base, "campaign_id": "cmp_nope"}, 404, "campaign_not_found"),
        ]
        for body, status, code in cases:
            response = await client.post(
                "/pledges", json=body, headers={**backer, "Idempotency-Key": f"idem-{uuid.uuid4().hex}"}
            )
            assert response.status_code == status, (body, response.text)
            assert response.json()["error"]["code"] == code
        await payments.publish(
            "campaign.succeeded",
            campaign_id,
            payments.campaign_data(campaign_id, "usr_owner_bad", "succeeded", "keep_it_all", version=9),
        )

        async def ended() -> bool:
            doc = await payments.store.campaign(campaign_id)
            return doc is not None and doc["status"] == "succeeded"

        await eventually(ended)
        closed = await client.post("/pledges", json=base, headers={**backer, **idem})
        assert closed.status_code == 409 and closed.json()["error"]["code"] == "campaign_not_live"
        # A stale `published` arriving late does not reopen it.
        await payments.publish(
            "campaign.published",
            campaign_id,
            payments.campaign_data(campaign_id, "usr_owner_bad", "live", "keep_it_all", version=3),
        )
        retry = await client.post("/pledges/plg_nope/retry", headers={**backer, **idem})
        assert retry.status_code == 404
    doc = await payments.store.campaign(campaign_id)
    assert doc["status"] == "succeeded" and doc["version"] == 9
