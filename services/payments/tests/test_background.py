"""What happens without anyone calling: the sweeper recovers payments whose webhooks never
came, grace periods end in a release, and concurrent replays of one Idempotency-Key make one
pledge and one SetupIntent."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from servicekit.testing.helpers import eventually, tap


async def live(payments: Any, model: str) -> str:
    campaign_id = f"cmp_{uuid.uuid4().hex}"
    await payments.publish(
        "campaign.published",
        campaign_id,
        payments.campaign_data(campaign_id, "usr_owner_bg", "live", model, 2),
    )
    await eventually(lambda: payments.store.campaign(campaign_id))
    return campaign_id


async def test_sweeper_records_a_payment_whose_webhook_never_came(payments: Any) -> None:
    _q, seen = await tap(payments.ctx.bus, "payment.succeeded")
    campaign_id = await live(payments, "keep_it_all")
    backer = payments.auth("usr_sweep")
    async with payments.client() as client:
        created = await client.post(
            "/pledges",
            json={"campaign_id": campaign_id, "amount": 700, "currency": "EUR"},
            headers={**backer, "Idempotency-Key": f"idem-{uuid.uuid4().hex}"},
        )
    pledge = created.json()
    assert await payments.browser.confirm_setup(pledge["client_secret"], payments.good_card) == "succeeded"
    # Neither a webhook nor the browser's confirm call arrives; the sweeper's age threshold passes.
    await payments.charger_tick()
    assert (await payments.store.pledge(pledge["id"]))["status"] == "pending"  # not old enough yet
    payments.ctx.settings.sweep_after_s = 0
    await eventually(lambda: seen, timeout=10)
    (intent,) = await payments.browser.intents_of(pledge["id"])
    assert json.loads(seen[0].body)["data"]["payment_intent_id"] == intent["id"]
    assert (await payments.store.pledge(pledge["id"]))["status"] == "succeeded"


async def test_grace_period_ends_in_a_release(payments: Any) -> None:
    _q, seen = await tap(payments.ctx.bus, "pledge.released")
    payments.ctx.settings.charge_grace_period_s = 1
    campaign_id = await live(payments, "all_or_nothing")
    backer = payments.auth("usr_grace")
    async with payments.client() as client:
        created = await client.post(
            "/pledges",
            json={"campaign_id": campaign_id, "amount": 900, "currency": "EUR"},
            headers={**backer, "Idempotency-Key": f"idem-{uuid.uuid4().hex}"},
        )
        pledge = created.json()
        await payments.browser.confirm_setup(pledge["client_secret"], payments.declined_card)
        await client.post(f"/pledges/{pledge['id']}/confirm", headers=backer)
        await payments.publish(
            "campaign.succeeded",
            campaign_id,
            payments.campaign_data(campaign_id, "usr_owner_bg", "succeeded", "all_or_nothing", 4),
        )
        await eventually(lambda: seen, timeout=15)
        assert json.loads(seen[0].body)["data"]["reason"] == "charge failed and the grace period ended"
        late = await client.post(
            f"/pledges/{pledge['id']}/retry",
            headers={**backer, "Idempotency-Key": f"idem-{uuid.uuid4().hex}"},
        )
        assert late.status_code == 409 and late.json()["error"]["code"] == "not_retryable"
    assert (await payments.store.pledge(pledge["id"]))["status"] == "released"


async def test_concurrent_replays_of_one_key_make_one_intent(payments: Any) -> None:
    campaign_id = await live(payments, "keep_it_all")
    headers = {**payments.auth("usr_hasty"), "Idempotency-Key": f"idem-{uuid.uuid4().hex}"}
    body = {"campaign_id": campaign_id, "amount": 1_200, "currency": "EUR"}
    async with payments.client() as client:
        answers = await asyncio.gather(
            *(client.post("/pledges", json=body, headers=headers) for _ in range(5))
        )
        # servicekit's one behaviour: the first does the work, the ones arriving while it runs
        # are told so (409 request_in_progress), and a replay afterwards gets the first answer.
        assert {a.status_code for a in answers} <= {201, 409}
        done = [a.json() for a in answers if a.status_code == 201]
        busy = [a.json()["error"]["code"] for a in answers if a.status_code == 409]
        assert done and set(busy) <= {"request_in_progress"}
        later = await client.post("/pledges", json=body, headers=headers)
        assert later.status_code == 201
    assert {p["id"] for p in done} == {later.json()["id"]}
    assert {p["client_secret"] for p in done} == {later.json()["client_secret"]}
    setup_intents = (await payments.browser.get("/v1/setup_intents", limit=100))["data"]
    mine = [si for si in setup_intents if si["metadata"].get("pledge_id") == later.json()["id"]]
    assert len(mine) == 1
