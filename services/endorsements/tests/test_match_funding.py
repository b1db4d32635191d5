"""Match funding from city pools, applied from payment and campaign events: idempotent,
order-tolerant, never overdrawing a pool, never taking back an instant match."""

from __future__ import annotations

import json
import uuid

from servicekit.events import new_event
from servicekit.testing.helpers import eventually, get_all, tap


async def _labelled_campaign(svc, slug: str, owner: str, **campaign: object) -> tuple[str, str]:
    cid = await svc.campaign(owner, slug, **campaign)
    await svc.known("campaigns", {"_id": cid})
    r = await svc.http.post("/labels", json={"campaign_id": cid}, headers=svc.who(owner))
    assert r.status_code == 201, r.text
    return cid, r.json()["id"]


async def _pool(svc, slug: str, budget: int, name: str = "Budget participatif 2027") -> str:
    body = {"name": name, "year": 2027, "budget": budget, "currency": "EUR"}
    r = await svc.http.post(f"/municipalities/{slug}/pools", json=body, headers=svc.who("usr_claire"))
    # Missing Idempotency-Key: servicekit's one rule for the header (was 400 idempotency_key_required).
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    headers = {
        **svc.who("usr_claire"),
        "Idempotency-Key": "pool-" + name.replace(" ", "-"),
    }  # printable, no spaces
    first = await svc.http.post(f"/municipalities/{slug}/pools", json=body, headers=headers)
    again = await svc.http.post(f"/municipalities/{slug}/pools", json=body, headers=headers)
    assert first.status_code == 201 and again.json()["id"] == first.json()["id"]  # a retry creates nothing
    return first.json()["id"]


def _payment(cid: str, backer: str, amount: int, pid: str | None = None) -> dict:
    pid = pid or f"pay_{uuid.uuid4().hex[:8]}"
    return {"payment_id": pid, "pledge_id": f"plg_{pid}", "campaign_id": cid, "backer_id": backer,
            "amount": amount, "currency": "EUR"}  # fmt: skip


async def _setup(svc) -> str:
    slug = await svc.city()
    await svc.appoint(slug, "usr_claire", "manager")
    await svc.appoint(slug, "usr_yusuf", "reviewer")
    await svc.trial(slug)
    return slug


