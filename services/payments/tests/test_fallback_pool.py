"""The `city_pool` choice on localstripe: offered only when the campaign's city has a pool taking
residents' gifts (pool.updated); at the failure, in the outcome's transaction, the pledge is
released and a gift written; the saved card is charged off-session once (key from the pledge),
the ledger holds it for the pool (not the campaign's money), pool.gift_received is emitted once
whatever the redeliveries; a declined card leaves the pledge released; a match due from that
pool is settled from the gifts first."""

from __future__ import annotations

import json
import uuid
from typing import Any

from payments.pool_gifts.usecases import PoolGifts
from servicekit.mongo import utcnow
from servicekit.testing.helpers import eventually, tap

DECLINED_OFF_SESSION = "4000000000000341"  # saves, then declines off-session


async def _live(payments: Any, slug: str, funding_model: str = "all_or_nothing") -> str:
    campaign_id = f"cmp_{uuid.uuid4().hex}"
    data = payments.campaign_data(campaign_id, "usr_owner_pool", "live", funding_model, 2)
    await payments.publish("campaign.published", campaign_id, {**data, "municipality": slug})
    await eventually(lambda: payments.store.campaign(campaign_id))
    return campaign_id


async def _pool(payments: Any, slug: str, accepts: bool, version: int, year: int | None = None) -> str:
    pool_id = f"pool_{slug}"
    data = {"pool_id": pool_id, "municipality": slug, "name": "Budget participatif", "currency": "EUR",
            "year": year or utcnow().year, "accepts_gifts": accepts, "version": version}  # fmt: skip
    await payments.publish("pool.updated", pool_id, data)

    async def projected() -> bool:
        doc = await payments.ctx.mongo.db.city_pools.find_one({"_id": pool_id})
        return doc is not None and doc["version"] == version

    await eventually(projected, timeout=10)
    return pool_id


async def _options(payments: Any, campaign_id: str) -> dict[str, Any]:
    async with payments.client() as client:
        r = await client.get(f"/campaigns/{campaign_id}/fallback-options")
    assert r.status_code == 200, r.text
    return r.json()


async def _pledge(payments: Any, backer: str, body: dict[str, Any]) -> Any:
    async with payments.client() as client:
        return await client.post(
            "/pledges",
            json={"amount": 2_500, "currency": "EUR", "tip": 300, **body},
            headers={**payments.auth(backer), "Idempotency-Key": f"idem-{uuid.uuid4().hex}"},
        )


async def _end(payments: Any, campaign_id: str, verb: str) -> None:
    data = payments.campaign_data(campaign_id, "usr_owner_pool", verb, "all_or_nothing", 4)
    await payments.publish(f"campaign.{verb}", campaign_id, data)


async def _gift_of(payments: Any, pledge_id: str) -> dict[str, Any] | None:
    return await payments.ctx.mongo.db.pool_gifts.find_one({"pledge_id": pledge_id})


async def test_the_pool_is_offered_only_when_the_city_has_one_taking_gifts(payments: Any) -> None:
    slug = f"ville-{uuid.uuid4().hex[:8]}"
    own = await _live(payments, slug)
    keep = await _live(payments, slug, "keep_it_all")
    backer = f"usr_gp_{uuid.uuid4().hex[:6]}"
    choice = {"campaign_id": own, "fallback": {"kind": "city_pool"}, "fallback_consent": True}

    assert (await _options(payments, own))["city_pool"] is None
    refused = await _pledge(payments, backer, choice)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "fallback_unavailable", (
        refused.text
    )
    # Last year's pool does not take this year's gifts.
    await _pool(payments, slug, True, 1, year=utcnow().year - 1)
    assert (await _options(payments, own))["city_pool"] is None
    pool_id = await _pool(payments, slug, True, 2)
    offered = await _options(payments, own)
    assert offered["offered"] is True and offered["city_pool"]["pool_id"] == pool_id
    assert (await _options(payments, keep)) == {"campaign_id": keep, "offered": False, "city_pool": None}
    async with payments.client() as client:
        missing = await client.get("/campaigns/cmp_nope/fallback-options")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "campaign_not_found"

    for body, code in [
        ({**choice, "fallback_consent": False}, "fallback_consent_required"),
        ({**choice, "fallback": {"kind": "city_pool", "municipality": "bagnolet"}}, "fallback_other_city"),
        ({**choice, "campaign_id": keep}, "fallback_not_offered"),
    ]:
        answer = await _pledge(payments, backer, body)
        assert answer.status_code == 422 and answer.json()["error"]["code"] == code, (body, answer.text)
    created = await _pledge(payments, backer, choice)
    assert created.status_code == 201, created.text
    shown = created.json()["fallback"]
    assert (shown["kind"], shown["pool_id"], shown["pool_name"], shown["municipality"]) == (
        "city_pool", pool_id, "Budget participatif", slug,
    )  # fmt: skip
    assert shown["consent_version"].startswith("fallback-consent-") and shown["consented_at"]
    # An older copy of the pool's state arriving late changes nothing; a newer one does.
    await payments.publish("pool.updated", pool_id, {"pool_id": pool_id, "municipality": slug,
                           "name": "Budget participatif", "currency": "EUR", "year": utcnow().year,
                           "accepts_gifts": False, "version": 1})  # fmt: skip
    await _pool(payments, slug, False, 3)
    assert (await _options(payments, own))["city_pool"] is None


