"""Residents' gifts to a city's pool: a manager marks the pool accepting them (pool.updated for
payments), and a gift payments took (pool.gift_received) raises the pool's budget once per
pledge, whatever the redeliveries; an impossible gift is parked with its reason."""

from __future__ import annotations

import json
import uuid
from typing import Any

from servicekit.testing.helpers import eventually, get_all, tap


async def _setup(svc: Any) -> str:
    slug = await svc.city()
    await svc.appoint(slug, "usr_claire", "manager")
    await svc.appoint(slug, "usr_yusuf", "reviewer")
    await svc.trial(slug)
    return slug


async def _pool(svc: Any, slug: str, name: str, year: int = 2027, currency: str = "EUR") -> str:
    body = {"name": name, "year": year, "budget": 500_000, "currency": currency}
    headers = {**svc.who("usr_claire"), "Idempotency-Key": f"pool-{uuid.uuid4().hex}"}
    r = await svc.http.post(f"/municipalities/{slug}/pools", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _pools(svc: Any, slug: str) -> dict[str, dict[str, Any]]:
    r = await svc.http.get(f"/municipalities/{slug}/pools", headers=svc.who("usr_claire"))
    assert r.status_code == 200, r.text
    return {p["id"]: p for p in r.json()["items"]}


def _gift(pool_id: str, slug: str, pledge_id: str, amount: int = 2_500, **extra: Any) -> dict[str, Any]:
    return {"pool_id": pool_id, "municipality": slug, "pledge_id": pledge_id, "amount": amount,
            "currency": "EUR", "campaign_id": "cmp_failed", "backer_id": "usr_lucas", **extra}  # fmt: skip


async def test_a_manager_marks_the_pool_accepting_gifts_one_per_year(svc: Any) -> None:
    slug = await _setup(svc)
    pool = await _pool(svc, slug, "Budget participatif 2027")
    other = await _pool(svc, slug, "Fonds quartiers 2027")
    next_year = await _pool(svc, slug, "Budget participatif 2028", year=2028)
    _, updates = await tap(svc.ctx.bus, "pool.updated")
    url = f"/municipalities/{slug}/pools/{pool}"

    r = await svc.http.patch(url, json={"accepts_gifts": True}, headers=svc.who("usr_yusuf"))
    assert r.status_code == 403, r.text  # a reviewer does not decide about money
    r = await svc.http.patch(url, json={"accepts_gifts": "maybe"}, headers=svc.who("usr_claire"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", r.text
    r = await svc.http.patch(
        f"/municipalities/{slug}/pools/pool_nope", json={"accepts_gifts": True}, headers=svc.who("usr_claire")
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "pool_not_found", r.text

    r = await svc.http.patch(url, json={"accepts_gifts": True}, headers=svc.who("usr_claire"))
    assert r.status_code == 200 and r.json()["accepts_gifts"] is True, r.text
    again = await svc.http.patch(url, json={"accepts_gifts": True}, headers=svc.who("usr_claire"))
    assert again.status_code == 200 and again.json() == r.json()
    # A second pool of the same year and currency would make the backer's choice ambiguous.
    r = await svc.http.patch(
        f"/municipalities/{slug}/pools/{other}", json={"accepts_gifts": True}, headers=svc.who("usr_claire")
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "gifts_pool_exists", r.text
    r = await svc.http.patch(
        f"/municipalities/{slug}/pools/{next_year}",
        json={"accepts_gifts": True},
        headers=svc.who("usr_claire"),
    )
    assert r.status_code == 200, r.text

    await eventually(lambda: len(updates) >= 2, timeout=10)
    datas = [json.loads(m.body)["data"] for m in updates]
    mine = [d for d in datas if d["pool_id"] == pool]
    assert len(mine) == 1  # setting it twice changed nothing the second time
    assert mine[0]["accepts_gifts"] is True and mine[0]["municipality"] == slug and mine[0]["year"] == 2027
    shown = await _pools(svc, slug)
    assert shown[pool]["accepts_gifts"] and not shown[other]["accepts_gifts"]


async def test_a_gift_raises_the_pools_budget_once_per_pledge(svc: Any) -> None:
    slug = await _setup(svc)
    pool = await _pool(svc, slug, "Budget participatif 2027")
    before = (await _pools(svc, slug))[pool]
    assert before["available"] == 500_000 and before["gifts_received"] == 0
    pledge_id = f"plg_{uuid.uuid4().hex}"
    gift = _gift(pool, slug, pledge_id)
    await svc.publish("pool.gift_received", pledge_id, gift, source="payments")
    # The same gift again under a new event id (payments republished it): still once.
    await svc.publish("pool.gift_received", pledge_id, gift, source="payments")
    second = f"plg_{uuid.uuid4().hex}"
    await svc.publish("pool.gift_received", second, _gift(pool, slug, second, 1_000), source="payments")
    await svc.known("pool_gifts", {"_id": second})
    await svc.known("pool_gifts", {"_id": pledge_id})

    async def booked() -> bool:
        return (await _pools(svc, slug))[pool]["gifts_received"] == 3_500

    await eventually(booked, timeout=10)
    after = (await _pools(svc, slug))[pool]
    assert after["available"] == 503_500 and after["budget"] == 500_000
    assert await svc.ctx.mongo.db.pool_gifts.count_documents({"pool_id": pool}) == 2


async def test_an_impossible_gift_is_parked_with_its_reason(svc: Any) -> None:
    slug = await _setup(svc)
    pool = await _pool(svc, slug, "Budget participatif 2027")
    pledge_id = f"plg_{uuid.uuid4().hex}"
    wrong = _gift(pool, slug, pledge_id, currency="GBP")
    await svc.publish("pool.gift_received", pledge_id, wrong, source="payments")
    dead = svc.ctx.settings.ns("endorsements.pool_gifts.dead")
    parked: list = []

    async def arrived() -> bool:
        parked.extend(await get_all(svc.ctx.bus.channel, dead))
        return bool(parked)

    await eventually(arrived, timeout=15)
    assert parked[0].headers["x-parked-reason"] == "rejected_by_handler"
    assert "the pool is in EUR" in str(parked[0].headers["x-error"])
    assert (await _pools(svc, slug))[pool]["gifts_received"] == 0
