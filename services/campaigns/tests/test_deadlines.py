"""Closing at the deadline: the scheduler asks payments for its tally once (two replicas never
ask twice, a claim left by a dead replica expires), the campaign stays live and closes by the
funding model's rule once its own records agree with payments' tally (pledges.tallied), waiting
for a pledge or payment event still on its way; the closing event carries the tally."""

from __future__ import annotations

import asyncio
from collections import Counter

from campaigns.app import build
from campaigns.scheduler import DeadlineScheduler
from campaigns.settings import Settings
from campaigns.store import CampaignStore
from servicekit.events import Event
from servicekit.mongo import Tx
from servicekit.testing.helpers import eventually, tap
from servicekit.testing.server import serve


async def _funded_live(svc, funding_model: str, goal: int, pledged: int = 0, raised: int = 0) -> str:
    campaign = await svc.live(svc.user(), funding_model=funding_model, goal=goal)
    cid = campaign["id"]
    if pledged:
        await svc.publish(
            "pledge.authorized",
            {
                "campaign_id": cid,
                "backer_id": "b",
                "amount": pledged,
                "currency": "EUR",
                "pledge_id": f"p_{cid}",
            },
        )
    if raised:
        await svc.publish(
            "payment.succeeded",
            {
                "campaign_id": cid,
                "backer_id": "b",
                "amount": raised,
                "currency": "EUR",
                "pledge_id": f"q_{cid}",
                "payment_id": f"y_{cid}",
            },
        )

    async def arrived() -> bool:
        totals = (await svc.get(cid))["totals"]
        return totals["pledged"] == pledged and totals["raised"] == raised

    await eventually(arrived, timeout=20)
    return cid


def _events(messages: list, routing_key: str) -> list[Event]:
    return [e for e in (Event.from_json(m.body) for m in messages) if e.routing_key == routing_key]


async def _stored(svc, cid: str) -> dict:
    async def read(tx: Tx) -> dict:
        doc = await tx.db.campaigns.find_one({"_id": cid}, session=tx.session)
        assert doc is not None
        return doc

    assert svc.ctx.mongo is not None
    return await svc.ctx.mongo.transact(read)


async def _status_becomes(svc, cid: str, status: str) -> None:
    async def reached() -> bool:
        return (await svc.get(cid))["status"] == status

    await eventually(reached, timeout=20)


async def test_two_schedulers_ask_once_each_and_the_tally_closes_by_the_funding_rule(svc) -> None:
    assert svc.ctx.bus is not None
    _, seen = await tap(svc.ctx.bus, "campaign.*")
    # campaign id -> (tally: authorized, succeeded), expected status
    cases = {
        await _funded_live(svc, "all_or_nothing", 10_000, pledged=10_000): ((1, 10_000), (0, 0), "succeeded"),
        await _funded_live(svc, "all_or_nothing", 10_000, pledged=9_999): ((1, 9_999), (0, 0), "failed"),
        await _funded_live(svc, "keep_it_all", 10_000, raised=1_500): ((0, 0), (1, 1_500), "succeeded"),
        await _funded_live(svc, "keep_it_all", 10_000): ((0, 0), (0, 0), "failed"),
    }
    not_due = (await svc.live(svc.user()))["id"]
    for cid in cases:
        await svc.move_deadline_to_the_past(cid)
    store = svc.ctx.get(CampaignStore)
    one, two = DeadlineScheduler(store, 60, 50), DeadlineScheduler(store, 60, 50)
    asked_by_one, asked_by_two = await asyncio.gather(one.tick(), two.tick())
    assert not set(asked_by_one) & set(asked_by_two)
    assert {**asked_by_one, **asked_by_two} == dict.fromkeys(cases, "closing")
    assert await one.tick() == {} and await two.tick() == {}

    def asked() -> Counter:
        return Counter(e.subject for e in _events(seen, "campaign.deadline_passed"))

    await eventually(lambda: sum(asked().values()) >= len(cases))
    for cid in cases:
        # Still live (no new status), closing requested, nothing decided without the tally.
        assert (await svc.get(cid))["status"] == "live"
        assert (await _stored(svc, cid))["closing"]["requested_at"] is not None
    asked_for = {e.subject: e.data for e in _events(seen, "campaign.deadline_passed")}
    some = next(iter(cases))
    assert set(asked_for[some]) == {"campaign_id", "deadline", "funding_model", "currency"}
    assert asked_for[some]["funding_model"] == "all_or_nothing" and asked_for[some]["currency"] == "EUR"
    assert (await svc.get(not_due))["status"] == "live"

    for cid, (authorized, succeeded, _) in cases.items():
        await svc.tally(cid, authorized, succeeded)
    for cid, (_, _, status) in cases.items():
        await _status_becomes(svc, cid, status)

    def closing_events() -> Counter:
        return Counter(
            (e.subject, e.routing_key)
            for routing_key in ("campaign.succeeded", "campaign.failed")
            for e in _events(seen, routing_key)
        )

    await eventually(lambda: sum(closing_events().values()) >= len(cases))
    await asyncio.sleep(0.5)  # let any (wrong) duplicate arrive before counting
    assert asked() == Counter(dict.fromkeys(cases, 1))
    expected = Counter({(cid, f"campaign.{status}"): 1 for cid, (_, _, status) in cases.items()})
    assert closing_events() == expected
    for routing_key in ("campaign.succeeded", "campaign.failed"):
        for event in _events(seen, routing_key):
            authorized, succeeded, _ = cases[event.subject]
            assert event.data["closing"]["tally"] == {
                "authorized": {"count": authorized[0], "amount": authorized[1]},
                "succeeded": {"count": succeeded[0], "amount": succeeded[1]},
            }
            assert event.data["closing"]["requested_at"]


