"""Cities pay what they committed: match events make a city's due (promised -> due), payments
bills it on the city's Stripe customer and localstripe charges it (invoice webhook -> received),
or the city declares a bank transfer and an admin confirms it; both in the ledger."""

from __future__ import annotations

import uuid
from typing import Any

from payments.subscriptions import CitySubscriptions
from servicekit.events import new_event
from servicekit.testing.helpers import eventually


def _match(slug: str, campaign_id: str, commitment_id: str, max_amount: int) -> dict[str, Any]:
    return {"commitment_id": commitment_id, "campaign_id": campaign_id, "municipality": slug, "pool_id": "pool_1",
            "currency": "EUR", "rule": {"condition": "on_goal_reached", "ratio": 1}, "max_amount": max_amount}  # fmt: skip


async def _city(payments: Any) -> str:
    slug = f"ville-{uuid.uuid4().hex[:8]}"
    await payments.publish(
        "municipality.registered", slug, {"municipality_id": f"mun_{slug}", "slug": slug, "name": "Ville"}
    )
    await eventually(lambda: payments.store.municipality(slug))
    return slug


async def _due_status(payments: Any, slug: str, due_id: str, status: str) -> bool:
    headers = payments.auth("usr_admin", roles=["citizen", "admin"])
    async with payments.client() as client:
        r = await client.get("/city-dues", params={"municipality": slug}, headers=headers)
    return any(d["id"] == due_id and d["status"] == status for d in r.json().get("items", []))


async def _kinds(payments: Any, campaign_id: str) -> list[str]:
    """The city account's entries (the match account has its own: test_ledger_matches)."""
    return sorted(e["kind"] for e in await payments.store.ledger(campaign_id) if e["account"] == "city")


async def test_a_due_is_invoiced_on_the_city_customer_and_paid(payments_hearing_localstripe: Any) -> None:
    payments = payments_hearing_localstripe
    slug = await _city(payments)
    await eventually(lambda: payments.ctx.get(CitySubscriptions).plans_ready.is_set(), timeout=15)
    manager = payments.auth("usr_manager", municipalities={slug: "manager"})
    pm = await payments.browser.payment_method(payments.good_card)
    body = {"municipality": slug, "plan": "monthly", "payment_method": pm}
    async with payments.client() as client:
        sub = await client.post(
            "/subscriptions", json=body, headers={**manager, "Idempotency-Key": f"s-{slug}"}
        )
        assert sub.status_code == 201, sub.text
    customer = (await payments.store.customer(f"municipality:{slug}"))["stripe_customer_id"]

    campaign_id, due_id = f"cmp_{uuid.uuid4().hex[:8]}", f"mc_{uuid.uuid4().hex[:8]}"
    await payments.publish("match.committed", due_id, _match(slug, campaign_id, due_id, 20_000))
    await eventually(lambda: _due_status(payments, slug, due_id, "promised"), timeout=15)
    async with payments.client() as client:
        page = (await client.get(f"/campaigns/{campaign_id}/city-matches")).json()["items"]
    assert page == [{"municipality": slug, "currency": "EUR", "status": "promised", "promised": 20_000,
                     "due": 0, "received": 0}]  # fmt: skip

    due = {**_match(slug, campaign_id, due_id, 20_000), "amount": 15_000}
    await payments.publish("match.due", due_id, due)
    await payments.publish("match.due", due_id, due)  # redelivered under a new event id
    await eventually(lambda: _due_status(payments, slug, due_id, "received"), timeout=30)
    invoices = (await payments.browser.get("/v1/invoices", customer=customer, limit=100))["data"]
    ours = [i for i in invoices if i["metadata"].get("city_due_id") == due_id]
    assert len(ours) == 1 and ours[0]["status"] == "paid" and ours[0]["amount_paid"] == 15_000
    assert await _kinds(payments, campaign_id) == ["match_due", "match_received"]
    entries = {e["kind"]: e for e in await payments.store.ledger(campaign_id)}
    assert entries["match_due"]["amount"] == 15_000 and entries["match_received"]["amount"] == -15_000
    assert entries["match_received"]["stripe_ref"] == f"invoice:{ours[0]['id']}"
    async with payments.client() as client:
        page = (await client.get(f"/campaigns/{campaign_id}/city-matches")).json()["items"]
        assert page[0]["status"] == "received" and page[0]["received"] == 15_000
        listed = (await client.get("/city-dues", params={"municipality": slug}, headers=manager)).json()
    assert listed["items"][0]["method"] == "invoice" and listed["items"][0]["invoice_id"] == ours[0]["id"]
    # localstripe's invoice webhooks arrive too: processed, nothing counted twice.
    await eventually(lambda: _webhook_seen(payments, ours[0]["id"]), timeout=15)
    assert await _kinds(payments, campaign_id) == ["match_due", "match_received"]


