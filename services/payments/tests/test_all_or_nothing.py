"""All-or-nothing on localstripe: cards saved with SetupIntents, charged off-session once each
when the campaign succeeds (even if told twice), a failed charge retried by the backer within
the grace period, released when the campaign fails, refunded when it is canceled."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

from servicekit.testing.helpers import eventually, tap


async def authorised_pledges(payments: Any, campaign_id: str, cards: list[str]) -> list[dict[str, Any]]:
    pledges = []
    async with payments.client() as client:
        for i, card in enumerate(cards):
            backer = f"usr_aon_{i}_{uuid.uuid4().hex[:6]}"
            created = await client.post(
                "/pledges",
                json={"campaign_id": campaign_id, "amount": 1_000 * (i + 1), "currency": "EUR"},
                headers={**payments.auth(backer), "Idempotency-Key": f"idem-{uuid.uuid4().hex}"},
            )
            assert created.status_code == 201, created.text
            pledge = created.json()
            assert pledge["intent_kind"] == "setup_intent" and pledge["client_secret"].startswith("seti_")
            await payments.browser.confirm_setup(pledge["client_secret"], card)
            # localstripe sends no setup_intent.* webhooks: the confirm call re-fetches.
            confirmed = await client.post(f"/pledges/{pledge['id']}/confirm", headers=payments.auth(backer))
            assert confirmed.json()["status"] == "authorized", confirmed.text
            pledges.append({**confirmed.json(), "backer": backer})
    return pledges


async def publish_campaign(payments: Any, campaign_id: str, verb: str, status: str, version: int) -> None:
    await payments.publish(
        f"campaign.{verb}",
        campaign_id,
        payments.campaign_data(campaign_id, "usr_owner_aon", status, "all_or_nothing", version),
    )


async def statuses(payments: Any, campaign_id: str) -> dict[str, str]:
    return {p["_id"]: p["status"] for p in await payments.store.pledges_of_campaign(campaign_id)}


async def test_success_charges_each_once_then_retry_then_cancel_refunds(payments: Any) -> None:
    _q, seen = await tap(payments.ctx.bus, "#")
    campaign_id = f"cmp_{uuid.uuid4().hex}"
    await publish_campaign(payments, campaign_id, "published", "live", 2)
    await eventually(lambda: payments.store.campaign(campaign_id))
    good1, good2, bad = await authorised_pledges(
        payments, campaign_id, [payments.good_card, payments.good_card, payments.declined_card]
    )
    await eventually(lambda: [m.routing_key for m in seen].count("pledge.authorized") == 3)
    for pledge in (good1, good2, bad):
        assert await payments.browser.intents_of(pledge["id"]) == []  # nothing charged yet

    # campaign.succeeded arrives twice (a redelivery under a new event id, same version).
    await publish_campaign(payments, campaign_id, "succeeded", "succeeded", 5)
    await publish_campaign(payments, campaign_id, "succeeded", "succeeded", 5)

    async def settled() -> bool:
        s = await statuses(payments, campaign_id)
        return s[good1["id"]] == s[good2["id"]] == "succeeded" and s[bad["id"]] == "charge_failed"

    await eventually(settled, timeout=20)
    for pledge in (good1, good2):
        intents = await payments.browser.intents_of(pledge["id"])
        assert [(i["status"], i["amount"]) for i in intents] == [("succeeded", pledge["amount"])]
    await eventually(lambda: [m.routing_key for m in seen].count("payment.failed") == 1)
    kinds = Counter(m.routing_key for m in seen)
    assert kinds["payment.succeeded"] == 2

    # The declined backer retries with another card within the grace period.
    async with payments.client() as client:
        me = payments.auth(bad["backer"])
        failed = (await client.get(f"/pledges/{bad['id']}", headers=me)).json()
        assert failed["status"] == "charge_failed" and failed["retry_until"] and failed["failure_reason"]
        (event,) = [json.loads(m.body) for m in seen if m.routing_key == "payment.failed"]
        assert event["data"]["retry_until"] and event["data"]["pledge_id"] == bad["id"]
        assert (await client.post(f"/pledges/{bad['id']}/retry", headers=me)).status_code == 422  # no key
        key = {"Idempotency-Key": f"retry-{uuid.uuid4().hex}"}
        stranger = await client.post(f"/pledges/{bad['id']}/retry", headers={**payments.auth("usr_x"), **key})
        assert stranger.status_code == 404
        assert failed["next_action"] == "retry" and failed["client_secret"] is None
        retry = await client.post(f"/pledges/{bad['id']}/retry", headers={**me, **key})
        assert retry.status_code == 200, retry.text
        again = await client.post(f"/pledges/{bad['id']}/retry", headers={**me, **key})
        assert again.json()["client_secret"] == retry.json()["client_secret"]
        # A new SetupIntent for the new card; still within the grace period until it pays.
        assert retry.json()["status"] == "charge_failed" and retry.json()["intent_kind"] == "setup_intent"
        assert retry.json()["retry_until"] == failed["retry_until"]
        paid = await payments.checkout(retry.json(), payments.good_card, me)
        (intent,) = [i for i in await payments.browser.intents_of(bad["id"]) if i["status"] == "succeeded"]
        assert paid["status"] == "succeeded" and paid["receipt"]["payment_intent_id"] == intent["id"]

        owner = payments.auth("usr_owner_aon")
        totals = (await client.get(f"/campaigns/{campaign_id}/ledger", headers=owner)).json()["totals"]
        assert totals["raised"] == 6_000

        # Canceled after the money was taken: every payment is refunded.
        await publish_campaign(payments, campaign_id, "canceled", "canceled", 7)

        async def refunded() -> bool:
            return set((await statuses(payments, campaign_id)).values()) == {"refunded"}

        await eventually(refunded, timeout=20)
        await eventually(lambda: [m.routing_key for m in seen].count("payment.refunded") == 3)
        ledger = (await client.get(f"/campaigns/{campaign_id}/ledger", headers=owner)).json()
        assert ledger["totals"]["raised"] == 0 and ledger["totals"]["refunded"] == 6_000
        admin = payments.auth("usr_admin", roles=["admin"])
        rec = (await client.get(f"/campaigns/{campaign_id}/reconciliation", headers=admin)).json()
        assert rec["ok"] is True, rec
    refunds = [json.loads(m.body)["data"] for m in seen if m.routing_key == "payment.refunded"]
    assert sorted(r["amount"] for r in refunds) == [1_000, 2_000, 3_000]
    assert all(r["refund_id"].startswith("re_") for r in refunds)


async def test_failed_campaign_releases_every_pledge_and_charges_nothing(payments: Any) -> None:
    _q, seen = await tap(payments.ctx.bus, "pledge.released")
    campaign_id = f"cmp_{uuid.uuid4().hex}"
    await publish_campaign(payments, campaign_id, "published", "live", 2)
    await eventually(lambda: payments.store.campaign(campaign_id))
    pledges = await authorised_pledges(payments, campaign_id, [payments.good_card, payments.good_card])
    await publish_campaign(payments, campaign_id, "failed", "failed", 4)

    async def released() -> bool:
        return set((await statuses(payments, campaign_id)).values()) == {"released"}

    await eventually(released, timeout=15)
    await eventually(lambda: len(seen) == 2)
    assert {json.loads(m.body)["data"]["pledge_id"] for m in seen} == {p["id"] for p in pledges}
    # A late, lower-version `succeeded` does not resurrect them.
    await publish_campaign(payments, campaign_id, "succeeded", "succeeded", 3)
    await publish_campaign(payments, campaign_id, "goal_reached", "live", 3)

    async def late_ones_handled() -> bool:
        return (
            await payments.store.db.inbox.count_documents(
                {"type": {"$in": ["campaign.succeeded", "campaign.goal_reached"]}}
            )
            == 2
        )

    await eventually(late_ones_handled)
    doc = await payments.store.campaign(campaign_id)
    assert doc["status"] == "failed" and doc["version"] == 4
    await payments.charger_tick()
    assert set((await statuses(payments, campaign_id)).values()) == {"released"}
    for pledge in pledges:
        assert await payments.browser.intents_of(pledge["id"]) == []


async def test_off_session_authentication_is_a_failure_then_the_backer_pays_with_3d_secure(
    payments: Any,
) -> None:
    """A bank that wants 3-D Secure when nobody is there: the charge fails with a grace period
    (and its intent is closed); "retry your payment" saves a card and pays on-session."""
    campaign_id = f"cmp_{uuid.uuid4().hex}"
    await publish_campaign(payments, campaign_id, "published", "live", 2)
    await eventually(lambda: payments.store.campaign(campaign_id))
    (pledge,) = await authorised_pledges(payments, campaign_id, [payments.three_ds_card])
    await publish_campaign(payments, campaign_id, "succeeded", "succeeded", 5)

    async def failed() -> bool:
        return (await statuses(payments, campaign_id))[pledge["id"]] == "charge_failed"

    await eventually(failed, timeout=20)
    (off_session,) = await payments.browser.intents_of(pledge["id"])
    assert off_session["status"] == "canceled"
    me = payments.auth(pledge["backer"])
    async with payments.client() as client:
        mine = (await client.get(f"/pledges/{pledge['id']}", headers=me)).json()
        assert mine["failure_reason"] == "authentication_required" and mine["next_action"] == "retry"
        retry = await client.post(
            f"/pledges/{pledge['id']}/retry", headers={**me, "Idempotency-Key": f"retry-{uuid.uuid4().hex}"}
        )
        asked = await payments.checkout(retry.json(), payments.three_ds_card, me)
        assert asked["status"] == "requires_action" and asked["next_action"] == "confirm_card_payment"
        assert asked["retry_until"] == mine["retry_until"]
        assert await payments.browser.authenticate(asked["client_secret"]) == 200
        paid = (await client.post(f"/pledges/{pledge['id']}/confirm", headers=me)).json()
    assert paid["status"] == "succeeded" and paid["receipt"]["total"] == pledge["amount"]
