"""City systems with their own client token: the city-system routes they open (their own city
only), the public events feed (exactly what civicfund.public carried, in order, with a stable
cursor), and the refusal of every other route."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from servicekit.testing.helpers import eventually, tap


def client_of(svc, slug: str) -> dict[str, str]:
    assert svc.env.issuer is not None
    return svc.env.issuer.headers(f"cli_{slug}", roles=[], municipalities={slug: "system"}, kind="client")


async def _labelled_city(svc, slug: str | None = None) -> tuple[str, str, str]:
    """A city on trial with a reviewer, a manager and a requested label; (slug, campaign, label)."""
    slug = await svc.city(slug)
    await svc.appoint(slug, "usr_rev", "reviewer")
    await svc.appoint(slug, "usr_boss", "manager")
    await svc.trial(slug)
    cid = await svc.campaign("usr_amina", slug)
    await svc.known("campaigns", {"_id": cid})
    r = await svc.http.post("/labels", json={"campaign_id": cid}, headers=svc.who("usr_amina"))
    assert r.status_code == 201, r.text
    return slug, cid, r.json()["id"]


async def test_the_feed_is_what_the_public_exchange_carried_in_order_with_a_stable_cursor(svc) -> None:
    slug = f"city-{uuid.uuid4().hex[:8]}"
    _, public = await tap(svc.ctx.bus, f"{slug}.#", exchange="public")
    slug, _, lid = await _labelled_city(svc, slug)
    other = await svc.city()
    system = client_of(svc, slug)
    first = await svc.http.get(f"/municipalities/{slug}/events", headers=system)
    assert first.status_code == 200, first.text
    assert [i["routing_key"] for i in first.json()["items"]] == [
        f"{slug}.label.requested",
        f"{slug}.endorsement.requested",
    ]
    cursor = first.json()["next_cursor"]
    assert first.json()["has_more"] is False

    # Nothing new: the same cursor comes back.
    again = await svc.http.get(f"/municipalities/{slug}/events", params={"after": cursor}, headers=system)
    assert again.json() == {"items": [], "next_cursor": cursor, "has_more": False}

    for path, body in [
        (f"/labels/{lid}/review", None),
        (f"/labels/{lid}/grant", {"support": [{"kind": "communication", "description": "Posters"}]}),
        (f"/labels/{lid}/revoke", {"reason": "Works never started"}),
    ]:
        r = await svc.http.post(path, json=body, headers=svc.who("usr_rev"))
        assert r.status_code == 200, r.text
    # Another city's events never show in this feed.
    other_cid = await svc.campaign("usr_lucas", other)
    await svc.known("campaigns", {"_id": other_cid})
    assert (
        await svc.http.post("/labels", json={"campaign_id": other_cid}, headers=svc.who("usr_lucas"))
    ).status_code == 201

    # A system that was down catches up from its cursor, one page at a time.
    seen: list[dict] = []
    after = cursor
    while True:
        page = await svc.http.get(
            f"/municipalities/{slug}/events", params={"after": after, "limit": 1}, headers=system
        )
        assert page.status_code == 200
        seen += page.json()["items"]
        after = page.json()["next_cursor"]
        if not page.json()["has_more"]:
            break
    assert [i["routing_key"] for i in seen] == [
        f"{slug}.label.granted",
        f"{slug}.endorsement.granted",
        f"{slug}.label.revoked",
        f"{slug}.endorsement.revoked",
    ]
    cursors = [int(i["cursor"]) for i in first.json()["items"] + seen]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)

    # Item for item, the feed is the exchange's message: same envelope, same routing key.
    everything = (await svc.http.get(f"/municipalities/{slug}/events", headers=system)).json()["items"]
    await eventually(lambda: len(public) >= len(everything))
    carried = {json.loads(m.body)["id"]: (m.routing_key, json.loads(m.body)) for m in public}
    for item in everything:
        assert carried[item["event"]["id"]] == (item["routing_key"], item["event"])
        assert item["event"]["type"].startswith("org.civicfund.public.")
        assert "owner_id" not in item["event"]["data"]

    bad = await svc.http.get(f"/municipalities/{slug}/events", params={"after": "x"}, headers=system)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"


async def test_who_reads_the_feed(svc) -> None:
    slug, _, _ = await _labelled_city(svc)
    other = await svc.city()
    path = f"/municipalities/{slug}/events"
    for headers, status in [
        ({}, 401),
        (svc.who("usr_amina"), 403),
        (svc.who("usr_rev"), 403),  # reviewers do not: the feed is the city's systems' door
        (svc.admin, 403),
        (client_of(svc, other), 403),
        (svc.who("usr_boss"), 200),
        (client_of(svc, slug), 200),
    ]:
        r = await svc.http.get(path, headers=headers)
        assert r.status_code == status, (headers, r.text)
        if status != 200 and headers:
            assert r.json()["error"]["code"] == "forbidden"


async def test_a_city_system_reads_its_citys_labels_pools_and_live_results_and_nothing_else(svc) -> None:
    slug, cid, lid = await _labelled_city(svc)
    other = await svc.city()
    system, stranger = client_of(svc, slug), client_of(svc, other)

    queue = await svc.http.get(f"/municipalities/{slug}/review-queue", headers=system)
    assert queue.status_code == 200 and queue.json()["items"][0]["label"]["id"] == lid
    assert (await svc.http.get(f"/municipalities/{slug}/review-queue", headers=stranger)).status_code == 403
    pending = await svc.http.get(f"/labels/{lid}", headers=system)
    assert pending.status_code == 200 and pending.json()["status"] == "requested"
    assert (await svc.http.get(f"/labels/{lid}", headers=stranger)).status_code == 403
    assert (await svc.http.get(f"/labels/{lid}")).status_code == 404  # pending: not public
    assert (await svc.http.get(f"/municipalities/{slug}/pools", headers=system)).status_code == 200
    assert (await svc.http.get(f"/municipalities/{slug}/pools", headers=stranger)).status_code == 403

    now = datetime.now(UTC)
    call = {
        "title": "Budget participatif 2027", "theme": "green", "description": "Projects for the parks",
        "budget": 1_000_000, "max_award": 500_000, "currency": "EUR",
        "submission_opens_at": (now - timedelta(days=2)).isoformat(),
        "submission_closes_at": (now - timedelta(days=1)).isoformat(),
        "vote_opens_at": (now - timedelta(hours=1)).isoformat(),
        "vote_closes_at": (now + timedelta(days=5)).isoformat(),
        "selection_mode": "vote", "winners": 1, "votes_per_resident": 1,
    }  # fmt: skip
    r = await svc.http.post(f"/municipalities/{slug}/calls", json=call, headers=svc.who("usr_boss"))
    assert r.status_code == 201, r.text
    call_id = r.json()["id"]
    live = await svc.http.get(f"/calls/{call_id}/results", headers=system)
    assert live.status_code == 200, live.text
    assert (await svc.http.get(f"/calls/{call_id}/results")).json()["error"]["code"] == "vote_running"
    assert (await svc.http.get(f"/calls/{call_id}/results", headers=stranger)).status_code == 403

    # Every route written for people refuses the machine, its own city's included.
    for method, path, body in [
        ("POST", "/labels", {"campaign_id": cid}),
        ("POST", f"/labels/{lid}/review", None),
        ("POST", f"/labels/{lid}/grant", {"support": []}),
        ("POST", f"/municipalities/{slug}/labels", {"campaign_id": cid}),
        ("GET", f"/municipalities/{slug}/officials", None),
        ("PUT", f"/municipalities/{slug}/officials/usr_x", {"role": "manager"}),
        ("PATCH", f"/municipalities/{slug}", {"page_text": "hacked"}),
        ("POST", f"/municipalities/{slug}/calls", call),
        ("POST", f"/calls/{call_id}/close", None),
        ("POST", f"/municipalities/{slug}/amqp-user", None),
        ("POST", "/municipalities", {"name": "X", "slug": "xx", "official_code": "1", "country": "FR"}),
    ]:
        r = await svc.http.request(method, path, json=body, headers=system)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"]["code"] == "forbidden"
