"""The tally at a campaign's deadline (campaign.deadline_passed -> pledges.tallied): what
payments' own records hold, the same answer when asked twice, zeros for a campaign it never
heard of, no new pledge once the deadline passed, and a pledge whose card or payment payments
learns of only after it tallied released or refunded as arrived after the deadline."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from servicekit.mongo import utcnow
from servicekit.testing.helpers import eventually, tap

LATE = "arrived after the deadline"


async def live(payments: Any, model: str, deadline_in: timedelta = timedelta(days=10)) -> str:
    campaign_id = f"cmp_{uuid.uuid4().hex}"
    data = payments.campaign_data(campaign_id, "usr_owner_tally", "live", model, version=3)
    data["deadline"] = (utcnow() + deadline_in).isoformat()
    await payments.publish("campaign.published", campaign_id, data)
    await eventually(lambda: payments.store.campaign(campaign_id), timeout=10)
    return campaign_id


async def create(payments: Any, campaign_id: str, backer: str, amount: int) -> Any:
    async with payments.client() as client:
        return await client.post(
            "/pledges",
            json={"campaign_id": campaign_id, "amount": amount, "currency": "EUR", "tip": 100},
            headers={**payments.auth(backer), "Idempotency-Key": f"idem-{uuid.uuid4().hex}"},
        )


async def pledge(payments: Any, campaign_id: str, amount: int, card: str | None) -> dict[str, Any]:
    """A pledge, checked out with `card` (None: the backer has not saved a card yet)."""
    backer = f"usr_{uuid.uuid4().hex[:8]}"
    created = await create(payments, campaign_id, backer, amount)
    assert created.status_code == 201, created.text
    body = created.json()
    if card is not None:
        body = await payments.checkout(body, card, payments.auth(backer))
    return {**body, "backer": backer}


async def deadline_passed(payments: Any, campaign_id: str, model: str) -> None:
    await payments.publish(
        "campaign.deadline_passed",
        campaign_id,
        {
            "campaign_id": campaign_id,
            "deadline": utcnow().isoformat(),
            "funding_model": model,
            "currency": "EUR",
        },
    )


def of(messages: list[Any], routing_key: str, campaign_id: str) -> list[dict[str, Any]]:
    bodies = [json.loads(m.body) for m in messages if m.routing_key == routing_key]
    return [b["data"] for b in bodies if b["data"]["campaign_id"] == campaign_id]


async def test_all_or_nothing_tally_twice_the_same_and_a_late_card_released(payments: Any) -> None:
    assert payments.ctx.bus is not None
    _q, seen = await tap(payments.ctx.bus, "#")
    cid = await live(payments, "all_or_nothing")
    one = await pledge(payments, cid, 1_000, payments.good_card)
    two = await pledge(payments, cid, 2_000, payments.good_card)
    slow = await pledge(payments, cid, 4_000, None)  # the card is saved after the deadline
    assert (one["status"], two["status"], slow["status"]) == ("authorized", "authorized", "pending")

    await deadline_passed(payments, cid, "all_or_nothing")
    await eventually(lambda: len(of(seen, "pledges.tallied", cid)) == 1, timeout=20)
    [tally] = of(seen, "pledges.tallied", cid)
    # Amounts are the project's (tips apart), as in pledge.authorized.
    assert tally == {
        "campaign_id": cid,
        "currency": "EUR",
        "authorized": {"count": 2, "amount": 3_000},
        "succeeded": {"count": 0, "amount": 0},
    }
    # Still live for campaigns until it closes, but no new pledge.
    refused = await create(payments, cid, f"usr_{uuid.uuid4().hex[:8]}", 500)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "campaign_not_live"

    # The slow backer's card is saved now: authorised, then released as late, never counted.
    late = await payments.checkout(slow, payments.good_card, payments.auth(slow["backer"]))
    assert late["status"] == "released", late
    stored = await payments.store.pledge(slow["id"])
    assert stored is not None and stored["refund_reason"] == LATE
    await eventually(lambda: any(d["pledge_id"] == slow["id"] for d in of(seen, "pledge.released", cid)))
    [released] = [d for d in of(seen, "pledge.released", cid) if d["pledge_id"] == slow["id"]]
    assert released["reason"] == LATE and released["amount"] == 4_000
    assert any(d["pledge_id"] == slow["id"] for d in of(seen, "pledge.authorized", cid))

    # Asked again (a redelivery under a new id): the same tally, the late pledge still outside.
    await deadline_passed(payments, cid, "all_or_nothing")
    await eventually(lambda: len(of(seen, "pledges.tallied", cid)) == 2, timeout=20)
    assert of(seen, "pledges.tallied", cid)[1] == tally

    # The campaign succeeds on that tally: the two counted pledges are charged, the late one not.
    data = payments.campaign_data(cid, "usr_owner_tally", "succeeded", "all_or_nothing", version=5)
    await payments.publish("campaign.succeeded", cid, data)

    async def charged() -> bool:
        docs = await payments.store.pledges_of_campaign(cid)
        return {d["_id"]: d["status"] for d in docs} == {
            one["id"]: "succeeded",
            two["id"]: "succeeded",
            slow["id"]: "released",
        }

    await eventually(charged, timeout=30)
    assert await payments.browser.intents_of(slow["id"]) == []


async def test_keep_it_all_tally_and_a_late_payment_refunded(payments: Any) -> None:
    assert payments.ctx.bus is not None
    _q, seen = await tap(payments.ctx.bus, "#")
    cid = await live(payments, "keep_it_all")
    paid = await pledge(payments, cid, 2_500, payments.good_card)
    assert paid["status"] == "succeeded", paid
    slow = await pledge(payments, cid, 1_200, None)

    await deadline_passed(payments, cid, "keep_it_all")
    await eventually(lambda: len(of(seen, "pledges.tallied", cid)) == 1, timeout=20)
    [tally] = of(seen, "pledges.tallied", cid)
    assert tally["authorized"] == {"count": 0, "amount": 0}
    assert tally["succeeded"] == {"count": 1, "amount": 2_500}

    # Charged after the tally (the backer finished late): money taken, flagged, refunded.
    late = await payments.checkout(slow, payments.good_card, payments.auth(slow["backer"]))
    assert late["status"] in ("refund_due", "refunding", "refunded"), late
    await eventually(lambda: any(d["pledge_id"] == slow["id"] for d in of(seen, "payment.succeeded", cid)))
    by_pledge = {d["pledge_id"]: d for d in of(seen, "payment.succeeded", cid)}
    assert by_pledge[slow["id"]]["after_deadline"] is True
    assert "after_deadline" not in by_pledge[paid["id"]]
    await payments.charger_tick()

    async def refunded() -> bool:
        doc = await payments.store.pledge(slow["id"])
        return doc is not None and doc["status"] == "refunded"

    await eventually(refunded, timeout=30)
    stored = await payments.store.pledge(slow["id"])
    assert stored is not None and stored["refund_reason"] == LATE
    await eventually(lambda: any(d["pledge_id"] == slow["id"] for d in of(seen, "payment.refunded", cid)))
    assert (await payments.store.pledge(paid["id"]))["status"] == "succeeded"  # counted: kept


async def test_unknown_campaign_tallies_zeros_and_a_past_deadline_takes_no_pledge(payments: Any) -> None:
    assert payments.ctx.bus is not None
    _q, seen = await tap(payments.ctx.bus, "pledges.tallied")
    unknown = f"cmp_{uuid.uuid4().hex}"
    await deadline_passed(payments, unknown, "keep_it_all")
    await eventually(lambda: len(of(seen, "pledges.tallied", unknown)) == 1, timeout=20)
    assert of(seen, "pledges.tallied", unknown)[0] == {
        "campaign_id": unknown,
        "currency": "EUR",
        "authorized": {"count": 0, "amount": 0},
        "succeeded": {"count": 0, "amount": 0},
    }
    # Its deadline passed, the tally not asked yet: live, yet no new pledge.
    past = await live(payments, "all_or_nothing", deadline_in=timedelta(minutes=-1))
    refused = await create(payments, past, f"usr_{uuid.uuid4().hex[:8]}", 500)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "campaign_not_live"
    ahead = await live(payments, "all_or_nothing")
    assert (await create(payments, ahead, f"usr_{uuid.uuid4().hex[:8]}", 500)).status_code == 201