async def test_claim_is_exclusive_and_a_dead_replicas_lease_expires(svc) -> None:
    cid = await _funded_live(svc, "keep_it_all", 10_000, raised=100)
    await svc.move_deadline_to_the_past(cid)
    store = svc.ctx.get(CampaignStore)
    dead, alive = DeadlineScheduler(store, 0.5, 50), DeadlineScheduler(store, 0.5, 50)
    results = await asyncio.gather(dead.claim(cid), alive.claim(cid))
    assert sorted(results) == [False, True]
    winner, loser = (dead, alive) if results[0] else (alive, dead)
    # The winner "dies" before asking; the other cannot ask or claim while the lease runs...
    assert await loser.close(cid) is None
    assert await loser.claim(cid) is False

    async def taken_over() -> bool:
        return await loser.claim(cid)

    await eventually(taken_over, timeout=5)  # ...and takes over once it expired
    assert await loser.close(cid) == "closing"
    assert await winner.close(cid) is None  # the first claimant woke up: nothing to do
    assert cid not in await loser.due()  # asked: no longer due
    await svc.tally(cid, succeeded=(1, 100))
    await _status_becomes(svc, cid, "succeeded")


async def test_replicas_background_scheduler_asks_once_then_the_tally_closes(svc) -> None:
    """Two more replicas of the service on the same database, ticking every 0.2 s."""
    assert svc.ctx.bus is not None
    _, events = await tap(svc.ctx.bus, "campaign.*")
    cid = await _funded_live(svc, "all_or_nothing", 10_000)
    settings = svc.ctx.settings.model_copy(update={"deadline_tick_s": 0.2})
    assert isinstance(settings, Settings)
    await svc.move_deadline_to_the_past(cid)
    async with serve(build(settings)), serve(build(settings)):

        def asked() -> int:
            return sum(1 for e in _events(events, "campaign.deadline_passed") if e.subject == cid)

        await eventually(lambda: asked() >= 1, timeout=20)
        await asyncio.sleep(1)  # several more ticks of both replicas
        assert asked() == 1
        assert (await svc.get(cid))["status"] == "live"
        await svc.tally(cid)
        await _status_becomes(svc, cid, "failed")
        await eventually(lambda: any(e.subject == cid for e in _events(events, "campaign.failed")))
    assert sum(1 for e in _events(events, "campaign.failed") if e.subject == cid) == 1
    detail = await svc.get(cid)
    assert detail["status"] == "failed" and detail["allowed_actions"] == []