async def test_instant_match_first_come_first_served_and_never_taken_back(svc) -> None:
    slug = await _setup(svc)
    pool = await _pool(svc, slug, 1_000_000)
    _, matches = await tap(svc.ctx.bus, "match.*")
    _, public = await tap(svc.ctx.bus, f"{slug}.match.*", exchange="public")
    cid, lid = await _labelled_campaign(svc, slug, "usr_amina")
    match = {"pool_id": pool, "condition": "instant", "ratio": 1, "cap_per_contribution": 10_000,
             "cap_per_project": 300_000, "max_contributions_per_backer": 1}  # fmt: skip
    grant = {"support": [{"kind": "land", "description": "Plot", "address": "Rue de Rosny"}], "match": match}
    # A reviewer labels but cannot commit money; money needs an Idempotency-Key.
    r = await svc.http.post(
        f"/labels/{lid}/grant", json=grant, headers={**svc.who("usr_yusuf"), "Idempotency-Key": "grant-g1"}
    )
    assert r.status_code == 403
    r = await svc.http.post(f"/labels/{lid}/grant", json=grant, headers=svc.who("usr_claire"))
    assert r.status_code == 422  # servicekit's header rule (was 400)
    headers = {**svc.who("usr_claire"), "Idempotency-Key": "grant-001"}
    r = await svc.http.post(f"/labels/{lid}/grant", json=grant, headers=headers)
    assert r.status_code == 200, r.text
    (commitment_id,) = r.json()["commitment_ids"]
    retry = await svc.http.post(f"/labels/{lid}/grant", json=grant, headers=headers)
    assert retry.status_code == 200 and retry.json() == r.json()  # the first answer, not a 409
    other = {**grant, "note": "another request"}
    reused = await svc.http.post(f"/labels/{lid}/grant", json=other, headers=headers)
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"

    p1 = _payment(cid, "usr_lucas", 5_000)
    event = new_event("payments", "payment.succeeded", p1["payment_id"], p1)
    await svc.ctx.bus.publish(event)
    await svc.ctx.bus.publish(event)  # redelivery: deduped by the inbox
    # The same payment re-announced under a new event id: deduped by the application record.
    await svc.publish("payment.succeeded", p1["payment_id"], p1, source="payments")
    await svc.publish(
        "payment.succeeded", "x", _payment(cid, "usr_lucas", 7_000), source="payments"
    )  # 2nd by lucas
    await svc.publish(
        "payment.succeeded", "y", _payment(cid, "usr_sofia", 25_000), source="payments"
    )  # capped
    # A refund overtaking its payment: the late success is never matched.
    early = _payment(cid, "usr_nadia", 9_000)
    await svc.publish("payment.refunded", early["payment_id"], early, source="payments")
    await svc.known("contributions", {"_id": early["payment_id"]})
    await svc.publish("payment.succeeded", early["payment_id"], early, source="payments")
    db = svc.ctx.mongo.db
    await svc.known("contributions", {"_id": early["payment_id"], "succeeded": True})
    await eventually(lambda: _given(db, commitment_id, 15_000), timeout=15)
    # A refund never takes back what the instant match gave.
    await svc.publish("payment.refunded", p1["payment_id"], p1, source="payments")
    await svc.known("contributions", {"_id": p1["payment_id"], "refunded": True})
    r = await svc.http.get(f"/commitments/{commitment_id}")
    assert r.json()["given"] == 15_000 and r.json()["status"] == "active"

    await eventually(lambda: sum(m.routing_key == "match.applied" for m in matches) == 2)
    applied = [json.loads(m.body)["data"] for m in matches if m.routing_key == "match.applied"]
    assert sorted(a["amount"] for a in applied) == [5_000, 10_000]
    assert all(a["counts_toward_goal"] is True and a["rule"]["condition"] == "instant" for a in applied)
    await eventually(lambda: sum(m.routing_key == f"{slug}.match.applied" for m in public) == 2)

    # The campaign page shows the commitment; the pool shows what is reserved and given.
    page = (await svc.http.get(f"/campaigns/{cid}/labels")).json()
    assert page["commitments"][0]["given"] == 15_000
    pools = (await svc.http.get(f"/municipalities/{slug}/pools", headers=svc.who("usr_claire"))).json()[
        "items"
    ]
    assert pools[0]["committed"] == 300_000 and pools[0]["available"] == 700_000

    # keep_it_all campaign ends: the unused remainder returns to the pool, the given stays.
    await svc.campaign("usr_amina", slug, verb="succeeded", campaign_id=cid, version=5)
    await eventually(lambda: _status(db, commitment_id, "canceled"), timeout=15)
    await eventually(lambda: any(m.routing_key == "match.canceled" for m in matches))
    canceled = next(json.loads(m.body)["data"] for m in matches if m.routing_key == "match.canceled")
    assert canceled["amount"] == 15_000 and canceled["returned_to_pool"] == 285_000
    await eventually(lambda: any(m.routing_key == "match.due" for m in matches))
    due = [json.loads(m.body)["data"] for m in matches if m.routing_key == "match.due"]
    assert [(d["commitment_id"], d["amount"]) for d in due] == [(commitment_id, 15_000)]
    pools = (await svc.http.get(f"/municipalities/{slug}/pools", headers=svc.who("usr_claire"))).json()[
        "items"
    ]
    assert pools[0]["committed"] == 15_000 and pools[0]["given"] == 15_000
    city = (await svc.http.get(f"/municipalities/{slug}/page")).json()
    assert city["totals"]["match_funds_given"] == {"EUR": 15_000}
    assert city["labelled_campaigns"][0]["campaign"]["id"] == cid


