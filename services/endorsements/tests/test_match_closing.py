"""A keep-it-all campaign's end waits for its last payments: campaigns closes a campaign with
payments' tally (`closing.tally.succeeded` of campaign.succeeded), and a payment charged before
the deadline may still reach endorsements after that event (independent queues). Commitments
wait in `closing`, keep matching the late payments instantly, and end once, in the transaction
of the payment that makes the payments recorded here agree with the tally."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from endorsements.matching.domain import (
    Contribution,
    Seen,
    TallyError,
    closing_tally,
    end_action,
    pool_usage,
    waits_for_payments,
)
from servicekit.events import new_event
from servicekit.testing.helpers import eventually, tap


def _closing(count: int, amount: int) -> dict[str, Any]:
    return {
        "requested_at": "2027-06-30T22:00:00+00:00",
        "tally": {
            "authorized": {"count": count, "amount": amount},
            "succeeded": {"count": count, "amount": amount},
        },
    }


# (funding model, verb, tally, recorded) -> waits
WAITS: list[tuple[str, str, Seen | None, Seen, bool]] = [
    ("keep_it_all", "succeeded", Seen(3, 30_000), Seen(3, 30_000), False),  # the tally agrees
    ("keep_it_all", "succeeded", Seen(3, 30_000), Seen(2, 20_000), True),  # short by one payment
    ("keep_it_all", "succeeded", Seen(3, 30_000), Seen(4, 41_000), False),  # more than the tally
    ("keep_it_all", "succeeded", Seen(3, 30_000), Seen(3, 29_000), True),  # as many, but less money
    ("keep_it_all", "succeeded", Seen(3, 30_000), Seen(2, 35_000), True),  # more money, one missing
    ("keep_it_all", "succeeded", Seen(0, 0), Seen(0, 0), False),  # nothing charged, nothing awaited
    ("keep_it_all", "succeeded", None, Seen(0, 0), False),  # an older event without tally: as before
    ("keep_it_all", "failed", Seen(3, 30_000), Seen(2, 20_000), False),  # a failure ends at once
    ("keep_it_all", "canceled", Seen(3, 30_000), Seen(0, 0), False),
    ("all_or_nothing", "succeeded", Seen(3, 30_000), Seen(0, 0), False),  # its charges: `charging`
]


@pytest.mark.parametrize(("model", "verb", "tally", "recorded", "waits"), WAITS)
def test_a_keep_it_all_success_waits_while_payments_are_short_of_the_tally(
    model: str, verb: str, tally: Seen | None, recorded: Seen, waits: bool
) -> None:
    assert waits_for_payments(model, verb, tally, recorded) is waits


def test_the_tally_is_read_from_the_snapshot_and_a_malformed_one_is_refused() -> None:
    assert closing_tally({"closing": _closing(2, 15_000)}) == Seen(2, 15_000)
    assert closing_tally({}) is None and closing_tally({"closing": None}) is None
    assert closing_tally({"closing": {"tally": None}}) is None
    for bad in ({"tally": {}}, {"tally": {"succeeded": {"count": 1}}}, {"tally": "x"},
                {"tally": {"succeeded": {"count": -1, "amount": 0}}},
                {"tally": {"succeeded": {"count": True, "amount": 0}}},
                {"tally": {"succeeded": {"count": 1, "amount": 1.5}}}):  # fmt: skip
        with pytest.raises(TallyError):
            closing_tally({"closing": bad})


def test_the_end_waited_for_sees_the_late_charge() -> None:
    """What the wait changes: with the late charge, min_backers is met and the goal reached."""
    rule = {"condition": "on_goal_reached", "ratio": 1, "min_backers": 3}
    early = [Contribution("p1", "b1", 6_000), Contribution("p2", "b2", 9_000)]
    late = [*early, Contribution("p3", "b3", 16_000)]
    before = end_action(rule, "keep_it_all", "succeeded", early, 30_000, 31_000, 0, 0, 20_000)
    assert before.kind == "cancel"
    after = end_action(rule, "keep_it_all", "succeeded", late, 30_000, 31_000, 0, 0, 20_000)
    assert (after.kind, after.amount) == ("release", 20_000)


def test_a_closing_commitment_still_holds_its_maximum_in_the_pool() -> None:
    commitments = [{"status": "closing", "max_amount": 1_000, "given": 200},
                   {"status": "canceled", "max_amount": 5_000, "given": 300}]  # fmt: skip
    assert pool_usage(commitments) == 1_000 + 300


# Through the service: payment and campaign events on the bus, in the racing order.


async def _setup(svc) -> tuple[str, str]:
    slug = await svc.city()
    await svc.appoint(slug, "usr_claire", "manager")
    await svc.trial(slug)
    body = {"name": f"Pool {uuid.uuid4().hex[:6]}", "year": 2027, "budget": 1_000_000, "currency": "EUR"}
    headers = {**svc.who("usr_claire"), "Idempotency-Key": f"pool-{uuid.uuid4().hex}"}
    r = await svc.http.post(f"/municipalities/{slug}/pools", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return slug, r.json()["id"]


async def _granted(svc, slug: str, pool: str, rule: dict[str, Any], **campaign: Any) -> tuple[str, str]:
    cid = await svc.campaign("usr_amina", slug, **campaign)
    await svc.known("campaigns", {"_id": cid})
    r = await svc.http.post("/labels", json={"campaign_id": cid}, headers=svc.who("usr_amina"))
    assert r.status_code == 201, r.text
    headers = {**svc.who("usr_claire"), "Idempotency-Key": f"grant-{cid}"}
    r = await svc.http.post(
        f"/labels/{r.json()['id']}/grant", json={"match": {"pool_id": pool, **rule}}, headers=headers
    )
    assert r.status_code == 200, r.text
    return cid, r.json()["commitment_ids"][0]


def _payment(cid: str, backer: str, amount: int) -> dict[str, Any]:
    pid = f"pay_{uuid.uuid4().hex[:8]}"
    return {"payment_id": pid, "pledge_id": f"plg_{pid}", "campaign_id": cid, "backer_id": backer,
            "amount": amount, "currency": "EUR"}  # fmt: skip


async def _doc(svc, commitment_id: str) -> dict[str, Any]:
    return await svc.ctx.mongo.db.commitments.find_one({"_id": commitment_id}) or {}


def _of(matches: list, key: str, commitment_id: str) -> list[dict[str, Any]]:
    data = (json.loads(m.body)["data"] for m in matches if m.routing_key == key)
    return [d for d in data if d["commitment_id"] == commitment_id]


async def test_an_instant_match_waits_for_the_late_payment_and_ends_once(svc) -> None:
    slug, pool = await _setup(svc)
    _, matches = await tap(svc.ctx.bus, "match.*")
    rule = {"condition": "instant", "ratio": 1, "cap_per_contribution": 10_000, "cap_per_project": 300_000}
    cid, c_id = await _granted(svc, slug, pool, rule)
    for backer, amount in (("b1", 5_000), ("b2", 7_000)):
        await svc.publish("payment.succeeded", cid, _payment(cid, backer, amount), source="payments")
    await eventually(lambda: _given(svc, c_id, 12_000), timeout=15)

    # campaigns counted three payments (20,000); the third has not reached endorsements yet.
    await svc.campaign("usr_amina", slug, verb="succeeded", campaign_id=cid, version=4, raised=20_000,
                       closing=_closing(3, 20_000))  # fmt: skip
    await eventually(lambda: _status(svc, c_id, "closing"), timeout=15)
    shown = (await svc.http.get(f"/commitments/{c_id}")).json()
    assert shown["status"] == "closing" and shown["closing_tally"] == {"count": 3, "amount": 20_000}
    page = (await svc.http.get(f"/campaigns/{cid}/labels")).json()
    assert page["commitments"][0]["status"] == "closing"
    pools = (await svc.http.get(f"/municipalities/{slug}/pools", headers=svc.who("usr_claire"))).json()
    assert pools["items"][0]["committed"] == 300_000  # still open: it holds its maximum
    city = (await svc.http.get(f"/municipalities/{slug}/page")).json()
    assert city["totals"]["match_funds_pending"] == {"EUR": 288_000}
    # A redelivered end changes nothing while it waits.
    data = {"campaign_id": cid, "owner_id": "usr_amina", "title": "Street workout park", "status": "succeeded",
            "municipality": slug, "goal": 1_200_000, "currency": "EUR", "funding_model": "keep_it_all",
            "version": 4, "raised": 20_000, "closing": _closing(3, 20_000)}  # fmt: skip
    await _handled(svc, await svc.publish("campaign.succeeded", cid, data))
    assert await _status(svc, c_id, "closing")
    assert not _of(matches, "match.canceled", c_id) and not _of(matches, "match.due", c_id)

    late = _payment(cid, "b3", 8_000)
    event = new_event("payments", "payment.succeeded", late["payment_id"], late)
    await svc.ctx.bus.publish(event)
    await svc.ctx.bus.publish(event)  # redelivered: the inbox drops it
    again = await svc.publish("payment.succeeded", late["payment_id"], late, source="payments")  # new id
    await eventually(lambda: _status(svc, c_id, "canceled"), timeout=15)
    assert await _given(svc, c_id, 20_000)  # the late payment was matched before the end
    await _handled(svc, event.id)
    await _handled(svc, again)
    other = _payment(cid, "b4", 1_000)  # charged after the deadline: not in the tally, not matched
    await _handled(svc, await svc.publish("payment.succeeded", other["payment_id"], other, source="payments"))
    await eventually(lambda: bool(_of(matches, "match.due", c_id)), timeout=15)
    assert sorted(a["amount"] for a in _of(matches, "match.applied", c_id)) == [5_000, 7_000, 8_000]
    (canceled,) = _of(matches, "match.canceled", c_id)
    assert canceled["amount"] == 20_000 and canceled["returned_to_pool"] == 280_000
    assert [d["amount"] for d in _of(matches, "match.due", c_id)] == [20_000]
    assert await _given(svc, c_id, 20_000)
    shown = (await svc.http.get(f"/commitments/{c_id}")).json()
    assert shown["status"] == "canceled" and shown["closing_tally"] is None


async def test_a_conditional_release_waits_for_the_late_charge(svc) -> None:
    """on_goal_reached with at least three backers: the third backer's payment arrives after
    campaign.succeeded; without the wait the rule's minimum would not be met."""
    slug, pool = await _setup(svc)
    _, matches = await tap(svc.ctx.bus, "match.*")
    rule = {"condition": "on_goal_reached", "ratio": 1, "cap_per_project": 20_000, "min_backers": 3}
    cid, c_id = await _granted(svc, slug, pool, rule, goal=30_000)
    for backer, amount in (("b1", 6_000), ("b2", 9_000)):
        await svc.publish("payment.succeeded", cid, _payment(cid, backer, amount), source="payments")
    await svc.known("contributions", {"campaign_id": cid, "backer_id": "b2"})
    await svc.campaign("usr_amina", slug, verb="succeeded", campaign_id=cid, version=4, goal=30_000,
                       raised=31_000, closing=_closing(3, 31_000))  # fmt: skip
    await eventually(lambda: _status(svc, c_id, "closing"), timeout=15)
    late = _payment(cid, "b3", 16_000)
    first = await svc.publish("payment.succeeded", late["payment_id"], late, source="payments")
    again = await svc.publish("payment.succeeded", late["payment_id"], late, source="payments")
    await eventually(lambda: _status(svc, c_id, "released"), timeout=15)
    await _handled(svc, first)
    await _handled(svc, again)
    assert await _given(svc, c_id, 20_000)  # 31,000 from three backers, capped by the project
    await eventually(lambda: bool(_of(matches, "match.due", c_id)), timeout=15)
    assert [d["amount"] for d in _of(matches, "match.released", c_id)] == [20_000]
    assert [d["amount"] for d in _of(matches, "match.due", c_id)] == [20_000]
    assert not _of(matches, "match.canceled", c_id)


