"""The city's own project: a campaign a manager created for the city, labelled by the city at
once and shown as the city's."""

from __future__ import annotations

import json

from servicekit.testing.helpers import eventually, tap


async def test_a_manager_labels_the_project_they_made_for_the_city(svc) -> None:
    slug = await svc.city()
    await svc.appoint(slug, "usr_claire", "manager")
    await svc.appoint(slug, "usr_yusuf", "reviewer")
    _, events = await tap(svc.ctx.bus, "label.*")
    cid = await svc.campaign("usr_claire", slug, verb="created", title="Shade on the market square")
    other = await svc.campaign("usr_amina", slug, verb="created")
    await svc.known("campaigns", {"_id": cid})
    await svc.known("campaigns", {"_id": other})
    claire = svc.who("usr_claire")
    # No subscription or trial: paused like any label.
    r = await svc.http.post(f"/municipalities/{slug}/own-projects", json={"campaign_id": cid}, headers=claire)
    assert r.status_code == 402 and r.json()["error"]["code"] == "subscription_inactive"
    await svc.trial(slug)
    # Only a manager, only for a campaign they made; the reviewer and a citizen's campaign are refused.
    r = await svc.http.post(
        f"/municipalities/{slug}/own-projects", json={"campaign_id": cid}, headers=svc.who("usr_yusuf")
    )
    assert r.status_code == 403
    r = await svc.http.post(
        f"/municipalities/{slug}/own-projects", json={"campaign_id": other}, headers=claire
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await svc.http.post(
        f"/municipalities/{slug}/own-projects", json={"campaign_id": "cmp_nope"}, headers=claire
    )
    assert r.status_code == 404
    r = await svc.http.post(f"/municipalities/{slug}/own-projects", json={"campaign": cid}, headers=claire)
    assert r.status_code == 422

    r = await svc.http.post(
        f"/municipalities/{slug}/own-projects", json={"campaign_id": cid, "note": "Ours"}, headers=claire
    )
    assert r.status_code == 201, r.text
    label = r.json()
    assert label["status"] == "granted" and label["city_project"] is True and label["note"] == "Ours"
    assert [h["status"] for h in label["history"]] == ["under_review", "granted"]
    assert label["requested_by"] is None
    # Once is enough: the campaign has an open label in this city.
    again = await svc.http.post(
        f"/municipalities/{slug}/own-projects", json={"campaign_id": cid}, headers=claire
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "label_exists"
    await eventually(lambda: any(m.routing_key == "label.granted" for m in events))
    granted = next(json.loads(m.body)["data"] for m in events if m.routing_key == "label.granted")
    assert granted["campaign_id"] == cid and granted["municipality"] == slug
    # Shown as the city's on the campaign's labels and on the city's page.
    page = (await svc.http.get(f"/campaigns/{cid}/labels")).json()
    assert page["labels"][0]["city_project"] is True
    city = (await svc.http.get(f"/municipalities/{slug}/page")).json()
    assert [i["label"]["city_project"] for i in city["labelled_campaigns"]] == [True]