async def test_a_commitment_that_would_overdraw_the_pool_is_refused(svc) -> None:
    slug = await _setup(svc)
    pool = await _pool(svc, slug, 50_000, name="Small pool")
    _, lid = await _labelled_campaign(svc, slug, "usr_amina")
    headers = {**svc.who("usr_claire"), "Idempotency-Key": "grant-over"}
    too_much = {
        "match": {"pool_id": pool, "condition": "on_goal_reached", "ratio": 1, "cap_per_project": 60_000}
    }
    r = await svc.http.post(f"/labels/{lid}/grant", json=too_much, headers=headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "pool_budget_exceeded"
    # Nothing half-written: the label is still requested and can be granted within budget.
    assert (await svc.http.get(f"/labels/{lid}", headers=svc.who("usr_claire"))).json()[
        "status"
    ] == "requested"
    ok = {"match": {"pool_id": pool, "condition": "on_goal_reached", "ratio": 2, "cap_per_project": 50_000}}
    r = await svc.http.post(
        f"/labels/{lid}/grant", json=ok, headers={**headers, "Idempotency-Key": "grant-ok"}
    )
    assert r.status_code == 200, r.text
    # The pool is now fully committed: another commitment is refused.
    _, lid2 = await _labelled_campaign(svc, slug, "usr_lucas")
    r = await svc.http.post(f"/labels/{lid2}/grant", json={}, headers=svc.who("usr_claire"))
    assert r.status_code == 200
    more = {"pool_id": pool, "condition": "instant", "ratio": 1, "cap_per_project": 1}
    r = await svc.http.post(
        f"/labels/{lid2}/commitments", json=more, headers={**headers, "Idempotency-Key": "commit-c2"}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "pool_budget_exceeded"
    bad_rule = {"pool_id": pool, "condition": "lump_sum_at_threshold", "ratio": 1}
    r = await svc.http.post(
        f"/labels/{lid2}/commitments", json=bad_rule, headers={**headers, "Idempotency-Key": "commit-c3"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_match_rule"


async def test_conditional_matches_released_or_canceled_by_campaign_outcome(svc) -> None:
    slug = await _setup(svc)
    pool = await _pool(svc, slug, 1_000_000)
    _, matches = await tap(svc.ctx.bus, "match.*")
    headers = {**svc.who("usr_claire")}
    db = svc.ctx.mongo.db

    async def grant(lid: str, rule: dict, key: str) -> str:
        r = await svc.http.post(f"/labels/{lid}/grant", json={"match": {"pool_id": pool, **rule}},
                                headers={**headers, "Idempotency-Key": key})  # fmt: skip
        assert r.status_code == 200, r.text
        return r.json()["commitment_ids"][0]

    # on_goal_reached, 1:1 up to 20,000, at most one contribution per backer, >= 2 backers.
    won, lid = await _labelled_campaign(svc, slug, "usr_amina", goal=30_000)
    c_won = await grant(lid, {"condition": "on_goal_reached", "ratio": 1, "cap_per_project": 20_000,
                              "max_contributions_per_backer": 1, "min_backers": 2}, "grant-k1")  # fmt: skip
    # lump sum once 50 % of the goal is raised by 2 backers.
    lump, lid = await _labelled_campaign(svc, slug, "usr_amina", goal=10_000)
    c_lump = await grant(lid, {"condition": "lump_sum_at_threshold", "ratio": 1, "lump_sum": 4_000,
                               "threshold_percent": 50, "min_backers": 2}, "grant-k2")  # fmt: skip
    lost, lid = await _labelled_campaign(svc, slug, "usr_amina")
    c_lost = await grant(
        lid, {"condition": "on_goal_reached", "ratio": 1, "cap_per_project": 9_000}, "grant-k3"
    )
    # keep_it_all "succeeds" with anything raised: below its goal, on_goal_reached pays nothing.
    short, lid = await _labelled_campaign(svc, slug, "usr_amina", goal=30_000)
    c_short = await grant(
        lid, {"condition": "on_goal_reached", "ratio": 1, "cap_per_project": 20_000}, "grant-k4"
    )

    for cid, backer, amount in [(won, "b1", 6_000), (won, "b1", 4_000), (won, "b2", 9_000), (won, "b3", 12_000),
                                (lump, "b1", 3_000), (lump, "b2", 2_500), (lost, "b1", 1_000),
                                (short, "b1", 6_000), (short, "b2", 9_000), (short, "b3", 4_000)]:  # fmt: skip
        await svc.publish("payment.succeeded", cid, _payment(cid, backer, amount), source="payments")
    await eventually(lambda: _status(db, c_lump, "released"), timeout=15)
    assert await _given(db, c_won, 0)  # nothing before the goal is reached

    await svc.campaign("usr_amina", slug, verb="succeeded", campaign_id=won, version=3, goal=30_000,
                       raised=31_000)  # fmt: skip
    await svc.campaign("usr_amina", slug, verb="failed", campaign_id=lost, version=3)
    await svc.campaign("usr_amina", slug, verb="succeeded", campaign_id=short, version=3, goal=30_000,
                       raised=19_000)  # fmt: skip
    # A stale redelivery of an older campaign event changes nothing.
    await svc.campaign("usr_amina", slug, verb="published", campaign_id=won, version=1, goal=30_000)
    await eventually(lambda: _status(db, c_won, "released"), timeout=15)
    await eventually(lambda: _status(db, c_lost, "canceled"), timeout=15)
    await eventually(lambda: _status(db, c_short, "canceled"), timeout=15)
    assert (await db.campaigns.find_one({"_id": won}))["status"] == "succeeded"
    # b1's second contribution is not matched: 6,000 + 9,000 + 12,000, capped at 20,000.
    assert await _given(db, c_won, 20_000)
    assert await _given(db, c_short, 0)

    def by_key(key: str) -> dict[str, dict]:
        return {
            d["commitment_id"]: d
            for d in (json.loads(m.body)["data"] for m in matches if m.routing_key == key)
        }

    await eventually(lambda: len(by_key("match.released")) == 2 and c_lost in by_key("match.canceled"))
    released = by_key("match.released")
    assert released[c_won]["amount"] == 20_000 and released[c_lump]["amount"] == 4_000
    assert released[c_lump]["counts_toward_goal"] is True
    canceled = by_key("match.canceled")[c_lost]
    assert canceled["amount"] == 0 and canceled["returned_to_pool"] == 9_000  # nothing was given
    await eventually(lambda: c_short in by_key("match.canceled"))
    assert by_key("match.canceled")[c_short]["reason"] == "goal not reached by the deadline"
    # What the city now owes for good, once per commitment; nothing for what gave nothing.
    await eventually(lambda: {c_won, c_lump} <= set(by_key("match.due")))
    due = by_key("match.due")
    assert due[c_won]["amount"] == 20_000 and due[c_lump]["amount"] == 4_000
    assert c_lost not in due and c_short not in due
    committed = by_key("match.committed")
    assert committed[c_won]["counts_toward_goal"] is False  # on_goal_reached does not count before release


async def _given(db, commitment_id: str, amount: int) -> bool:
    doc = await db.commitments.find_one({"_id": commitment_id})
    return doc is not None and int(doc.get("given", 0)) == amount


async def _status(db, commitment_id: str, status: str) -> bool:
    doc = await db.commitments.find_one({"_id": commitment_id})
    return doc is not None and doc["status"] == status


async def test_an_impossible_payment_event_is_parked_with_its_reason(svc) -> None:
    slug = await _setup(svc)
    cid = await svc.campaign("usr_amina", slug)
    other = await svc.campaign("usr_amina", slug)
    await svc.known("campaigns", {"_id": other})
    pay = _payment(cid, "usr_lucas", 1_000)
    await svc.publish("payment.succeeded", pay["payment_id"], pay, source="payments")
    await svc.known("contributions", {"_id": pay["payment_id"]})
    # The same payment id claimed for another campaign cannot be right: parked, not retried.
    await svc.publish("payment.refunded", pay["payment_id"], {**pay, "campaign_id": other}, source="payments")
    dead = svc.ctx.settings.ns("endorsements.events.dead")
    parked: list = []

    async def arrived() -> bool:
        parked.extend(await get_all(svc.ctx.bus.channel, dead))
        return bool(parked)

    await eventually(arrived, timeout=15)
    assert parked[0].headers["x-parked-reason"] == "rejected_by_handler"
    assert "was recorded for campaign" in str(parked[0].headers["x-error"])
    doc = await svc.ctx.mongo.db.contributions.find_one({"_id": pay["payment_id"]})
    assert doc["campaign_id"] == cid and not bool(doc["refunded"])


async def test_all_or_nothing_matches_follow_the_charges_and_are_due_when_completed(svc) -> None:
    slug = await _setup(svc)
    pool = await _pool(svc, slug, 1_000_000, name="Pool AoN")
    _, matches = await tap(svc.ctx.bus, "match.*")
    db = svc.ctx.mongo.db
    cid, lid = await _labelled_campaign(svc, slug, "usr_amina", goal=30_000, funding_model="all_or_nothing")
    headers = {**svc.who("usr_claire"), "Idempotency-Key": "grant-aon"}
    rule = {"pool_id": pool, "condition": "on_goal_reached", "ratio": 1, "cap_per_project": 20_000,
            "max_contributions_per_backer": 1, "min_backers": 2}  # fmt: skip
    r = await svc.http.post(f"/labels/{lid}/grant", json={"match": rule}, headers=headers)
    assert r.status_code == 200, r.text
    (c_id,) = r.json()["commitment_ids"]
    common = {"goal": 30_000, "funding_model": "all_or_nothing"}
    await svc.campaign(
        "usr_amina", slug, verb="succeeded", campaign_id=cid, version=3, pledged=31_000, **common
    )
    await eventually(lambda: _charging(db, c_id), timeout=15)
    # The pledges are charged after success: the rule applies to the money actually charged.
    await svc.publish("payment.succeeded", "a", _payment(cid, "b1", 6_000), source="payments")
    await svc.known("contributions", {"campaign_id": cid, "backer_id": "b1"})
    assert await _given(db, c_id, 0)  # one backer charged: below min_backers
    await svc.publish("payment.succeeded", "b", _payment(cid, "b1", 4_000), source="payments")
    await svc.publish("payment.succeeded", "c", _payment(cid, "b2", 9_000), source="payments")
    await eventually(lambda: _given(db, c_id, 15_000), timeout=15)
    assert not any(m.routing_key == "match.due" for m in matches)  # not final before completion
    await svc.campaign("usr_amina", slug, verb="completed", campaign_id=cid, version=5, **common)
    await eventually(lambda: _status(db, c_id, "released"), timeout=15)
    await eventually(lambda: any(m.routing_key == "match.due" for m in matches))
    due = [json.loads(m.body)["data"] for m in matches if m.routing_key == "match.due"]
    assert [(d["commitment_id"], d["amount"]) for d in due] == [(c_id, 15_000)]
    released = [json.loads(m.body)["data"]["amount"] for m in matches if m.routing_key == "match.released"]
    assert max(released) == 15_000


async def _charging(db, commitment_id: str) -> bool:
    doc = await db.commitments.find_one({"_id": commitment_id})
    return doc is not None and bool(doc.get("charging"))


async def test_all_or_nothing_goal_reached_with_the_pledged_instant_match_is_charged_not_canceled(
    svc,
) -> None:
    """campaigns counts what an instant match would give the authorised pledges toward an
    all-or-nothing goal (`match_pledged`, carried by the snapshot): a campaign that succeeded
    thanks to it goes on to the charges here; without it the same totals fall short."""
    slug = await _setup(svc)
    pool = await _pool(svc, slug, 1_000_000, name="Pool pledged match")
    db = svc.ctx.mongo.db
    rule = {"pool_id": pool, "condition": "instant", "ratio": 0.5, "cap_per_project": 10_000}
    commitments = []
    for key in ("with", "without"):
        cid, lid = await _labelled_campaign(
            svc, slug, "usr_amina", goal=30_000, funding_model="all_or_nothing"
        )
        headers = {**svc.who("usr_claire"), "Idempotency-Key": f"grant-pledged-{key}-{cid}"}
        r = await svc.http.post(f"/labels/{lid}/grant", json={"match": rule}, headers=headers)
        assert r.status_code == 200, r.text
        commitments.append((cid, r.json()["commitment_ids"][0]))
    common = {"goal": 30_000, "funding_model": "all_or_nothing", "pledged": 20_000, "version": 3}
    (with_cid, with_c), (without_cid, without_c) = commitments
    await svc.campaign(
        "usr_amina", slug, verb="succeeded", campaign_id=with_cid, match_pledged=10_000, **common
    )
    await svc.campaign("usr_amina", slug, verb="succeeded", campaign_id=without_cid, **common)
    await eventually(lambda: _charging(db, with_c), timeout=15)
    await eventually(lambda: _status(db, without_c, "canceled"), timeout=15)
    assert await _status(db, with_c, "active")
