"""Milestone releases against the real local Stripe (localstripe with Connect), which signs and
delivers its own transfer.* webhooks: a labelled project's second tranche released by the
labelling city's confirmation, an unlabelled one's after its objection window, and one held by a
backer's objection. Other services' events (campaign.*, label.granted, campaign.update_posted)
are put on the bus the way campaigns and endorsements publish them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import stripe

from payments.settings import Settings
from servicekit.testing.helpers import eventually

SECRET_KEY = "sk_test_civicfund_tests"


def idem() -> dict[str, str]:
    return {"Idempotency-Key": f"idem-{uuid.uuid4().hex}"}


def stripe_fee(amount: int) -> int:
    return 25 + (amount * 150 + 5_000) // 10_000  # the local Stripe's EEA card pricing


async def live_campaign(payments: Any, owner: str) -> str:
    campaign_id = f"cmp_{uuid.uuid4().hex}"
    await payments.publish(
        "campaign.published",
        campaign_id,
        payments.campaign_data(campaign_id, owner, "live", "keep_it_all", 3),
    )
    await eventually(lambda: payments.store.campaign(campaign_id), timeout=10)
    return campaign_id


async def end(payments: Any, campaign_id: str, owner: str) -> None:
    data = payments.campaign_data(campaign_id, owner, "succeeded", "keep_it_all", 4)
    await payments.publish("campaign.succeeded", campaign_id, data)


async def backer_pays(payments: Any, campaign_id: str, amount: int) -> dict[str, str]:
    backer = payments.auth(f"usr_{uuid.uuid4().hex[:8]}")
    body = {"campaign_id": campaign_id, "amount": amount, "currency": "EUR", "tip": 0}
    async with payments.client() as client:
        created = await client.post("/pledges", json=body, headers={**backer, **idem()})
    assert created.status_code == 201, created.text
    paid = await payments.checkout(created.json(), payments.good_card, backer)
    assert paid["status"] == "succeeded", paid
    return dict(backer)


async def onboard(payments: Any, holder: dict[str, str]) -> str:
    async with payments.client() as client:
        started = await client.post("/payouts/account/onboarding", json={}, headers={**holder, **idem()})
    assert started.status_code == 200, started.text
    link = started.json()
    async with httpx.AsyncClient(timeout=10) as browser:
        done = await browser.post(link["url"], data={"decision": "complete"})
        assert done.status_code == 303

    async def ready() -> bool:
        async with payments.client() as client:
            return bool((await client.get("/payouts/account", headers=holder)).json()["status"] == "ready")

    await eventually(ready, timeout=30, interval=0.2)
    return str(link["account"]["stripe_account_id"])


async def payouts(
    payments: Any, campaign_id: str, holder: dict[str, str], count: int
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def listed() -> bool:
        async with payments.client() as client:
            items = (await client.get(f"/campaigns/{campaign_id}/payouts", headers=holder)).json()["items"]
        found[:] = items
        return len(items) == count

    await eventually(listed, timeout=30, interval=0.2)
    return found


async def status_of(payments: Any, payout_id: str, who: dict[str, str], status: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def reached() -> bool:
        async with payments.client() as client:
            found.update((await client.get(f"/payouts/{payout_id}", headers=who)).json())
        return bool(found["status"] == status)

    await eventually(reached, timeout=40, interval=0.2)
    return found


async def test_a_labelled_projects_second_tranche_is_released_by_the_citys_confirmation(
    payments_hearing_localstripe: Any,
) -> None:
    payments = payments_hearing_localstripe
    owner = f"usr_holder_{uuid.uuid4().hex[:6]}"
    holder, admin = payments.auth(owner), payments.auth("usr_admin", roles=["admin"])
    official = payments.auth("usr_claire", municipalities={"montreuil": "reviewer"})
    elsewhere = payments.auth("usr_nadia", municipalities={"bagnolet": "manager"})
    campaign_id = await live_campaign(payments, owner)
    await payments.publish("label.granted", "lbl_1", {
        "label_id": f"lbl_{uuid.uuid4().hex[:8]}", "campaign_id": campaign_id, "municipality": "montreuil",
        "status": "granted",
    })  # fmt: skip

    async with payments.client() as client:
        url = f"/campaigns/{campaign_id}/payout-plan"
        default = await client.get(url, headers=holder)
        assert default.status_code == 200 and default.json()["tranches"] == [{"percent": 100, "title": None}]
        bad = await client.put(url, json={"tranches": [{"percent": 50}, {"percent": 40, "title": "Roof"}]},
                               headers={**holder, **idem()})  # fmt: skip
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "plan_invalid"
        untitled = await client.put(url, json={"tranches": [{"percent": 50}, {"percent": 50}]},
                                    headers={**holder, **idem()})  # fmt: skip
        assert untitled.status_code == 422 and untitled.json()["error"]["code"] == "plan_invalid"
        other = await client.put(url, json={"tranches": [{"percent": 100}]},
                                 headers={**payments.auth("usr_someone"), **idem()})  # fmt: skip
        assert other.status_code == 404
        key = idem()
        plan = {
            "tranches": [{"percent": 50, "title": "ignored"}, {"percent": 50, "title": "Workshop opened"}]
        }
        put = await client.put(url, json=plan, headers={**holder, **key})
        assert put.status_code == 200, put.text
        assert put.json()["tranches"] == [
            {"percent": 50, "title": None},
            {"percent": 50, "title": "Workshop opened"},
        ]
        assert (await client.put(url, json=plan, headers={**holder, **key})).status_code == 200  # replay

    await backer_pays(payments, campaign_id, 2_001)
    account_id = await onboard(payments, holder)
    await end(payments, campaign_id, owner)
    first, second = await payouts(payments, campaign_id, holder, 2)
    net = 2_001 - stripe_fee(2_001)
    assert first["amount"] == net // 2 and second["amount"] == net - net // 2
    assert [first["sequence"], second["sequence"]] == [1, 2] and second["stripe_fees"] == 0

    async with payments.client() as client:
        approved = await client.post(f"/payouts/{first['id']}/approve", headers={**admin, **idem()})
        assert approved.status_code == 200, approved.text
        waits = await client.post(f"/payouts/{second['id']}/approve", headers={**admin, **idem()})
        assert waits.status_code == 409 and waits.json()["error"]["code"] == "milestone_pending"
        locked = await client.put(f"/campaigns/{campaign_id}/payout-plan", json={"tranches": [{"percent": 100}]},
                                  headers={**holder, **idem()})  # fmt: skip
        assert locked.status_code == 409 and locked.json()["error"]["code"] == "plan_locked"
        early = await client.post(f"/payouts/{second['id']}/confirm", headers={**official, **idem()})
        assert early.status_code == 409 and early.json()["error"]["code"] == "milestone_state_conflict"
        empty = await client.post(
            f"/payouts/{second['id']}/milestone-proof", json={}, headers={**holder, **idem()}
        )
        assert empty.status_code == 422
        unknown = await client.post(f"/payouts/{second['id']}/milestone-proof", json={"update_id": "upd_nope"},
                                    headers={**holder, **idem()})  # fmt: skip
        assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_update"

    update_id = f"upd_{uuid.uuid4().hex[:8]}"
    await payments.publish("campaign.update_posted", campaign_id, {
        "campaign_id": campaign_id, "update_id": update_id, "owner_id": owner, "title": "The workshop is open",
    })  # fmt: skip
    async with payments.client() as client:
        # The update reaches payments on its own queue: the holder may have to try again.
        answers: list[httpx.Response] = []

        async def proved() -> bool:
            r = await client.post(
                f"/payouts/{second['id']}/milestone-proof",
                json={"update_id": update_id},
                headers={**holder, **idem()},
            )
            answers.append(r)
            return r.status_code == 200

        await eventually(proved, timeout=10, interval=0.2)
        proof = answers[-1]
        assert proof.json()["status"] == "awaiting_city"
        assert (
            proof.json()["confirming_cities"] == ["montreuil"]
            and proof.json()["proof_update_id"] == update_id
        )
        wrong_city = await client.post(f"/payouts/{second['id']}/confirm", headers={**elsewhere, **idem()})
        assert wrong_city.status_code == 403 and wrong_city.json()["error"]["code"] == "forbidden"
        key = idem()
        confirmed = await client.post(f"/payouts/{second['id']}/confirm", headers={**official, **key})
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["status"] == "released"
        replay = await client.post(f"/payouts/{second['id']}/confirm", headers={**official, **key})
        assert replay.status_code == 200 and replay.json()["status"] == "released"
        twice = await client.post(f"/payouts/{second['id']}/confirm", headers={**official, **idem()})
        assert twice.status_code == 409
        approved = await client.post(f"/payouts/{second['id']}/approve", headers={**admin, **idem()})
        assert approved.status_code == 200, approved.text

    paid = [await status_of(payments, p["id"], holder, "paid") for p in (first, second)]
    sdk = stripe.StripeClient(
        SECRET_KEY, base_addresses={"api": payments.browser.base}, http_client=stripe.HTTPXClient()
    )
    transfers = (await sdk.v1.transfers.list_async(params={"transfer_group": f"campaign_{campaign_id}"})).data
    assert sorted(t.amount for t in transfers) == sorted(p["amount"] for p in paid)
    assert all(t.destination == account_id for t in transfers) and sum(t.amount for t in transfers) == net
    async with payments.client() as client:
        totals = (await client.get(f"/campaigns/{campaign_id}/ledger", headers=holder)).json()["totals"]
    assert totals["paid_out"] == net and totals["payout_owed"] == 0


async def test_an_unlabelled_tranche_is_released_after_the_window_and_one_is_held_by_an_objection(
    payments_hearing_localstripe: Any,
) -> None:
    payments = payments_hearing_localstripe
    # The backers' window, 7 days by default, made short for this test.
    payments.ctx.get(Settings).milestone_objection_window_s = 2.0
    owner = f"usr_holder_{uuid.uuid4().hex[:6]}"
    holder, admin = payments.auth(owner), payments.auth("usr_admin", roles=["admin"])
    quiet_id = await live_campaign(payments, owner)
    contested_id = await live_campaign(payments, owner)
    await backer_pays(payments, quiet_id, 3_000)
    backer = await backer_pays(payments, contested_id, 4_000)
    await onboard(payments, holder)
    await end(payments, quiet_id, owner)
    await end(payments, contested_id, owner)
    # The plan set after the first payout was made (still pending): it is split at once.
    [single] = await payouts(payments, quiet_id, holder, 1)
    plan = {"tranches": [{"percent": 60}, {"percent": 40, "title": "Benches installed"}]}
    async with payments.client() as client:
        for cid in (quiet_id, contested_id):
            if cid == contested_id:
                await payouts(payments, cid, holder, 1)
            r = await client.put(f"/campaigns/{cid}/payout-plan", json=plan, headers={**holder, **idem()})
            assert r.status_code == 200, r.text
    q1, q2 = await payouts(payments, quiet_id, holder, 2)
    _c1, c2 = await payouts(payments, contested_id, holder, 2)
    quiet_net = 3_000 - stripe_fee(3_000)
    assert q1["id"] == single["id"] and q1["amount"] == quiet_net * 60 // 100
    assert q1["amount"] + q2["amount"] == quiet_net

    async with payments.client() as client:
        proof = {"urls": ["https://example.org/benches.jpg"]}
        for tranche in (q2, c2):
            r = await client.post(
                f"/payouts/{tranche['id']}/milestone-proof", json=proof, headers={**holder, **idem()}
            )
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "objection_window" and r.json()["window_ends_at"] is not None
        public = (await client.get(f"/campaigns/{contested_id}/milestones")).json()["items"]
        assert [m["payout"]["id"] for m in public] == [c2["id"]]
        # Only the campaign's backers object, with a reason.
        stranger = payments.auth(f"usr_{uuid.uuid4().hex[:8]}")
        reason = {"reason": "The benches are not there, I walked past today."}
        no = await client.post(f"/payouts/{c2['id']}/objections", json=reason, headers={**stranger, **idem()})
        assert no.status_code == 403 and no.json()["error"]["code"] == "not_a_backer"
        short = await client.post(
            f"/payouts/{c2['id']}/objections", json={"reason": "no"}, headers={**backer, **idem()}
        )
        assert short.status_code == 422
        objected = await client.post(
            f"/payouts/{c2['id']}/objections", json=reason, headers={**backer, **idem()}
        )
        assert objected.status_code == 201, objected.text
        assert objected.json()["status"] == "objected" and objected.json()["objections"] == 1
        again = await client.post(
            f"/payouts/{c2['id']}/objections", json=reason, headers={**backer, **idem()}
        )
        assert again.status_code == 409 and again.json()["error"]["code"] == "already_objected"
        seen = (await client.get(f"/payouts/{c2['id']}/objections", headers=holder)).json()["items"]
        assert [o["reason"] for o in seen] == [reason["reason"]] and seen[0]["backer_id"] is None

    # The quiet one's window ends without objection: the payments job releases it.
    async def released() -> bool:
        async with payments.client() as client:
            items = (await client.get("/milestones", params={"status": "released"}, headers=admin)).json()[
                "items"
            ]
        return q2["id"] in [m["payout"]["id"] for m in items]

    await eventually(released, timeout=20, interval=0.3)
    async with payments.client() as client:
        queue = (await client.get("/milestones", params={"status": "objected"}, headers=admin)).json()[
            "items"
        ]
        assert c2["id"] in [m["payout"]["id"] for m in queue]
        held = await client.post(f"/payouts/{c2['id']}/approve", headers={**admin, **idem()})
        assert held.status_code == 409 and held.json()["error"]["code"] == "milestone_pending"
        by_holder = await client.post(f"/payouts/{c2['id']}/milestone-decision", json={"decision": "hold"},
                                      headers={**holder, **idem()})  # fmt: skip
        assert by_holder.status_code == 403
        decided = await client.post(f"/payouts/{c2['id']}/milestone-decision",
                                    json={"decision": "hold", "note": "the benches are missing"},
                                    headers={**admin, **idem()})  # fmt: skip
        assert decided.status_code == 200 and decided.json()["status"] == "held"
        still = await client.post(f"/payouts/{c2['id']}/approve", headers={**admin, **idem()})
        assert still.status_code == 409 and still.json()["error"]["code"] == "milestone_pending"
        for p in (q1, q2):
            r = await client.post(f"/payouts/{p['id']}/approve", headers={**admin, **idem()})
            assert r.status_code == 200, r.text
    for p in (q1, q2):
        await status_of(payments, p["id"], holder, "paid")


async def test_a_match_paid_after_the_split_follows_the_plans_last_milestone(
    payments_hearing_localstripe: Any,
) -> None:
    """The city's match, paid by bank transfer after the campaign's release was split into two
    tranches, is a third payout that waits, like the second tranche, for the milestone."""
    payments = payments_hearing_localstripe
    owner = f"usr_holder_{uuid.uuid4().hex[:6]}"
    holder, admin = payments.auth(owner), payments.auth("usr_admin", roles=["citizen", "admin"])
    city = f"ville-{uuid.uuid4().hex[:8]}"
    official = payments.auth("usr_claire", municipalities={city: "manager"})
    campaign_id = await live_campaign(payments, owner)
    await payments.publish("label.granted", "lbl_m", {
        "label_id": f"lbl_{uuid.uuid4().hex[:8]}", "campaign_id": campaign_id, "municipality": city,
        "status": "granted",
    })  # fmt: skip
    plan = {"tranches": [{"percent": 50}, {"percent": 50, "title": "Workshop opened"}]}
    async with payments.client() as client:
        put = await client.put(
            f"/campaigns/{campaign_id}/payout-plan", json=plan, headers={**holder, **idem()}
        )
        assert put.status_code == 200, put.text
    await backer_pays(payments, campaign_id, 3_000)
    due_id = f"mc_{uuid.uuid4().hex[:8]}"
    match = {"commitment_id": due_id, "campaign_id": campaign_id, "municipality": city,
             "pool_id": "pool_1", "currency": "EUR", "max_amount": 2_000, "amount": 2_000,
             "rule": {"condition": "on_goal_reached", "ratio": 1}}  # fmt: skip
    await payments.publish("match.due", due_id, match)
    await end(payments, campaign_id, owner)
    first, second = await payouts(payments, campaign_id, holder, 2)
    assert first["match"] == 0 and second["match"] == 0  # due, not received

    async with payments.client() as client:
        for path, who in (("transfer-declaration", official), ("transfer-confirmation", admin)):
            body = {"reference": "VIR-2027-0200"} if who is official else None
            r = await client.post(f"/city-dues/{due_id}/{path}", json=body, headers={**who, **idem()})
            assert r.status_code == 200, r.text
    *_, third = await payouts(payments, campaign_id, holder, 3)
    assert (third["sequence"], third["amount"], third["match"], third["follows_plan"]) == (
        3,
        2_000,
        2_000,
        True,
    )

    async with payments.client() as client:
        waits = await client.post(f"/payouts/{third['id']}/approve", headers={**admin, **idem()})
        assert waits.status_code == 409 and waits.json()["error"]["code"] == "milestone_pending"
        proof = {"urls": ["https://example.org/workshop-opened"]}
        proved = await client.post(f"/payouts/{second['id']}/milestone-proof", json=proof,
                                   headers={**holder, **idem()})  # fmt: skip
        assert proved.status_code == 200 and proved.json()["status"] == "awaiting_city", proved.text
        confirmed = await client.post(f"/payouts/{second['id']}/confirm", headers={**official, **idem()})
        assert confirmed.status_code == 200 and confirmed.json()["status"] == "released", confirmed.text
        approved = await client.post(f"/payouts/{third['id']}/approve", headers={**admin, **idem()})
        assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
