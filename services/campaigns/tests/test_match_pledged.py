"""The pledged match (issue 13): on an all-or-nothing campaign an instant commitment counts toward
the goal, while pledges are authorised, as what it would give them (`match_pledged`); it drops
when pledges are released and is replaced by the real match once the charges are matched."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import pytest

from campaigns import domain
from campaigns import domain_funding as funding
from campaigns.store import recompute_totals
from servicekit.testing.helpers import eventually, tap


def _pledge(pid: str, backer: str, amount: int, **state: bool) -> dict[str, Any]:
    return {"_id": pid, "backer_id": backer, "amount": amount, "authorized": True, **state}


def _instant(rule: dict[str, Any], max_amount: int = 5_000, **extra: Any) -> dict[str, Any]:
    return {
        "_id": "cmt",
        "rule": {"condition": "instant", **rule},
        "max_amount": max_amount,
        "counts_toward_goal": True,
        "applied": {},
        "canceled": False,
        **extra,
    }


ON_GOAL = {"condition": "on_goal_reached", "ratio": 1}
A3, B2 = _pledge("p1", "a", 3_000), _pledge("p2", "b", 2_000)

CASES = [
    ("1:1 within the cap", _instant({"ratio": 1}), [A3, B2], 5_000),
    ("capped by what the city committed", _instant({"ratio": 1}, 4_000), [A3, B2], 4_000),
    ("ratio floored to the cent", _instant({"ratio": 0.5}), [_pledge("p1", "a", 3_001)], 1_500),
    (
        "per-contribution cap",
        _instant({"ratio": 2, "cap_per_contribution": 1_000}),
        [A3, _pledge("p2", "b", 200)],
        1_400,
    ),
    (
        "one pledge per backer: the largest",
        _instant({"ratio": 1, "max_contributions_per_backer": 1}, 10_000),
        [_pledge("p0", "a", 1_000), A3, _pledge("p3", "b", 500)],
        3_500,
    ),
    ("minimum backers not met", _instant({"ratio": 1, "min_backers": 3}), [A3, B2], 0),
    (
        "minimum backers met",
        _instant({"ratio": 1, "min_backers": 3}, 10_000),
        [A3, B2, _pledge("p3", "c", 100)],
        5_100,
    ),
    (
        "released and charged pledges are not matched here",
        _instant({"ratio": 1}),
        [A3, _pledge("p2", "b", 2_000, released=True), _pledge("p3", "c", 900, charged=True)],
        3_000,
    ),
    (
        "a released pledge does not count toward the minimum",
        _instant({"ratio": 1, "min_backers": 2}),
        [A3, _pledge("p2", "b", 2_000, released=True)],
        0,
    ),
    ("an unauthorised pledge is nothing", _instant({"ratio": 1}), [{**A3, "authorized": False}], 0),
    (
        "only what is left once the charges were matched",
        _instant({"ratio": 1}, applied={"app_1": 4_000}),
        [A3],
        1_000,
    ),
    ("a canceled commitment", _instant({"ratio": 1}, canceled=True), [A3], 0),
    ("a match that does not count", _instant({"ratio": 1}, counts_toward_goal=False), [A3], 0),
    ("on_goal_reached waits for success", {**_instant({}), "rule": ON_GOAL}, [A3], 0),
    ("terms not known yet (application first)", {"_id": "cmt", "applied": {}, "max_amount": 0}, [A3], 0),
]


@pytest.mark.parametrize(
    ("commitment", "pledges", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_pledged_match_of_one_commitment(
    commitment: dict[str, Any], pledges: list[dict[str, Any]], expected: int
) -> None:
    assert funding.pledged_match_of(commitment, pledges) == expected
    # The order the pledges are stored in never changes it.
    assert funding.pledged_match_of(commitment, list(reversed(pledges))) == expected


def test_totals_count_the_pledged_match_of_all_or_nothing_campaigns_only() -> None:
    two = [_instant({"ratio": 1}, 1_000), {**_instant({"ratio": 0.5}, 5_000), "_id": "cmt2"}]
    pledges = [A3, B2]
    aon = funding.totals(pledges, [], [], two, funding_model="all_or_nothing")
    assert (aon["pledged"], aon["match_pledged"], aon["matched"]) == (5_000, 1_000 + 2_500, 0)
    assert funding.totals(pledges, [], [], two)["match_pledged"] == 0  # keep-it-all
    assert domain.counted_toward_goal(aon) == 8_500
    # 5 000 pledged of a 8 000 goal: the deadline succeeds only thanks to the pledged match.
    campaign = {"funding_model": "all_or_nothing", "goal": 8_000, "totals": aon}
    assert domain.closing_action(campaign) == "succeed"
    assert domain.closing_action({**campaign, "totals": {**aon, "match_pledged": 0}}) == "fail"
    assert domain.progress_bp(aon, 8_000) == 10_625


def _money(campaign: dict[str, Any], backer: str, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "campaign_id": campaign["id"],
        "backer_id": backer,
        "amount": amount,
        "currency": campaign["currency"],
        **extra,
    }


async def _totals_become(svc, campaign_id: str, expected: dict[str, int]) -> dict[str, Any]:
    latest: dict[str, Any] = {}

    async def check() -> bool:
        nonlocal latest
        latest = await svc.get(campaign_id)
        return all(latest["totals"].get(k) == v for k, v in expected.items())

    try:
        await eventually(check, timeout=20)
    except AssertionError:
        raise AssertionError(f"totals {latest.get('totals')} never became {expected}") from None
    return latest


async def _same_as_from_scratch(svc, campaign_id: str) -> None:
    derived = await svc.ctx.mongo.transact(lambda tx: recompute_totals(tx, campaign_id))
    stored = (await svc.get(campaign_id))["totals"]
    assert {key: stored[key] for key in derived} == derived


async def test_instant_match_counts_toward_an_all_or_nothing_goal_while_pledges_are_authorised(svc) -> None:
    assert svc.ctx.bus is not None
    _, goal_events = await tap(svc.ctx.bus, "campaign.goal_reached")
    campaign = await svc.live(svc.user(), funding_model="all_or_nothing", goal=10_000)
    commitment = {
        "campaign_id": campaign["id"],
        "municipality": "montreuil",
        "currency": "EUR",
        "commitment_id": f"mc_{uuid.uuid4().hex[:8]}",
        "rule": {"condition": "instant", "ratio": 0.5, "cap_per_project": 5_000},
        "max_amount": 5_000,
        "counts_toward_goal": True,
    }
    b1, b2, b3 = svc.user(), svc.user(), svc.user()
    p = {b: f"plg_{uuid.uuid4().hex[:8]}" for b in (b1, b2, b3)}
    events = [
        ("match.committed", commitment),
        ("pledge.authorized", {**_money(campaign, b1, 4_000), "pledge_id": p[b1]}),
        ("pledge.authorized", {**_money(campaign, b2, 3_500), "pledge_id": p[b2]}),
        ("pledge.authorized", {**_money(campaign, b3, 2_000), "pledge_id": p[b3]}),
        # b3 withdrew; the release may come before the authorisation it cancels.
        ("pledge.released", {**_money(campaign, b3, 2_000), "pledge_id": p[b3], "reason": "withdrawn"}),
    ]
    random.Random(13).shuffle(events)
    for routing_key, data in events:
        sent = await svc.publish(routing_key, data)
        await svc.ctx.bus.publish(sent)  # the same event id again: a broker redelivery
        await svc.publish(routing_key, data)  # the same fact with a new event id: a producer retry
    # 7 500 pledged + half of it pledged by the city: 11 250 of 10 000, the goal is reached.
    stage = await _totals_become(
        svc, campaign["id"], {"pledged": 7_500, "match_pledged": 3_750, "matched": 0, "backers_count": 2}
    )
    assert stage["goal_reached"] is True
    await _same_as_from_scratch(svc, campaign["id"])

    def reached() -> list[dict[str, Any]]:
        return [json.loads(m.body) for m in goal_events if json.loads(m.body)["subject"] == campaign["id"]]

    await eventually(lambda: len(reached()) == 1)

    # Success: payments charges the pledges and endorsements matches each charge (events twice,
    # a match before the charge it matches).
    charges = ((b1, 4_000, 2_000), (b2, 3_500, 1_750))
    for backer, amount, match in charges:
        pay = {**_money(campaign, backer, amount), "pledge_id": p[backer], "payment_id": f"pay_{p[backer]}"}
        applied = {**commitment, "application_id": f"app_{p[backer]}", "amount": match}
        for routing_key, data in (("match.applied", applied), ("payment.succeeded", pay)) * 2:
            await svc.publish(routing_key, data)
    final = await _totals_become(
        svc,
        campaign["id"],
        {"pledged": 0, "raised": 7_500, "match_pledged": 0, "matched": 3_750, "matched_counted": 3_750},
    )
    assert final["totals"]["progress_bp"] == 11_250
    await _same_as_from_scratch(svc, campaign["id"])
    assert len(reached()) == 1


async def test_released_pledges_drop_the_pledged_match(svc) -> None:
    campaign = await svc.live(svc.user(), funding_model="all_or_nothing", goal=50_000)
    commitment = {
        "campaign_id": campaign["id"],
        "municipality": "montreuil",
        "currency": "EUR",
        "commitment_id": f"mc_{uuid.uuid4().hex[:8]}",
        "rule": {"condition": "instant", "ratio": 1, "min_backers": 2, "cap_per_project": 9_000},
        "max_amount": 9_000,
        "counts_toward_goal": True,
    }
    b1, b2 = svc.user(), svc.user()
    await svc.publish("pledge.authorized", {**_money(campaign, b1, 2_000), "pledge_id": f"plg_{b1}"})
    await svc.publish("match.committed", commitment)
    await _totals_become(svc, campaign["id"], {"pledged": 2_000, "match_pledged": 0})  # one backer of 2
    await svc.publish("pledge.authorized", {**_money(campaign, b2, 3_000), "pledge_id": f"plg_{b2}"})
    await _totals_become(
        svc, campaign["id"], {"pledged": 5_000, "match_pledged": 5_000, "progress_bp": 2_000}
    )
    await svc.publish("pledge.released", {**_money(campaign, b2, 3_000), "pledge_id": f"plg_{b2}"})
    await _totals_become(svc, campaign["id"], {"pledged": 2_000, "match_pledged": 0, "progress_bp": 400})
    await _same_as_from_scratch(svc, campaign["id"])
    # The city's commitment ends (the campaign failed): nothing more is pledged by it.
    await svc.publish("pledge.authorized", {**_money(campaign, b2, 1_000), "pledge_id": f"plg2_{b2}"})
    await _totals_become(svc, campaign["id"], {"pledged": 3_000, "match_pledged": 3_000})
    await svc.publish("match.canceled", {**commitment, "amount": 0, "reason": "campaign failed"})
    await _totals_become(svc, campaign["id"], {"pledged": 3_000, "match_pledged": 0, "matched": 0})
    await _same_as_from_scratch(svc, campaign["id"])
