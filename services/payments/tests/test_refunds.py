"""Admins' refunds after success and disputes, against the real local Stripe (localstripe with
devstack's Connect and disputes extensions), which signs and delivers its own webhooks
(`charge.dispute.*`, `transfer.*`) to payments. A dispute is opened and closed through the
local Stripe's test-only routes (on Stripe, the backer's bank does it)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from servicekit.testing.helpers import eventually, tap


def idem() -> dict[str, str]:
    return {"Idempotency-Key": f"idem-{uuid.uuid4().hex}"}


async def campaign(payments: Any, owner: str) -> str:
    campaign_id = f"cmp_{uuid.uuid4().hex}"
    data = payments.campaign_data(campaign_id, owner, "live", "keep_it_all", version=3)
    await payments.publish("campaign.published", campaign_id, data)
    await eventually(lambda: payments.store.campaign(campaign_id), timeout=10)
    return campaign_id


async def paid_pledge(payments: Any, campaign_id: str, amount: int, tip: int) -> dict[str, Any]:
    backer = payments.auth(f"usr_{uuid.uuid4().hex[:8]}")
    body = {"campaign_id": campaign_id, "amount": amount, "currency": "EUR", "tip": tip}
    async with payments.client() as client:
        created = await client.post("/pledges", json=body, headers={**backer, **idem()})
    assert created.status_code == 201, created.text
    paid = await payments.checkout(created.json(), payments.good_card, backer)
    assert paid["status"] == "succeeded", paid
    return paid


async def charge_of(payments: Any, pledge: dict[str, Any]) -> dict[str, Any]:
    intent = await payments.browser.get(f"/v1/payment_intents/{pledge['receipt']['payment_intent_id']}")
    charge = intent["latest_charge"]
    return charge if isinstance(charge, dict) else await payments.browser.get(f"/v1/charges/{charge}")


async def ledger(payments: Any, campaign_id: str, admin: dict[str, str]) -> dict[str, Any]:
    async with payments.client() as client:
        r = await client.get(f"/campaigns/{campaign_id}/ledger", headers=admin)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def reconciled(payments: Any, campaign_id: str, admin: dict[str, str]) -> dict[str, Any]:
    async with payments.client() as client:
        r = await client.get(f"/campaigns/{campaign_id}/reconciliation", headers=admin)
    assert r.status_code == 200, r.text
    return dict(r.json())


def check_invariant(book: dict[str, Any]) -> None:
    """charged - refunded - disputed = project balance + tips, re-derived from the entries, and
    the totals the ledger reports agree (fees and payouts come out of the project's balance)."""
    entries = book["entries"]
    charged = sum(e["amount"] for e in entries if e["kind"] in ("charge", "platform_fee"))
    refunded = -sum(e["amount"] for e in entries if e["kind"] == "refund")
    disputed = -sum(e["amount"] for e in entries if e["kind"] in ("dispute_withdrawn", "dispute_reinstated"))
    project = sum(e["amount"] for e in entries if e["account"] == "project")
    tips = sum(e["amount"] for e in entries if e["account"] == "platform")
    assert charged - refunded - disputed == project + tips
    totals = book["totals"]
    assert totals["raised"] == project and totals["platform_fees"] == tips
    assert totals["charged"] - totals["refunded"] - totals["disputed"] == totals["raised"]
    assert totals["payout_owed"] == project - totals["stripe_fees"] - totals["paid_out"]


async def payouts_of(payments: Any, campaign_id: str, who: dict[str, str]) -> list[dict[str, Any]]:
    async with payments.client() as client:
        r = await client.get(f"/campaigns/{campaign_id}/payouts", headers=who)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def ended_with_payout(payments: Any, campaign_id: str, owner: str) -> dict[str, Any]:
    ended = payments.campaign_data(campaign_id, owner, "succeeded", "keep_it_all", version=4)
    await payments.publish("campaign.succeeded", campaign_id, ended)
    holder = payments.auth(owner)

    async def made() -> bool:
        return bool(await payouts_of(payments, campaign_id, holder))

    await eventually(made, timeout=30, interval=0.2)
    return (await payouts_of(payments, campaign_id, holder))[-1]


async def test_an_admin_refunds_part_then_the_rest_once_each_even_with_a_replayed_webhook(
    payments_hearing_localstripe: Any,
) -> None:
    payments = payments_hearing_localstripe
    _q, seen = await tap(payments.ctx.bus, "payment.refunded")
    admin = payments.auth("usr_admin", roles=["admin"])
    campaign_id = await campaign(payments, f"usr_holder_{uuid.uuid4().hex[:6]}")
    pledge = await paid_pledge(payments, campaign_id, 2_500, 300)
    backer_like = payments.auth(f"usr_{uuid.uuid4().hex[:8]}")
    path = f"/pledges/{pledge['id']}/refund"

    async with payments.client() as client:
        refused = await client.post(
            path, json={"amount": 500, "reason": "mine"}, headers={**backer_like, **idem()}
        )
        assert refused.status_code == 403
        no_reason = await client.post(path, json={"amount": 500}, headers={**admin, **idem()})
        assert no_reason.status_code == 422
        too_much = await client.post(
            path, json={"amount": 2_801, "reason": "too much"}, headers={**admin, **idem()}
        )
        assert too_much.status_code == 422, too_much.text
        body = too_much.json()["error"]
        assert body["code"] == "amount_out_of_range" and "2800" in body["message"]
        assert body["details"][0]["loc"] == ["body", "amount"]
        missing = await client.post(
            "/pledges/plg_unknown/refund", json={"reason": "nobody"}, headers={**admin, **idem()}
        )
        assert missing.status_code == 404

        key = idem()
        part = await client.post(
            path, json={"amount": 1_000, "reason": "Charged twice"}, headers={**admin, **key}
        )
        assert part.status_code == 200, part.text
        first = part.json()
        assert (
            first["amount"] == 1_000 and first["left_to_refund"] == 1_800 and first["status"] == "succeeded"
        )
        # The same request again (a retried click) answers the same refund: Stripe refunded once.
        again = await client.post(
            path, json={"amount": 1_000, "reason": "Charged twice"}, headers={**admin, **key}
        )
        assert again.status_code == 200 and again.json()["refund_id"] == first["refund_id"]

    await eventually(lambda: len(seen) >= 1, timeout=10)
    # Stripe's charge.refunded for it, delivered twice: nothing more is journaled.
    charge = await charge_of(payments, pledge)
    for _ in range(2):
        delivery = payments.stripe_event("charge.refunded", {**charge, "amount_refunded": 1_000})
        assert (await payments.webhook(delivery)).status_code == 200

    async def processed() -> bool:
        events = await payments.store.db.stripe_events.find({"object_id": charge["id"]}).to_list()
        return len(events) == 2 and all(e["status"] == "processed" for e in events)

    await eventually(processed, timeout=15, interval=0.2)
    book = await ledger(payments, campaign_id, admin)
    refunds = [e for e in book["entries"] if e["kind"] == "refund"]
    assert [(e["account"], e["amount"], e["stripe_ref"]) for e in refunds] == [
        ("project", -1_000, first["refund_id"])
    ]
    assert len(seen) == 1
    event = json.loads(seen[0].body)["data"]
    assert event["amount"] == 1_000 and event["reason"] == "Charged twice"

    async with payments.client() as client:
        rest = await client.post(path, json={"reason": "The backer moved away"}, headers={**admin, **idem()})
        assert rest.status_code == 200, rest.text
        assert rest.json()["amount"] == 1_800 and rest.json()["status"] == "refunded"
        assert rest.json()["left_to_refund"] == 0
        done = await client.post(path, json={"reason": "once more"}, headers={**admin, **idem()})
        assert done.status_code == 409 and done.json()["error"]["code"] == "not_refundable"
    stripe_refunds = await payments.browser.get(
        "/v1/refunds", payment_intent=pledge["receipt"]["payment_intent_id"]
    )
    assert sorted(r["amount"] for r in stripe_refunds["data"]) == [1_000, 1_800]
    book = await ledger(payments, campaign_id, admin)
    assert book["totals"]["refunded"] == 2_500 and book["totals"]["raised"] == 0
    assert book["totals"]["platform_fees"] == 0
    check_invariant(book)
    report = await reconciled(payments, campaign_id, admin)
    assert report["ok"] is True and report["differences"] == []


async def test_a_dispute_holds_the_payout_and_a_won_one_gives_the_money_back(
    payments_hearing_localstripe: Any,
) -> None:
    payments = payments_hearing_localstripe
    admin = payments.auth("usr_admin", roles=["admin"])
    owner = f"usr_holder_{uuid.uuid4().hex[:6]}"
    holder = payments.auth(owner)
    campaign_id = await campaign(payments, owner)
    first = await paid_pledge(payments, campaign_id, 2_500, 300)
    second = await paid_pledge(payments, campaign_id, 1_000, 0)
    payout = await ended_with_payout(payments, campaign_id, owner)
    assert payout["status"] == "pending" and payout["hold_reason"] is None

    # The first backer's bank disputes the whole charge (2 800): the money is withdrawn.
    charge = await charge_of(payments, first)
    dispute = await payments.browser.post(f"/_test/charges/{charge['id']}/dispute", reason="fraudulent")

    async def held() -> bool:
        return (await payouts_of(payments, campaign_id, holder))[-1]["hold_reason"] == "dispute_open"

    await eventually(held, timeout=20, interval=0.2)
    async with payments.client() as client:
        refused = await client.post(f"/payouts/{payout['id']}/approve", headers={**admin, **idem()})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "dispute_open"
        assert "dispute" in refused.json()["error"]["message"]
        listing = await client.get("/disputes", headers=admin)
        assert listing.status_code == 200
        mine = [d for d in listing.json()["items"] if d["id"] == dispute["id"]]
        assert mine and mine[0]["open"] is True and mine[0]["pledge_id"] == first["id"]
        assert mine[0]["amount"] == 2_800 and mine[0]["status"] == "needs_response"
        assert (await client.get("/disputes", headers=holder)).status_code == 403
        # A disputed payment is not refunded as well: the bank's decision settles it.
        twice = await client.post(
            f"/pledges/{first['id']}/refund", json={"reason": "both?"}, headers={**admin, **idem()}
        )
        assert twice.status_code == 409 and twice.json()["error"]["code"] == "disputed"
    book = await ledger(payments, campaign_id, admin)
    withdrawn = [e for e in book["entries"] if e["kind"] == "dispute_withdrawn"]
    assert sorted((e["account"], e["amount"]) for e in withdrawn) == [("platform", -300), ("project", -2_500)]
    assert book["totals"]["disputed"] == 2_500 and book["totals"]["raised"] == 1_000
    check_invariant(book)
    assert (await reconciled(payments, campaign_id, admin))["ok"] is True

    # The bank decides for the project: the money comes back and the payout may go.
    await payments.browser.post(f"/_test/disputes/{dispute['id']}/close", outcome="won")

    async def released() -> bool:
        return (await payouts_of(payments, campaign_id, holder))[-1]["hold_reason"] is None

    await eventually(released, timeout=20, interval=0.2)
    # A late copy of charge.dispute.created (Stripe delivers at least once, in any order): the
    # dispute is re-fetched (won) and nothing is journaled again.
    stale = payments.stripe_event("charge.dispute.created", {**dispute, "status": "needs_response"})
    assert (await payments.webhook(stale)).status_code == 200

    async def stale_processed() -> bool:
        events = await payments.store.db.stripe_events.find({"object_id": dispute["id"]}).to_list()
        return bool(events) and all(e["status"] == "processed" for e in events) and len(events) >= 5

    await eventually(stale_processed, timeout=15, interval=0.2)
    assert (await payouts_of(payments, campaign_id, holder))[-1]["hold_reason"] is None
    book = await ledger(payments, campaign_id, admin)
    assert book["totals"]["disputed"] == 0 and book["totals"]["raised"] == 3_500
    assert book["totals"]["platform_fees"] == 300
    assert len([e for e in book["entries"] if e["kind"] == "dispute_reinstated"]) == 2
    check_invariant(book)
    assert (await reconciled(payments, campaign_id, admin))["ok"] is True
    async with payments.client() as client:
        approved = await client.post(f"/payouts/{payout['id']}/approve", headers={**admin, **idem()})
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"  # the holder has no account yet

    # The second backer's dispute is lost: the approved payout waits while it is open, and
    # the ledger keeps the money withdrawn.
    charge = await charge_of(payments, second)
    lost = await payments.browser.post(f"/_test/charges/{charge['id']}/dispute")
    await eventually(held, timeout=20, interval=0.2)
    await payments.browser.post(f"/_test/disputes/{lost['id']}/close", outcome="lost")
    await eventually(released, timeout=20, interval=0.2)
    book = await ledger(payments, campaign_id, admin)
    assert book["totals"]["disputed"] == 1_000 and book["totals"]["raised"] == 2_500
    check_invariant(book)
    report = await reconciled(payments, campaign_id, admin)
    assert report["ok"] is True, report
    async with payments.client() as client:
        closed = await client.get("/disputes", params={"status": "all"}, headers=admin)
    statuses = {d["id"]: (d["status"], d["open"]) for d in closed.json()["items"]}
    assert statuses[dispute["id"]] == ("won", False) and statuses[lost["id"]] == ("lost", False)
    # Only the lost one reaches campaigns' totals, as a refund, once (a replayed webhook adds none).
    replay = payments.stripe_event("charge.dispute.closed", {**lost, "status": "lost"})
    assert (await payments.webhook(replay)).status_code == 200

    async def replay_processed() -> bool:
        events = await payments.store.db.stripe_events.find({"object_id": lost["id"]}).to_list()
        return any(e["_id"] == json.loads(replay)["id"] and e["status"] == "processed" for e in events)

    await eventually(replay_processed, timeout=15, interval=0.2)
    rows = await payments.store.db.outbox.find({"routing_key": "payment.refunded"}).to_list()
    refunds = [json.loads(r["body"])["data"] for r in rows]
    refunds = [d for d in refunds if d["campaign_id"] == campaign_id]
    assert [(d["refund_id"], d["reason"], d["amount"], d["tip"]) for d in refunds] == [
        (f"dispute:{lost['id']}", "dispute_lost", 1_000, 0)
    ]


async def test_an_admin_refunds_a_whole_campaign_and_its_payout_stops(
    payments_hearing_localstripe: Any,
) -> None:
    payments = payments_hearing_localstripe
    _q, seen = await tap(payments.ctx.bus, "payment.refunded")
    admin = payments.auth("usr_admin", roles=["admin"])
    owner = f"usr_holder_{uuid.uuid4().hex[:6]}"
    holder = payments.auth(owner)
    campaign_id = await campaign(payments, owner)
    pledges = [
        await paid_pledge(payments, campaign_id, 2_000, 200),
        await paid_pledge(payments, campaign_id, 700, 0),
    ]
    payout = await ended_with_payout(payments, campaign_id, owner)
    assert payout["status"] == "pending"

    path = f"/campaigns/{campaign_id}/refund-all"
    async with payments.client() as client:
        # Part of the first payment was refunded before: refund-all gives back what is left.
        part = await client.post(
            f"/pledges/{pledges[0]['id']}/refund",
            json={"amount": 500, "reason": "Late"},
            headers={**admin, **idem()},
        )
        assert part.status_code == 200, part.text
        assert (
            await client.post(path, json={"reason": "no"}, headers={**holder, **idem()})
        ).status_code == 403
        assert (await client.post(path, json={}, headers={**admin, **idem()})).status_code == 422
        key = idem()
        reason = "The city withdrew the site: the project will not happen"
        started = await client.post(path, json={"reason": reason}, headers={**admin, **key})
        assert started.status_code == 202, started.text
        assert started.json() == {
            "campaign_id": campaign_id,
            "reason": reason,
            "pledges_to_refund": 2,
            "payouts_stopped": 1,
        }
        replay = await client.post(path, json={"reason": reason}, headers={**admin, **key})
        assert replay.json() == started.json()

    async def all_refunded() -> bool:
        docs = [await payments.store.pledge(p["id"]) for p in pledges]
        return all(d is not None and d["status"] == "refunded" for d in docs)

    await eventually(all_refunded, timeout=30, interval=0.2)
    await eventually(lambda: len(seen) >= 3, timeout=10)
    assert sorted(json.loads(m.body)["data"]["amount"] for m in seen) == [500, 700, 1_500]
    assert {json.loads(m.body)["data"]["reason"] for m in seen} == {"Late", reason}
    intent = pledges[0]["receipt"]["payment_intent_id"]
    given_back = await payments.browser.get("/v1/refunds", payment_intent=intent)
    assert sorted(r["amount"] for r in given_back["data"]) == [500, 1_700]  # never more than taken
    stopped = (await payouts_of(payments, campaign_id, holder))[-1]
    assert stopped["status"] == "failed" and stopped["failure_reason"] == "campaign_refunded"
    assert stopped["hold_reason"] == "campaign_refunded"
    async with payments.client() as client:
        retry = await client.post(f"/payouts/{payout['id']}/retry", headers={**admin, **idem()})
    assert retry.status_code == 409 and retry.json()["error"]["code"] == "campaign_refunded"
    book = await ledger(payments, campaign_id, admin)
    assert book["totals"]["raised"] == 0 and book["totals"]["platform_fees"] == 0
    assert book["totals"]["refunded"] == 2_700
    check_invariant(book)
    assert (await reconciled(payments, campaign_id, admin))["ok"] is True


async def two_pledges_paid_out(
    payments: Any,
) -> tuple[dict[str, str], str, str, dict[str, Any], dict[str, Any]]:
    """A campaign that ended with pledges of 2 500 (tip 300) and 1 000 and its payout computed:
    (admin headers, owner, campaign id, the first pledge, the pending payout)."""
    admin = payments.auth("usr_admin", roles=["admin"])
    owner = f"usr_holder_{uuid.uuid4().hex[:6]}"
    campaign_id = await campaign(payments, owner)
    first = await paid_pledge(payments, campaign_id, 2_500, 300)
    await paid_pledge(payments, campaign_id, 1_000, 0)
    return admin, owner, campaign_id, first, await ended_with_payout(payments, campaign_id, owner)


async def test_a_refund_after_the_payout_was_computed_is_taken_from_the_pending_payout(
    payments_hearing_localstripe: Any,
) -> None:
    """Without the cut the holder would be paid the 1 000 given back to the backer as well."""
    payments = payments_hearing_localstripe
    admin, owner, campaign_id, first, payout = await two_pledges_paid_out(payments)
    fees = payout["stripe_fees"]
    assert payout["status"] == "pending" and payout["amount"] == 3_500 - fees

    async with payments.client() as client:
        r = await client.post(
            f"/pledges/{first['id']}/refund", json={"amount": 1_000, "reason": "gave twice"},
            headers={**admin, **idem()},
        )  # fmt: skip
        assert r.status_code == 200, r.text
    (cut,) = await payouts_of(payments, campaign_id, payments.auth(owner))
    assert (cut["id"], cut["amount"], cut["raised"], cut["stripe_fees"]) == (
        payout["id"],
        2_500 - fees,
        2_500,
        fees,
    )
    book = await ledger(payments, campaign_id, admin)
    check_invariant(book)
    assert book["totals"]["raised"] == 2_500 and book["totals"]["payout_owed"] == cut["amount"]


async def test_a_dashboard_refund_after_the_payout_was_computed_is_taken_from_it_too(
    payments_hearing_localstripe: Any,
) -> None:
    """The cut is made where every refund is journaled, so a refund made in the Stripe dashboard
    (reaching payments as charge.refunded) cuts the pending payout like an admin's."""
    payments = payments_hearing_localstripe
    admin, owner, campaign_id, first, payout = await two_pledges_paid_out(payments)
    fees = payout["stripe_fees"]

    await payments.browser.post(
        "/v1/refunds", payment_intent=first["receipt"]["payment_intent_id"], amount="1000"
    )
    charge = await charge_of(payments, first)
    delivery = payments.stripe_event("charge.refunded", {**charge, "amount_refunded": 1_000})
    assert (await payments.webhook(delivery)).status_code == 200

    async def cut() -> bool:
        (now,) = await payouts_of(payments, campaign_id, payments.auth(owner))
        return now["amount"] == 2_500 - fees

    await eventually(cut, timeout=15, interval=0.2)
    book = await ledger(payments, campaign_id, admin)
    check_invariant(book)
    assert book["totals"]["raised"] == 2_500