async def test_a_failed_campaign_gives_the_pledge_to_the_city_pool_once(payments: Any) -> None:
    _q, seen = await tap(payments.ctx.bus, "pool.gift_received")
    _q2, released = await tap(payments.ctx.bus, "pledge.released")
    slug = f"ville-{uuid.uuid4().hex[:8]}"
    pool_id = await _pool(payments, slug, True, 1)
    own = await _live(payments, slug)
    backer = f"usr_gp_{uuid.uuid4().hex[:6]}"
    choice = {"campaign_id": own, "fallback": {"kind": "city_pool"}, "fallback_consent": True}
    created = await _pledge(payments, backer, choice)
    assert created.status_code == 201, created.text
    giving = await payments.checkout(created.json(), payments.good_card, payments.auth(backer))
    declined = await _pledge(payments, backer, {**choice, "amount": 1_100})
    assert declined.status_code == 201, declined.text
    declining = await payments.checkout(declined.json(), DECLINED_OFF_SESSION, payments.auth(backer))
    assert giving["status"] == declining["status"] == "authorized"

    # The failure twice (a redelivery under a new event id), then the gifts job twice.
    await _end(payments, own, "failed")
    await _end(payments, own, "failed")
    gifts = payments.ctx.get(PoolGifts)

    async def settled() -> bool:
        await gifts.charge_due()
        a, b = await _gift_of(payments, giving["id"]), await _gift_of(payments, declining["id"])
        return bool(a and b and a["status"] == "given" and b["status"] == "failed")

    await eventually(settled, timeout=30)
    await gifts.charge_due()
    for p in (giving, declining):
        pledge = await payments.store.pledge(p["id"])
        assert pledge["status"] == "released" and pledge["fallback_gift_id"]
    gift = await _gift_of(payments, giving["id"])
    assert gift is not None
    # Captured: one PaymentIntent, the pledge's amount (not the tip), off-session on the saved card.
    listing = await payments.browser.get("/v1/payment_intents", limit=100)
    ours = [pi for pi in listing["data"] if pi["metadata"].get("gift_of_pledge") == giving["id"]]
    assert [(pi["status"], pi["amount"]) for pi in ours] == [("succeeded", 2_500)]
    assert ours[0]["id"] == gift["payment_intent_id"] and ours[0]["metadata"]["pool_id"] == pool_id
    assert ours[0]["payment_method"] == (await payments.store.pledge(giving["id"]))["payment_method"]
    # The ledger holds it for the pool; the failed campaign's own ledger has nothing.
    entries = await payments.ctx.mongo.db.ledger.find({"pool_id": pool_id}).to_list()
    assert [(e["account"], e["kind"], e["amount"], e["pledge_id"]) for e in entries] == [
        ("city_pool", "pool_gift", 2_500, giving["id"])
    ]
    assert await payments.store.ledger(own) == []

    def gift_events() -> list[dict[str, Any]]:
        return [json.loads(m.body)["data"] for m in seen]

    await eventually(lambda: len(gift_events()) >= 1, timeout=10)
    assert gift_events() == [
        {"pool_id": pool_id, "municipality": slug, "pledge_id": giving["id"], "campaign_id": own,
         "backer_id": backer, "amount": 2_500, "currency": "EUR", "payment_intent_id": gift["payment_intent_id"]}
    ]  # fmt: skip
    released_ids = sorted(json.loads(m.body)["data"]["pledge_id"] for m in released)
    assert released_ids == sorted([giving["id"], declining["id"]])

    async with payments.client() as client:
        mine = (await client.get("/me/pledges", headers=payments.auth(backer))).json()["items"]
        official = payments.auth("usr_claire", municipalities={slug: "reviewer"})
        held = await client.get("/city-pools/gifts", params={"municipality": slug}, headers=official)
        stranger = await client.get(
            "/city-pools/gifts", params={"municipality": slug}, headers=payments.auth(backer)
        )
    by_id = {p["id"]: p for p in mine}
    assert (by_id[giving["id"]]["gift_status"], by_id[declining["id"]]["gift_status"]) == ("given", "failed")
    assert by_id[giving["id"]]["fallback"]["pool_name"] == "Budget participatif"
    assert held.status_code == 200 and held.json()["items"] == [
        {"pool_id": pool_id, "pool_name": "Budget participatif", "municipality": slug, "currency": "EUR",
         "received": 2_500, "applied": 0, "held": 2_500}
    ], held.text  # fmt: skip
    assert stranger.status_code == 403 and stranger.json()["error"]["code"] == "forbidden"