async def _asked(svc, cid: str) -> None:
    await svc.move_deadline_to_the_past(cid)
    scheduler = DeadlineScheduler(svc.ctx.get(CampaignStore), 60, 50)
    assert await scheduler.claim(cid)
    assert await scheduler.close(cid) == "closing"


async def test_a_tally_ahead_of_the_last_pledge_waits_for_it_then_succeeds(svc) -> None:
    """The race the handshake is for: payments accepted a pledge before the deadline whose
    pledge.authorized is still on its way when the deadline passes."""
    assert svc.ctx.bus is not None
    _, seen = await tap(svc.ctx.bus, "campaign.*")
    cid = await _funded_live(svc, "all_or_nothing", 10_000, pledged=6_000)
    await _asked(svc, cid)
    await svc.tally(cid, authorized=(2, 10_000))

    async def tally_stored() -> bool:
        return "tally" in (await _stored(svc, cid))["closing"]

    await eventually(tally_stored, timeout=20)
    await asyncio.sleep(0.5)
    assert (await svc.get(cid))["status"] == "live"  # 6,000 of 10,000: it would have failed
    await svc.publish(
        "pledge.authorized",
        {
            "campaign_id": cid,
            "backer_id": "late",
            "amount": 4_000,
            "currency": "EUR",
            "pledge_id": f"z_{cid}",
        },
    )
    await _status_becomes(svc, cid, "succeeded")
    await eventually(lambda: any(e.subject == cid for e in _events(seen, "campaign.succeeded")))
    [closed] = [e for e in _events(seen, "campaign.succeeded") if e.subject == cid]
    assert closed.data["pledged"] == 10_000
    assert closed.data["closing"]["tally"]["authorized"] == {"count": 2, "amount": 10_000}
    assert not [e for e in _events(seen, "campaign.failed") if e.subject == cid]
    # A duplicated tally changes nothing.
    await svc.tally(cid, authorized=(2, 10_000))
    await asyncio.sleep(0.5)
    assert (await svc.get(cid))["status"] == "succeeded"
    assert len([e for e in _events(seen, "campaign.succeeded") if e.subject == cid]) == 1


async def test_a_keep_it_all_payment_after_the_tally_closes_once_refunded_and_not_counted(svc) -> None:
    """payments flags a payment it learnt of after tallying (a late webhook) and refunds it:
    the campaign, with nothing raised in the tally, fails once the refund is in."""
    cid = await _funded_live(svc, "keep_it_all", 10_000)
    await _asked(svc, cid)
    late = {
        "campaign_id": cid,
        "backer_id": "b",
        "amount": 2_000,
        "currency": "EUR",
        "pledge_id": f"q_{cid}",
        "payment_id": f"y_{cid}",
    }
    # Emitted by payments after its tally, it overtakes the tally (another queue).
    await svc.publish("payment.succeeded", {**late, "after_deadline": True})

    async def raised() -> bool:
        return (await svc.get(cid))["totals"]["raised"] == 2_000

    await eventually(raised, timeout=20)
    await svc.tally(cid)

    async def tally_stored() -> bool:
        return "tally" in (await _stored(svc, cid))["closing"]

    await eventually(tally_stored, timeout=20)
    await asyncio.sleep(0.5)
    assert (await svc.get(cid))["status"] == "live"  # 2,000 raised would make it succeed
    await svc.publish("payment.refunded", {**late, "refund_id": f"re_{cid}"})
    await _status_becomes(svc, cid, "failed")


async def test_canceled_while_closing_stays_canceled_when_the_tally_arrives(svc) -> None:
    owner = svc.user()
    campaign = await svc.live(owner, funding_model="all_or_nothing", goal=10_000)
    cid = campaign["id"]
    await _asked(svc, cid)
    canceled = await svc.client.post(
        f"/campaigns/{cid}/cancel", json={"reason": "the venue fell through"}, headers=svc.auth(owner)
    )
    assert canceled.status_code == 200, canceled.text
    await svc.tally(cid)
    await asyncio.sleep(1)
    assert (await svc.get(cid))["status"] == "canceled"
