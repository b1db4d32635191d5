"""Funding totals from other services' events over the real broker: duplicated and reordered
events give exact totals, goal_reached is emitted once, bad events are parked with a reason,
labels follow the cities' label events, and a call's selected proposal is launched live."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from campaigns.store import recompute_totals
from servicekit.events import Event
from servicekit.testing.helpers import eventually, get_all, tap


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
        return all(latest["totals"][k] == v for k, v in expected.items())

    try:
        await eventually(check, timeout=20)
    except AssertionError:
        raise AssertionError(f"totals {latest.get('totals')} never became {expected}") from None
    return latest


async def _same_as_from_scratch(svc, campaign_id: str) -> None:
    """The incrementally kept totals equal the totals derived again from every record."""
    derived = await svc.ctx.mongo.transact(lambda tx: recompute_totals(tx, campaign_id))
    stored = (await svc.get(campaign_id))["totals"]
    assert {key: stored[key] for key in derived} == derived


async def test_all_or_nothing_pledges_duplicated_and_reordered_give_exact_totals(svc) -> None:
    assert svc.ctx.bus is not None
    _, goal_events = await tap(svc.ctx.bus, "campaign.goal_reached")
    campaign = await svc.live(svc.user(), funding_model="all_or_nothing", goal=10_000)
    b1, b2, b3 = svc.user(), svc.user(), svc.user()
    p = [f"plg_{uuid.uuid4().hex[:8]}" for _ in range(3)]
    events = [
        ("pledge.authorized", {**_money(campaign, b1, 3_000), "pledge_id": p[0]}),
        ("pledge.authorized", {**_money(campaign, b2, 4_000), "pledge_id": p[1]}),
        ("pledge.authorized", {**_money(campaign, b3, 2_500), "pledge_id": p[2]}),
        # b2 withdrew; the release may come before the authorisation it cancels.
        ("pledge.released", {**_money(campaign, b2, 4_000), "pledge_id": p[1], "reason": "withdrawn"}),
    ]
    random.Random(7).shuffle(events)
    for routing_key, data in events:
        sent = await svc.publish(routing_key, data)
        await svc.ctx.bus.publish(sent)  # the same event id again: a broker redelivery
        await svc.publish(routing_key, data)  # the same fact with a new event id: a producer retry
    final = await _totals_become(svc, campaign["id"], {"pledged": 5_500, "raised": 0, "backers_count": 2})
    assert final["goal_reached"] is False

    # The deadline passes; payments charges the pledges (the same payment reported twice).
    for pledge_id, backer, amount in ((p[0], b1, 3_000), (p[2], b3, 2_500)):
        data = {**_money(campaign, backer, amount), "pledge_id": pledge_id, "payment_id": f"pay_{pledge_id}"}
        await svc.publish("payment.succeeded", data)
        await svc.publish("payment.succeeded", data)
    await _totals_become(svc, campaign["id"], {"pledged": 0, "raised": 5_500, "backers_count": 2})
    await _same_as_from_scratch(svc, campaign["id"])
    # Never more than 9 500 of 10 000 at any moment, whatever the order: no goal_reached.
    assert not [m for m in goal_events if json.loads(m.body)["subject"] == campaign["id"]]


async def test_refunds_and_goal_reached_emitted_once(svc) -> None:
    assert svc.ctx.bus is not None
    _, goal_events = await tap(svc.ctx.bus, "campaign.goal_reached")
    campaign = await svc.live(svc.user(), goal=10_000)
    backer = svc.user()
    refund = {
        **_money(campaign, backer, 2_000),
        "pledge_id": "plg_r1",
        "payment_id": "pay_r1",
        "refund_id": "re_1",
    }
    # The refund overtakes the payment it refunds.
    await svc.publish("payment.refunded", refund)
    await _totals_become(svc, campaign["id"], {"raised": 0})
    for i, amount in enumerate((6_000, 4_000, 2_000)):
        data = {
            **_money(campaign, backer, amount),
            "pledge_id": f"plg_r{i + 1}",
            "payment_id": f"pay_r{i + 1}",
        }
        await svc.publish("payment.succeeded", data)
        await svc.publish("payment.succeeded", data)
    await svc.publish("payment.refunded", refund)  # duplicate refund, new event id
    final = await _totals_become(svc, campaign["id"], {"raised": 10_000, "backers_count": 1})
    assert final["goal_reached"] is True

    def reached() -> list[Event]:
        return [
            Event.from_json(m.body) for m in goal_events if json.loads(m.body)["subject"] == campaign["id"]
        ]

    await eventually(lambda: len(reached()) == 1)
    assert reached()[0].data["raised"] == 10_000
    # More money after the goal: no second goal_reached.
    await svc.publish(
        "payment.succeeded", {**_money(campaign, backer, 500), "pledge_id": "plg_x", "payment_id": "pay_x"}
    )
    await _totals_become(svc, campaign["id"], {"raised": 10_500})
    await _same_as_from_scratch(svc, campaign["id"])
    assert len(reached()) == 1


async def test_match_funding_counts_by_the_commitments_rule(svc) -> None:
    campaign = await svc.live(svc.user(), goal=20_000)
    base = {"campaign_id": campaign["id"], "municipality": "montreuil", "currency": "EUR"}
    instant = {
        **base,
        "commitment_id": "cmt_instant",
        "rule": {"condition": "instant", "ratio": 1},
        "max_amount": 5_000,
        "counts_toward_goal": True,
    }
    later = {
        **base,
        "commitment_id": "cmt_goal",
        "rule": {"condition": "on_goal_reached", "ratio": 1},
        "max_amount": 3_000,
        "counts_toward_goal": False,
    }
    # Applications before the commitment itself arrives; one application delivered twice.
    a1 = {**instant, "application_id": "app_1", "amount": 1_500}
    a2 = {**instant, "application_id": "app_2", "amount": 2_000}
    await svc.publish("match.applied", a1)
    await svc.publish("match.applied", a1)
    await svc.publish("match.committed", instant)
    await svc.publish("match.applied", a2)
    await svc.publish("match.committed", later)
    await _totals_become(
        svc, campaign["id"], {"matched": 3_500, "matched_counted": 3_500, "match_promised": 8_000}
    )
    await svc.publish("match.released", {**later, "amount": 3_000})
    await _totals_become(svc, campaign["id"], {"matched": 6_500, "matched_counted": 3_500})
    # The instant commitment ends: 3 000 stays given; a late application changes nothing.
    await svc.publish("match.canceled", {**instant, "amount": 3_000, "reason": "pool empty"})
    await svc.publish("match.applied", {**instant, "application_id": "app_3", "amount": 900})
    final = await _totals_become(svc, campaign["id"], {"matched": 6_000, "matched_counted": 3_000})
    await _same_as_from_scratch(svc, campaign["id"])
    assert final["totals"]["raised"] == 0


async def test_labels_follow_label_events_and_a_revocation_is_final(svc) -> None:
    campaign = await svc.live(svc.user())
    grant = {
        "label_id": "end_1",
        "campaign_id": campaign["id"],
        "municipality": "montreuil",
        "status": "granted",
        "support": [{"kind": "land", "description": "a plot in Bel-Air"}],
    }
    await svc.publish("label.granted", grant)

    async def labels() -> list[str]:
        return (await svc.get(campaign["id"]))["labelled_by"]

    async def labelled() -> bool:
        return await labels() == ["montreuil"]

    await eventually(labelled)
    detail = await svc.get(campaign["id"])
    assert detail["labels"][0]["support"][0]["kind"] == "land"
    listed = await svc.client.get("/campaigns", params={"labelled_by": "montreuil"})
    assert campaign["id"] in [c["id"] for c in listed.json()["items"]]

    await svc.publish("label.revoked", {**grant, "status": "revoked", "reason": "project changed"})
    await svc.publish("label.granted", grant)  # a late duplicate of the grant

    async def unlabelled() -> bool:
        return await labels() == []

    await eventually(unlabelled)


async def test_the_old_endorsement_events_change_nothing(svc) -> None:
    """endorsement.* comes beside each label.* for one release: only the label.* one counts."""
    campaign = await svc.live(svc.user())
    old = {
        "endorsement_id": "end_old",
        "campaign_id": campaign["id"],
        "municipality": "bagnolet",
        "status": "granted",
    }
    await svc.publish("endorsement.granted", old)
    new = {
        "label_id": "lbl_new",
        "campaign_id": campaign["id"],
        "municipality": "montreuil",
        "status": "granted",
    }
    await svc.publish("label.granted", new)

    async def labelled() -> bool:
        return (await svc.get(campaign["id"]))["labelled_by"] == ["montreuil"]

    await eventually(labelled)
    detail = await svc.get(campaign["id"])
    assert [(lb["label_id"], lb["endorsement_id"]) for lb in detail["labels"]] == [("lbl_new", "lbl_new")]


async def test_bad_events_are_parked_with_a_reason(svc) -> None:
    campaign = await svc.live(svc.user(), currency="EUR")
    await svc.publish(
        "payment.succeeded",
        {**_money(campaign, "b", 100), "currency": "USD", "pledge_id": "plg_usd", "payment_id": "pay_usd"},
    )
    await svc.publish(
        "pledge.authorized",
        {"campaign_id": "cmp_nope", "backer_id": "b", "amount": 1, "currency": "EUR", "pledge_id": "plg_n"},
    )
    assert svc.ctx.bus is not None and svc.ctx.bus.channel is not None
    dead_queue = svc.ctx.settings.ns("campaigns.funding.dead")
    parked: list = []

    async def both_parked() -> bool:
        parked.extend(await get_all(svc.ctx.bus.channel, dead_queue))
        return len(parked) >= 2

    await eventually(both_parked, timeout=20)
    assert {m.headers["x-parked-reason"] for m in parked} == {"rejected_by_handler"}
    text = " ".join(str(m.headers["x-error"]) for m in parked)
    assert "currency USD" in text
    assert "unknown campaign cmp_nope" in text
    assert (await svc.get(campaign["id"]))["totals"]["raised"] == 0


async def test_selected_proposal_goes_live_labelled_with_the_award_as_match(svc) -> None:
    assert svc.ctx.bus is not None
    _, published = await tap(svc.ctx.bus, "campaign.published")
    proposer = svc.user()
    selected = {
        "call_id": "call_green_2027",
        "proposal_id": f"prp_{uuid.uuid4().hex[:8]}",
        "municipality": "montreuil",
        "proposer_id": proposer,
        "title": "Shared garden on rue de Paris",
        "summary": "Raised beds for the neighbourhood",
        "award": 4_000,
        "goal": 12_000,
        "currency": "EUR",
        "commitment_id": "cmt_award_1",
        "endorsement_id": "end_award_1",
        "category": "environment",
    }
    event = await svc.publish("call.proposal_selected", selected)
    await svc.ctx.bus.publish(event)  # redelivered
    await svc.publish("call.proposal_selected", selected)  # re-sent by the producer

    def mine() -> list[Event]:
        events = [Event.from_json(m.body) for m in published]
        return [e for e in events if e.data.get("owner_id") == proposer]

    await eventually(lambda: len(mine()) >= 1, timeout=20)
    cid = mine()[0].data["campaign_id"]
    assert mine()[0].data["call_id"] == "call_green_2027"
    campaign = await _totals_become(svc, cid, {"matched": 4_000, "matched_counted": 4_000})
    assert campaign["status"] == "live"
    assert campaign["labelled_by"] == ["montreuil"]
    assert campaign["owner_id"] == proposer and campaign["goal"] == 12_000
    # Endorsements later confirms the same commitment: no double count.
    await svc.publish(
        "match.committed",
        {
            "commitment_id": "cmt_award_1",
            "campaign_id": cid,
            "municipality": "montreuil",
            "currency": "EUR",
            "rule": {"condition": "lump_sum_at_threshold", "ratio": 1},
            "max_amount": 4_000,
            "counts_toward_goal": True,
        },
    )
    await svc.publish(
        "match.released",
        {"commitment_id": "cmt_award_1", "campaign_id": cid, "amount": 4_000, "currency": "EUR"},
    )
    await _totals_become(svc, cid, {"matched": 4_000, "match_promised": 4_000})
    assert len(mine()) == 1


async def test_selected_proposal_launches_the_owners_existing_draft(svc) -> None:
    owner = svc.user()
    draft = await svc.draft(owner, call_id="call_sport_2027", goal=9_000)
    deadline = "2099-01-01T00:00:00Z"  # far beyond the bounds: clamped to 90 days
    await svc.publish(
        "call.proposal_selected",
        {
            "call_id": "call_sport_2027",
            "proposal_id": f"prp_{draft['id']}",
            "campaign_id": draft["id"],
            "municipality": "montreuil",
            "proposer_id": owner,
            "title": draft["title"],
            "award": 3_000,
            "currency": "EUR",
            "deadline": deadline,
        },
    )

    async def live() -> bool:
        return (await svc.get(draft["id"], owner))["status"] == "live"

    await eventually(live, timeout=20)
    campaign = await _totals_become(svc, draft["id"], {"matched_counted": 3_000})
    assert campaign["labelled_by"] == ["montreuil"]
    assert campaign["goal"] == 9_000 and campaign["call_id"] == "call_sport_2027"
    starts = datetime.fromisoformat(campaign["starts_at"])
    assert datetime.fromisoformat(campaign["deadline"]) - starts <= timedelta(days=90, seconds=1)