async def test_a_match_due_from_the_pool_is_settled_from_its_gifts_first(payments: Any) -> None:
    slug = f"ville-{uuid.uuid4().hex[:8]}"
    await payments.publish(
        "municipality.registered", slug, {"municipality_id": f"mun_{slug}", "slug": slug, "name": "Ville"}
    )
    await eventually(lambda: payments.store.municipality(slug))
    pool_id = await _pool(payments, slug, True, 1)
    own = await _live(payments, slug)
    backer = f"usr_gp_{uuid.uuid4().hex[:6]}"
    choice = {
        "campaign_id": own,
        "fallback": {"kind": "city_pool"},
        "fallback_consent": True,
        "amount": 4_000,
    }
    created = await _pledge(payments, backer, choice)
    await payments.checkout(created.json(), payments.good_card, payments.auth(backer))
    await _end(payments, own, "canceled")
    gifts = payments.ctx.get(PoolGifts)

    async def given() -> bool:
        await gifts.charge_due()
        gift = await _gift_of(payments, created.json()["id"])
        return gift is not None and gift["status"] == "given"

    await eventually(given, timeout=30)
    # Two dues from that pool: the first takes 2 500 of the 4 000 held, the second the 1 500 left
    # and the city transfers the rest (no card on file: bank transfer).
    matched = await _live(payments, slug, "keep_it_all")
    admin = payments.auth("usr_admin", roles=["citizen", "admin"])
    for due_id, amount, settled in (("mc_first_" + slug, 2_500, 2_500), ("mc_second_" + slug, 5_000, 1_500)):
        due = {"commitment_id": due_id, "campaign_id": matched, "municipality": slug, "pool_id": pool_id,
               "currency": "EUR", "rule": {"condition": "instant", "ratio": 1}, "max_amount": amount,
               "amount": amount}  # fmt: skip
        await payments.publish("match.due", due_id, due)
        await payments.publish("match.due", due_id, due)  # redelivered

        async def listed(due_id: str = due_id, settled: int = settled) -> bool:
            async with payments.client() as client:
                r = await client.get("/city-dues", params={"municipality": slug}, headers=admin)
            return any(d["id"] == due_id and d["settled_from_gifts"] == settled for d in r.json()["items"])

        await eventually(listed, timeout=15)
    async with payments.client() as client:
        items = {d["id"]: d for d in (await client.get("/city-dues", params={"municipality": slug},
                                                         headers=admin)).json()["items"]}  # fmt: skip
        held = (await client.get("/city-pools/gifts", params={"municipality": slug}, headers=admin)).json()
    first, second = items["mc_first_" + slug], items["mc_second_" + slug]
    assert (first["status"], first["method"], first["settled_from_gifts"], first["to_collect"]) == (
        "received", "residents_gifts", 2_500, 0,
    )  # fmt: skip
    assert (second["status"], second["method"], second["settled_from_gifts"], second["to_collect"]) == (
        "due", "bank_transfer", 1_500, 3_500,
    )  # fmt: skip
    assert held["items"][0]["held"] == 0 and held["items"][0]["applied"] == 4_000
    city = [(e["kind"], e["amount"]) for e in await payments.store.ledger(matched) if e["account"] == "city"]
    assert sorted(city) == sorted([("match_due", 2_500), ("match_settled_from_gifts", -2_500),
                                   ("match_due", 5_000), ("match_settled_from_gifts", -1_500)])  # fmt: skip
    pool_side = await payments.ctx.mongo.db.ledger.find({"pool_id": pool_id}).to_list()
    assert sum(e["amount"] for e in pool_side if e["account"] == "city_pool") == 0
