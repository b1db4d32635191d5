"""The deadline scheduler: the funding model's rule decides succeeded/failed, two replicas
never close a campaign twice, and a claim left by a dead replica expires."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from campaigns.app import build
from campaigns.scheduler import DeadlineScheduler
from campaigns.settings import Settings
from campaigns.store import CampaignStore
from servicekit.events import Event
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


async def test_two_schedulers_close_each_campaign_once_by_the_funding_rule(svc) -> None:
    assert svc.ctx.bus is not None
    _, closing = await tap(svc.ctx.bus, "campaign.*")
    cases = {
        await _funded_live(svc, "all_or_nothing", 10_000, pledged=10_000): "succeeded",
        await _funded_live(svc, "all_or_nothing", 10_000, pledged=9_999): "failed",
        await _funded_live(svc, "keep_it_all", 10_000, raised=1_500): "succeeded",
        await _funded_live(svc, "keep_it_all", 10_000): "failed",
    }
    not_due = (await svc.live(svc.user()))["id"]
    for cid in cases:
        await svc.move_deadline_to_the_past(cid)
    store = svc.ctx.get(CampaignStore)
    one, two = DeadlineScheduler(store, 60, 50), DeadlineScheduler(store, 60, 50)
    closed_by_one, closed_by_two = await asyncio.gather(one.tick(), two.tick())
    assert not set(closed_by_one) & set(closed_by_two)
    assert {**closed_by_one, **closed_by_two} == cases
    assert await one.tick() == {} and await two.tick() == {}
    for cid, status in cases.items():
        assert (await svc.get(cid))["status"] == status
    assert (await svc.get(not_due))["status"] == "live"

    def closing_events() -> Counter:
        events = [Event.from_json(m.body) for m in closing]
        return Counter(
            (e.subject, e.routing_key)
            for e in events
            if e.routing_key in ("campaign.succeeded", "campaign.failed")
        )

    await eventually(lambda: sum(closing_events().values()) >= len(cases))
    await asyncio.sleep(0.5)  # let any (wrong) duplicate arrive before counting
    assert closing_events() == Counter({(cid, f"campaign.{status}"): 1 for cid, status in cases.items()})


async def test_claim_is_exclusive_and_a_dead_replicas_lease_expires(svc) -> None:
    cid = await _funded_live(svc, "keep_it_all", 10_000, raised=100)
    await svc.move_deadline_to_the_past(cid)
    store = svc.ctx.get(CampaignStore)
    dead, alive = DeadlineScheduler(store, 0.5, 50), DeadlineScheduler(store, 0.5, 50)
    results = await asyncio.gather(dead.claim(cid), alive.claim(cid))
    assert sorted(results) == [False, True]
    winner, loser = (dead, alive) if results[0] else (alive, dead)
    # The winner "dies" before closing; the other cannot close or claim while the lease runs...
    assert await loser.close(cid) is None
    assert await loser.claim(cid) is False

    async def taken_over() -> bool:
        return await loser.claim(cid)

    await eventually(taken_over, timeout=5)  # ...and takes over once it expired
    assert await loser.close(cid) == "succeeded"
    assert await winner.close(cid) is None  # the first claimant woke up: nothing to do


async def test_replicas_background_scheduler_closes_due_campaigns(svc) -> None:
    """Two more replicas of the service on the same database, ticking every 0.2 s."""
    assert svc.ctx.bus is not None
    _, events = await tap(svc.ctx.bus, "campaign.failed")
    cid = await _funded_live(svc, "all_or_nothing", 10_000)
    settings = svc.ctx.settings.model_copy(update={"deadline_tick_s": 0.2})
    assert isinstance(settings, Settings)
    await svc.move_deadline_to_the_past(cid)
    async with serve(build(settings)), serve(build(settings)):

        async def closed() -> bool:
            return (await svc.get(cid))["status"] == "failed"

        await eventually(closed, timeout=20)
        await eventually(lambda: any(json.loads(m.body)["subject"] == cid for m in events))
        await asyncio.sleep(1)  # several more ticks of both replicas
    assert sum(1 for m in events if json.loads(m.body)["subject"] == cid) == 1
    detail = await svc.get(cid)
    assert detail["status"] == "failed" and detail["allowed_actions"] == []
