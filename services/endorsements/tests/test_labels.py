"""Label lifecycle over real HTTP, RabbitMQ and nx-27017, with its refusals."""

from __future__ import annotations

import json

from servicekit.testing.helpers import eventually, tap


def _bodies(messages: list) -> list[dict]:
    return [json.loads(m.body) for m in messages]


async def test_owner_request_review_grant_revoke_with_public_events(svc) -> None:
    slug = await svc.city()
    await svc.appoint(slug, "usr_rev", "reviewer")
    await svc.trial(slug)
    _, internal = await tap(svc.ctx.bus, "endorsement.*")
    _, labels = await tap(svc.ctx.bus, "label.*")
    _, public = await tap(svc.ctx.bus, f"{slug}.#", exchange="public")
    _, other_city = await tap(svc.ctx.bus, "some-other-city.#", exchange="public")
    cid = await svc.campaign("usr_amina", slug)
    await svc.known("campaigns", {"_id": cid})

    # Only the owner asks.
    r = await svc.http.post("/labels", json={"campaign_id": cid}, headers=svc.who("usr_lucas"))
    assert r.status_code == 403
    r = await svc.http.post("/labels", json={"campaign_id": cid}, headers=svc.who("usr_amina"))
    assert r.status_code == 201, r.text
    label = r.json()
    assert label["status"] == "requested" and label["municipality"] == slug
    r = await svc.http.post("/labels", json={"campaign_id": cid}, headers=svc.who("usr_amina"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "label_exists"

    # The queue shows the request first; a citizen cannot see the queue.
    r = await svc.http.get(f"/municipalities/{slug}/review-queue", headers=svc.who("usr_rev"))
    assert r.status_code == 200 and r.json()["items"][0]["label"]["id"] == label["id"]
    assert (
        await svc.http.get(f"/municipalities/{slug}/review-queue", headers=svc.who("usr_x"))
    ).status_code == 403

    lid = label["id"]
    assert (await svc.http.post(f"/labels/{lid}/review", headers=svc.who("usr_amina"))).status_code == 403
    r = await svc.http.post(f"/labels/{lid}/review", headers=svc.who("usr_rev"))
    assert r.status_code == 200 and r.json()["status"] == "under_review"
    grant = {
        "note": "Great for Bel-Air",
        "support": [
            {"kind": "land", "description": "Plot rue de Rosny", "address": "12 rue de Rosny, Montreuil",
             "starts_on": "2027-03-01", "ends_on": "2027-12-31", "value": 500_000, "currency": "EUR"},
            {"kind": "communication", "description": "Posters in city hall"},
        ],
    }  # fmt: skip
    r = await svc.http.post(f"/labels/{lid}/grant", json=grant, headers=svc.who("usr_rev"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "granted" and r.json()["in_kind_value"] == 500_000
    # Bad transitions and bad input are clear 4xx.
    r = await svc.http.post(f"/labels/{lid}/decline", json={"reason": "no"}, headers=svc.who("usr_rev"))
    assert r.status_code == 422  # reason too short
    r = await svc.http.post(
        f"/labels/{lid}/decline", json={"reason": "changed mind"}, headers=svc.who("usr_rev")
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "bad_transition"
    r = await svc.http.post(f"/labels/{lid}/grant", json={"support": [{"kind": "land", "description": "no address"}]},
                            headers=svc.who("usr_rev"))  # fmt: skip
    assert r.status_code == 422

    r = await svc.http.post(
        f"/labels/{lid}/revoke", json={"reason": "Works never started"}, headers=svc.who("usr_rev")
    )
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    assert (await svc.http.get(f"/labels/{lid}")).json()["reason"] == "Works never started"
    # Revoked frees the campaign for a new request later.
    r = await svc.http.post("/labels", json={"campaign_id": cid}, headers=svc.who("usr_amina"))
    assert r.status_code == 201

    await eventually(lambda: len(internal) >= 4 and len(public) >= 4)
    kinds = [b["type"] for b in _bodies(internal)]
    assert kinds[:3] == ["org.civicfund.endorsement.requested", "org.civicfund.endorsement.granted",
                         "org.civicfund.endorsement.revoked"]  # fmt: skip
    granted = next(b for b in _bodies(internal) if b["type"].endswith("granted"))
    assert granted["data"]["owner_id"] == "usr_amina" and granted["data"]["in_kind_value"] == 500_000
    pub = {m.routing_key: json.loads(m.body) for m in public}
    assert f"{slug}.endorsement.granted" in pub
    assert pub[f"{slug}.endorsement.granted"]["type"] == "org.civicfund.public.endorsement.granted"
    assert "owner_id" not in pub[f"{slug}.endorsement.granted"]["data"]  # public form: no user ids
    assert other_city == []
    # The same facts under the label's own name; endorsement.* stays published for one release.
    await eventually(lambda: len(labels) >= 4 and len(public) >= 8)
    new = next(b for b in _bodies(labels) if b["type"] == "org.civicfund.label.granted")
    assert new["data"]["label_id"] == granted["data"]["endorsement_id"] == lid
    assert {k: v for k, v in new["data"].items() if k != "label_id"} == {
        k: v for k, v in granted["data"].items() if k != "endorsement_id"
    }
    pub = {m.routing_key: json.loads(m.body) for m in public}
    assert pub[f"{slug}.label.granted"]["type"] == "org.civicfund.public.label.granted"
    assert pub[f"{slug}.label.granted"]["data"]["label_id"] == lid
    assert "owner_id" not in pub[f"{slug}.label.granted"]["data"]


async def test_only_the_campaigns_own_city_can_act(svc) -> None:
    home = await svc.city(postcodes=("93100",))
    other = await svc.city(postcodes=("93170",))
    await svc.appoint(home, "usr_home", "manager")
    await svc.appoint(other, "usr_other", "manager")
    await svc.trial(home)
    await svc.trial(other)
    cid = await svc.campaign("usr_amina", home, postcode="93100")
    await svc.known("campaigns", {"_id": cid})
    # Another city cannot take it up, nor act on the home city's label.
    r = await svc.http.post(
        f"/municipalities/{other}/labels", json={"campaign_id": cid}, headers=svc.who("usr_other")
    )
    assert r.status_code == 403
    r = await svc.http.post(
        f"/municipalities/{home}/labels", json={"campaign_id": cid}, headers=svc.who("usr_home")
    )
    assert r.status_code == 201 and r.json()["status"] == "under_review"
    lid = r.json()["id"]
    r = await svc.http.post(f"/labels/{lid}/grant", json={}, headers=svc.who("usr_other"))
    assert r.status_code == 403
    # A token claiming the role is not enough: the officials list is the authority.
    forged = svc.who("usr_forger", municipalities={home: "manager"})
    assert (await svc.http.post(f"/labels/{lid}/grant", json={}, headers=forged)).status_code == 403
    # The owner cannot ask a city whose territory the campaign is not in.
    r = await svc.http.post(
        "/labels", json={"campaign_id": cid, "municipality": other}, headers=svc.who("usr_amina")
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "outside_territory"
    # A removed official loses access at once.
    r = await svc.http.delete(f"/municipalities/{home}/officials/usr_home", headers=svc.admin)
    assert r.status_code == 204
    assert (
        await svc.http.post(f"/labels/{lid}/grant", json={}, headers=svc.who("usr_home"))
    ).status_code == 403


async def test_territory_polygon_puts_campaigns_in_the_queue(svc) -> None:
    square = {"type": "Polygon", "coordinates": [[[2.40, 48.84], [2.50, 48.84], [2.50, 48.89], [2.40, 48.89],
                                                   [2.40, 48.84]]]}  # fmt: skip
    slug = await svc.city(postcodes=(), territory=square)
    await svc.appoint(slug, "usr_rev", "reviewer")
    inside = await svc.campaign("usr_a", "elsewhere", lat=48.86, lon=2.45)
    outside = await svc.campaign("usr_b", "elsewhere", lat=48.86, lon=2.30)
    await svc.known("campaigns", {"_id": outside})
    await svc.known("campaigns", {"_id": inside})
    r = await svc.http.get(f"/municipalities/{slug}/review-queue", headers=svc.who("usr_rev"))
    assert [i["campaign"]["id"] for i in r.json()["items"]] == [inside]
    bad = {"type": "Polygon", "coordinates": [[[2.4, 48.8], [2.5, 48.8], [2.5, 48.9]]]}
    r = await svc.http.post("/municipalities", headers=svc.admin, json={
        "name": "Bad", "slug": "bad-poly", "official_code": "1", "country": "FR", "territory": bad})  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_territory"


async def test_labelling_needs_an_active_subscription(svc) -> None:
    slug = await svc.city()
    await svc.appoint(slug, "usr_rev", "reviewer")
    cid = await svc.campaign("usr_amina", slug)
    await svc.known("campaigns", {"_id": cid})
    r = await svc.http.post("/labels", json={"campaign_id": cid}, headers=svc.who("usr_amina"))
    lid = r.json()["id"]
    # No subscription, no trial: refused with a clear code, nothing written.
    r = await svc.http.post(f"/labels/{lid}/review", headers=svc.who("usr_rev"))
    assert r.status_code == 402 and r.json()["error"]["code"] == "subscription_inactive"
    sub = {"subscription_id": "sub_1", "municipality": slug, "plan": "city", "status": "active"}
    await svc.publish("subscription.activated", "sub_1", sub, source="payments")
    await svc.known("subscriptions", {"_id": "sub_1", "status": "active"})
    assert (await svc.http.post(f"/labels/{lid}/review", headers=svc.who("usr_rev"))).status_code == 200
    await svc.publish("subscription.lapsed", "sub_1", {**sub, "status": "past_due"}, source="payments")
    await svc.known("subscriptions", {"_id": "sub_1", "status": "lapsed"})
    r = await svc.http.post(f"/labels/{lid}/grant", json={}, headers=svc.who("usr_rev"))
    assert r.status_code == 402
    assert (await svc.http.get(f"/labels/{lid}", headers=svc.who("usr_rev"))).json()[
        "status"
    ] == "under_review"
    # Declining stays possible: a city can always withdraw its name.
    r = await svc.http.post(
        f"/labels/{lid}/decline", json={"reason": "Out of scope"}, headers=svc.who("usr_rev")
    )
    assert r.status_code == 200 and r.json()["status"] == "declined"


async def test_invitation_by_email_token(svc) -> None:
    slug = await svc.city()
    await svc.appoint(slug, "usr_claire", "manager")
    _, invited = await tap(svc.ctx.bus, "official.*")
    r = await svc.http.post(f"/municipalities/{slug}/invitations", json={"email": "y@ex.org", "role": "reviewer"},
                            headers=svc.who("usr_citizen"))  # fmt: skip
    assert r.status_code == 403
    r = await svc.http.post(f"/municipalities/{slug}/invitations", json={"email": "y@ex.org", "role": "reviewer"},
                            headers=svc.who("usr_claire"))  # fmt: skip
    assert r.status_code == 201 and "token" not in r.json()
    await eventually(lambda: any(m.routing_key == "official.invited" for m in invited))
    token = next(json.loads(m.body) for m in invited if m.routing_key == "official.invited")["data"]["token"]
    bad = await svc.http.post("/invitations/accept", json={"token": "x" * 30}, headers=svc.who("usr_yusuf"))
    assert bad.status_code == 404
    # Someone else who got hold of the forwarded token cannot use it.
    profile = {"user_id": "usr_mallory", "email": "m@ex.org", "display_name": "M", "locale": "fr"}
    await svc.publish("user.registered", "usr_mallory", profile, source="gateway")
    await svc.known("users", {"_id": "usr_mallory"})
    r = await svc.http.post("/invitations/accept", json={"token": token}, headers=svc.who("usr_mallory"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_invitee"
    r = await svc.http.post("/invitations/accept", json={"token": token}, headers=svc.who("usr_yusuf"))
    assert r.status_code == 200 and r.json()["role"] == "reviewer"
    again = await svc.http.post("/invitations/accept", json={"token": token}, headers=svc.who("usr_other"))
    assert again.status_code == 410

    def appointed() -> list[dict]:
        return [json.loads(m.body)["data"] for m in invited if m.routing_key == "official.appointed"]

    await eventually(lambda: any(a["user_id"] == "usr_yusuf" for a in appointed()))
    assert {
        "user_id": "usr_yusuf",
        "municipality": slug,
        "role": "reviewer",
        "email": "y@ex.org",
    } in appointed()


async def test_the_owner_follows_every_label_request_of_their_campaign(svc) -> None:
    # Three cities whose territories all hold the campaign's postcode: one label per city and
    # status at a time, so the five statuses need three cities.
    home, second, third = [await svc.city(postcodes=("93100",)) for _ in range(3)]
    for slug in (home, second, third):
        await svc.appoint(slug, f"usr_rev_{slug}", "reviewer")
        await svc.trial(slug)
    cid = await svc.campaign("usr_amina", home, postcode="93100")
    await svc.known("campaigns", {"_id": cid})
    owner = svc.who("usr_amina")

    async def ask(slug: str) -> str:
        r = await svc.http.post("/labels", json={"campaign_id": cid, "municipality": slug}, headers=owner)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    async def act(label_id: str, slug: str, action: str, **body: str) -> None:
        r = await svc.http.post(f"/labels/{label_id}/{action}", json=body, headers=svc.who(f"usr_rev_{slug}"))
        assert r.status_code == 200, r.text

    declined = await ask(home)
    await act(declined, home, "decline", reason="Outside this year's priorities")
    revoked = await ask(home)
    await act(revoked, home, "grant")
    await act(revoked, home, "revoke", reason="Works never started")
    under_review = await ask(home)
    await act(under_review, home, "review")
    granted = await ask(second)
    await act(granted, second, "grant")
    requested = await ask(third)

    path = f"/campaigns/{cid}/label-requests"
    r = await svc.http.get(path, headers=owner)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [requested, granted, under_review, revoked, declined]  # newest first
    by_id = {i["id"]: i for i in items}
    assert {i["id"]: i["status"] for i in items} == {
        requested: "requested",
        granted: "granted",
        under_review: "under_review",
        revoked: "revoked",
        declined: "declined",
    }
    assert by_id[declined]["reason"] == "Outside this year's priorities"
    assert by_id[revoked]["reason"] == "Works never started"
    assert by_id[granted]["municipality"] == second and by_id[requested]["requested_by"] == "usr_amina"
    # The public campaign page still shows granted labels only.
    public = (await svc.http.get(f"/campaigns/{cid}/labels")).json()["labels"]
    assert [label["id"] for label in public] == [granted]

    # An admin may look; anyone else, an official of the city included, finds no such campaign,
    # exactly as for an id that does not exist.
    assert (await svc.http.get(path, headers=svc.admin)).status_code == 200
    unknown = await svc.http.get("/campaigns/cmp_nope/label-requests", headers=svc.who("usr_lucas"))
    same = {k: v for k, v in unknown.json()["error"].items() if k != "request_id"}
    for who in ("usr_lucas", f"usr_rev_{home}"):
        r = await svc.http.get(path, headers=svc.who(who))
        assert r.status_code == 404
        assert {k: v for k, v in r.json()["error"].items() if k != "request_id"} == same
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "campaign_not_found"
    assert (await svc.http.get(path)).status_code == 401