async def _webhook_seen(payments: Any, invoice_id: str) -> bool:
    doc = await payments.ctx.mongo.db.stripe_events.find_one({"object_id": invoice_id, "status": "processed"})
    return doc is not None


async def test_a_bank_transfer_declared_by_the_city_and_confirmed_by_an_admin(payments: Any) -> None:
    slug = await _city(payments)
    other = await _city(payments)
    campaign_id, due_id = f"cmp_{uuid.uuid4().hex[:8]}", f"mc_{uuid.uuid4().hex[:8]}"
    manager = payments.auth("usr_claire", municipalities={slug: "manager"})
    reviewer = payments.auth("usr_yusuf", municipalities={slug: "reviewer"})
    stranger = payments.auth("usr_other", municipalities={other: "manager"})
    admin = payments.auth("usr_admin", roles=["citizen", "admin"])
    data = payments.campaign_data(campaign_id, "usr_owner", "live", "keep_it_all", version=1)
    await payments.publish("campaign.published", campaign_id, {**data, "municipality": slug})
    await eventually(lambda: payments.store.campaign(campaign_id))
    # match.due before match.committed (order is not guaranteed): due all the same.
    await payments.publish("match.due", due_id, {**_match(slug, campaign_id, due_id, 9_000), "amount": 9_000})
    await payments.publish("match.committed", due_id, _match(slug, campaign_id, due_id, 9_000))
    await eventually(lambda: _due_status(payments, slug, due_id, "due"), timeout=15)
    declare = f"/city-dues/{due_id}/transfer-declaration"
    confirm = f"/city-dues/{due_id}/transfer-confirmation"
    body = {"reference": "VIR-2027-0042"}
    async with payments.client() as client:
        listed = (await client.get("/city-dues", params={"municipality": slug}, headers=reviewer)).json()
        assert [(d["id"], d["amount"], d["method"]) for d in listed["items"]] == [
            (due_id, 9_000, "bank_transfer")
        ]
        assert listed["items"][0]["campaign_title"] == "Repair café in Bel-Air"
        assert (
            await client.get("/city-dues", params={"municipality": slug}, headers=stranger)
        ).status_code == 403
        assert (await client.get("/city-dues", headers=manager)).status_code == 403  # the admin's list
        key = {"Idempotency-Key": f"decl-{due_id}"}
        # An admin cannot confirm what the city has not declared.
        early = await client.post(confirm, headers={**admin, "Idempotency-Key": "conf-early-1"})
        assert early.status_code == 409 and early.json()["error"]["code"] == "transfer_not_declared"
        for who in (reviewer, stranger):
            r = await client.post(declare, json=body, headers={**who, **key})
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        assert (await client.post(declare, json=body, headers=manager)).status_code == 422  # no key
        bad = await client.post(declare, json={"reference": "x"}, headers={**manager, **key})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
        missing = await client.post(
            "/city-dues/mc_nope/transfer-declaration", json=body, headers={**manager, **key}
        )
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "due_not_found"
        first = await client.post(declare, json=body, headers={**manager, **key})
        assert first.status_code == 200, first.text
        assert (
            first.json()["status"] == "transfer_declared"
            and first.json()["transfer_reference"] == body["reference"]
        )
        again = await client.post(declare, json=body, headers={**manager, **key})
        assert again.status_code == 200 and again.json() == first.json()  # the same answer
        other_key = await client.post(
            declare, json=body, headers={**manager, "Idempotency-Key": "decl-second-1"}
        )
        assert other_key.status_code == 409 and other_key.json()["error"]["code"] == "not_due"
        waiting = (
            await client.get("/city-dues", params={"status": "transfer_declared"}, headers=admin)
        ).json()
        assert due_id in [d["id"] for d in waiting["items"]]
        assert await _kinds(payments, campaign_id) == ["match_due"]  # declared is not received

        ckey = {"Idempotency-Key": f"conf-{due_id}"}
        assert (await client.post(confirm, headers={**manager, **ckey})).status_code == 403
        done = await client.post(confirm, headers={**admin, **ckey})
        assert done.status_code == 200 and done.json()["status"] == "received", done.text
        replay = await client.post(confirm, headers={**admin, **ckey})
        assert replay.status_code == 200 and replay.json() == done.json()
        twice = await client.post(confirm, headers={**admin, "Idempotency-Key": "conf-second-1"})
        assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_received"
        page = (await client.get(f"/campaigns/{campaign_id}/city-matches")).json()["items"]
    assert page[0]["received"] == 9_000 and page[0]["due"] == 0
    entries = {e["kind"]: e for e in await payments.store.ledger(campaign_id)}
    assert entries["match_received"]["stripe_ref"] == "transfer:VIR-2027-0042"
    async with payments.client() as client:
        owner = await client.get(f"/campaigns/{campaign_id}/ledger", headers=admin)
    totals = owner.json()["totals"]
    assert totals["match_owed_by_city"] == 0 and totals["match_received"] == 9_000  # nothing more owed


