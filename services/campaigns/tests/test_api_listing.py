"""Listing: filters, sorts, cursor pagination, text search, near a point, visibility.
This module's database holds only the campaigns created here."""

from __future__ import annotations

from typing import Any

import pytest

from servicekit.testing.helpers import eventually

# Montreuil town hall, and points at known distances from it.
HALL = (48.8616, 2.4430)


@pytest.fixture(scope="module")
async def world(svc) -> dict[str, Any]:
    amina, lucas, sofia = svc.user(), svc.user(), svc.user()
    park = await svc.live(
        amina, title="Street workout park", category="sport", goal=10_000, lat=48.8638, lon=2.4485
    )
    repair = await svc.live(
        lucas,
        title="Repair café at La Boissière",
        summary="Fix bikes and toasters together",
        category="solidarity",
        funding_model="all_or_nothing",
        goal=4_000,
        lat=48.8720,
        lon=2.4620,
    )
    paris = await svc.live(
        sofia,
        title="Library garden in Paris 11e",
        category="environment",
        goal=8_000,
        municipality="paris",
        lat=48.8590,
        lon=2.3790,
    )
    draft = await svc.draft(amina, title="Secret draft about a park")
    await svc.publish(
        "payment.succeeded",
        {
            "campaign_id": park["id"],
            "backer_id": "b1",
            "amount": 6_000,
            "currency": "EUR",
            "pledge_id": "pl1",
            "payment_id": "py1",
        },
    )
    await svc.publish(
        "pledge.authorized",
        {
            "campaign_id": repair["id"],
            "backer_id": "b2",
            "amount": 3_600,
            "currency": "EUR",
            "pledge_id": "pl2",
        },
    )
    await svc.publish(
        "payment.succeeded",
        {
            "campaign_id": paris["id"],
            "backer_id": "b3",
            "amount": 1_000,
            "currency": "EUR",
            "pledge_id": "pl3",
            "payment_id": "py3",
        },
    )

    async def funded() -> bool:
        totals = [(await svc.get(c["id"]))["totals"]["funded"] for c in (park, repair, paris)]
        return totals == [6_000, 3_600, 1_000]

    await eventually(funded, timeout=20)
    return {"park": park, "repair": repair, "paris": paris, "draft": draft, "amina": amina}


async def _ids(svc, **params: Any) -> list[str]:
    response = await svc.client.get("/campaigns", params=params, headers=params.pop("headers", None) or {})
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


async def test_filters(svc, world) -> None:
    park, repair, paris = world["park"]["id"], world["repair"]["id"], world["paris"]["id"]
    assert set(await _ids(svc)) == {park, repair, paris}  # live only, no drafts
    assert await _ids(svc, municipality="paris") == [paris]
    assert await _ids(svc, category="solidarity") == [repair]
    assert await _ids(svc, funding_model="all_or_nothing") == [repair]
    assert await _ids(svc, status="succeeded") == []
    assert await _ids(svc, q="toasters") == [repair]
    assert await _ids(svc, q="park") == [park]  # the draft about a park is not public
    mine = await _ids(svc, mine="true", headers=svc.auth(world["amina"]))
    assert set(mine) == {park, world["draft"]["id"]}
    queue = await _ids(svc, status="draft", headers=svc.admin)
    assert world["draft"]["id"] in queue


async def test_sorts(svc, world) -> None:
    park, repair, paris = world["park"]["id"], world["repair"]["id"], world["paris"]["id"]
    assert await _ids(svc, sort="newest") == [paris, repair, park]
    assert await _ids(svc, sort="most_funded") == [park, repair, paris]
    # repair 90 %, park 60 %, paris 12.5 %
    assert await _ids(svc, sort="closest_to_goal") == [repair, park, paris]
    assert await _ids(svc, sort="ending_soon") == [park, repair, paris]


async def test_cursor_pagination_walks_every_item_once(svc, world) -> None:
    for sort in ("newest", "most_funded", "closest_to_goal", "ending_soon"):
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"sort": sort, "limit": 1}
            if cursor:
                params["cursor"] = cursor
            page = (await svc.client.get("/campaigns", params=params)).json()
            seen.extend(c["id"] for c in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == await _ids(svc, sort=sort), sort
        assert len(seen) == 3


async def test_near_a_point(svc, world) -> None:
    park, repair, paris = world["park"]["id"], world["repair"]["id"], world["paris"]["id"]
    lat, lon = HALL
    response = await svc.client.get("/campaigns", params={"lat": lat, "lon": lon, "within_km": 1})
    items = response.json()["items"]
    assert [c["id"] for c in items] == [park]  # ~0.45 km; repair ~1.9 km; Paris 11e ~4.7 km
    assert 0.3 < items[0]["distance_km"] < 0.6
    assert set(await _ids(svc, lat=lat, lon=lon, within_km=3)) == {park, repair}
    assert set(await _ids(svc, lat=lat, lon=lon, within_km=6)) == {park, repair, paris}
    paged = (
        await svc.client.get("/campaigns", params={"lat": lat, "lon": lon, "within_km": 6, "limit": 2})
    ).json()
    assert len(paged["items"]) == 2 and paged["next_cursor"]
    assert (await svc.client.get("/campaigns", params={"lat": lat})).status_code == 422
    assert (await svc.client.get("/campaigns", params={"lat": 95, "lon": 2})).status_code == 422