async def test_payments_already_agreeing_or_beyond_the_tally_end_at_once(svc) -> None:
    slug, pool = await _setup(svc)
    rule = {"condition": "lump_sum_at_threshold", "ratio": 1, "lump_sum": 4_000, "threshold_percent": 90,
            "min_backers": 2}  # fmt: skip
    ended = []
    for count in (2, 1):  # the tally agrees; it counted fewer than endorsements has recorded
        cid, c_id = await _granted(svc, slug, pool, rule, goal=10_000)
        for backer, amount in (("b1", 3_000), ("b2", 2_500)):
            await svc.publish("payment.succeeded", cid, _payment(cid, backer, amount), source="payments")
        await svc.known("contributions", {"campaign_id": cid, "backer_id": "b2"})
        await svc.campaign("usr_amina", slug, verb="succeeded", campaign_id=cid, version=4, goal=10_000,
                           raised=5_500, closing=_closing(count, 5_500))  # fmt: skip
        ended.append(c_id)
    for c_id in ended:
        await eventually(lambda c_id=c_id: _status(svc, c_id, "canceled"), timeout=15)
        assert (await _doc(svc, c_id))["reason"] == "threshold not reached"


async def test_a_refund_overtaking_the_late_payment_ends_the_wait(svc) -> None:
    """The refund says the payment was made (the tally counts it, refunds not subtracted); a
    refunded payment is never matched, so its late success would change nothing."""
    slug, pool = await _setup(svc)
    rule = {"condition": "instant", "ratio": 1, "cap_per_project": 50_000}
    cid, c_id = await _granted(svc, slug, pool, rule)
    await svc.publish("payment.succeeded", cid, _payment(cid, "b1", 5_000), source="payments")
    await eventually(lambda: _given(svc, c_id, 5_000), timeout=15)
    await svc.campaign("usr_amina", slug, verb="succeeded", campaign_id=cid, version=4, raised=9_000,
                       closing=_closing(2, 9_000))  # fmt: skip
    await eventually(lambda: _status(svc, c_id, "closing"), timeout=15)
    # Taken after payments tallied (a late webhook, refunded by payments): never in the tally,
    # so it neither ends the wait though it makes the count and the sum agree, nor is matched.
    turned_away = {**_payment(cid, "b3", 4_000), "after_deadline": True}
    await _handled(svc, await svc.publish("payment.succeeded", "t", turned_away, source="payments"))
    assert await _status(svc, c_id, "closing") and await _given(svc, c_id, 5_000)
    late = _payment(cid, "b2", 4_000)
    await svc.publish("payment.refunded", late["payment_id"], late, source="payments")
    await eventually(lambda: _status(svc, c_id, "canceled"), timeout=15)
    await _handled(svc, await svc.publish("payment.succeeded", late["payment_id"], late, source="payments"))
    assert await _given(svc, c_id, 5_000)


async def _handled(svc, event_id: str) -> None:
    await svc.known("inbox", {"_id": f"endorsements.events|{event_id}"})


async def _given(svc, commitment_id: str, amount: int) -> bool:
    return int((await _doc(svc, commitment_id)).get("given", 0)) == amount


async def _status(svc, commitment_id: str, status: str) -> bool:
    return (await _doc(svc, commitment_id)).get("status") == status