async def test_a_commitment_that_gave_nothing_is_withdrawn_and_releases_add_up(payments: Any) -> None:
    slug = await _city(payments)
    campaign_id = f"cmp_{uuid.uuid4().hex[:8]}"
    gone, grown = f"mc_{uuid.uuid4().hex[:8]}", f"mc_{uuid.uuid4().hex[:8]}"
    await payments.publish("match.committed", gone, _match(slug, campaign_id, gone, 5_000))
    await payments.publish("match.canceled", gone, {**_match(slug, campaign_id, gone, 5_000), "amount": 0})
    await eventually(lambda: _due_status(payments, slug, gone, "canceled"), timeout=15)
    # An all-or-nothing match grows with the charges: each release is the running total.
    await payments.publish("match.committed", grown, _match(slug, campaign_id, grown, 20_000))
    for total in (6_000, 15_000, 15_000, 6_000):  # a redelivery and a late older one add nothing
        await payments.publish(
            "match.released", grown, {**_match(slug, campaign_id, grown, 20_000), "amount": total}
        )

    async def released() -> int:
        return sum(
            e["amount"] for e in await payments.store.ledger(campaign_id) if e["kind"] == "match_released"
        )

    await eventually(lambda: _is(released, 15_000), timeout=15)
    async with payments.client() as client:
        page = (await client.get(f"/campaigns/{campaign_id}/city-matches")).json()["items"]
    assert [p["status"] for p in page] == ["promised"]  # the withdrawn one is not shown


async def _is(read: Any, value: int) -> bool:
    return await read() == value


async def test_a_call_award_is_due_from_its_selection(payments: Any) -> None:
    slug = await _city(payments)
    proposal, campaign_id = f"prop_{uuid.uuid4().hex[:8]}", f"cmp_{uuid.uuid4().hex[:8]}"
    selected = {"call_id": "call_1", "proposal_id": proposal, "municipality": slug, "campaign_id": campaign_id,
                "proposer_id": "usr_amina", "title": "Trees", "award": 8_000, "currency": "EUR"}  # fmt: skip
    payments.ctx.contracts.validate(new_event("endorsements", "call.proposal_selected", proposal, selected))
    await payments.publish("call.proposal_selected", proposal, selected)
    await payments.publish("call.proposal_selected", proposal, selected)  # redelivered
    await eventually(lambda: _due_status(payments, slug, f"award_{proposal}", "due"), timeout=15)
    entries = [e for e in await payments.store.ledger(campaign_id) if e["account"] == "city"]
    assert [(e["kind"], e["amount"]) for e in entries] == [("match_due", 8_000)]
