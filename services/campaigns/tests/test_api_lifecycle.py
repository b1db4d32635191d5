"""The life of a campaign over HTTP: create, edit, submit, moderate, cancel, complete; the events
each step publishes (checked against contracts/); and who may do what."""

from __future__ import annotations

import json

from servicekit.events import Event
from servicekit.testing.helpers import eventually, tap


async def test_draft_to_live_publishes_every_transition_with_its_snapshot(svc) -> None:
    assert svc.ctx.bus is not None and svc.ctx.contracts is not None
    _, received = await tap(svc.ctx.bus, "campaign.*")
    owner = svc.user()
    campaign = await svc.draft(owner)
    assert campaign["status"] == "draft" and campaign["version"] == 1
    assert campaign["allowed_actions"] == ["submit"]
    assert campaign["description_html"] == "<p>We need <strong>bars</strong>.</p>\n"

    edited = await svc.client.patch(
        f"/campaigns/{campaign['id']}", json={"goal": 600_000}, headers=svc.auth(owner)
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["goal"] == 600_000

    await svc.client.post(f"/campaigns/{campaign['id']}/submit", headers=svc.auth(owner))
    returned = await svc.client.post(
        f"/campaigns/{campaign['id']}/moderation",
        json={"decision": "return", "reason": "Add a photo of the site"},
        headers=svc.admin,
    )
    assert returned.status_code == 200, returned.text
    assert returned.json()["status"] == "draft"
    assert returned.json()["reason"] == "Add a photo of the site"

    await svc.client.post(f"/campaigns/{campaign['id']}/submit", headers=svc.auth(owner))
    live = await svc.client.post(
        f"/campaigns/{campaign['id']}/moderation", json={"decision": "approve"}, headers=svc.admin
    )
    body = live.json()
    assert body["status"] == "live", live.text
    assert body["reason"] is None
    assert body["deadline"] is not None and body["starts_at"] is not None

    expected = [
        "campaign.created",
        "campaign.edited",
        "campaign.submitted",
        "campaign.returned",
        "campaign.submitted",
        "campaign.published",
    ]

    def mine() -> list[Event]:
        events = [Event.from_json(m.body) for m in received]
        return [e for e in events if e.subject == campaign["id"]]

    await eventually(lambda: len(mine()) >= len(expected))
    events = mine()
    assert [e.routing_key for e in events] == expected
    assert [e.data["version"] for e in events] == [1, 2, 3, 4, 5, 6]
    for event in events:
        svc.ctx.contracts.validate(event)
    published = events[-1].data
    assert published["status"] == "live" and published["goal"] == 600_000
    assert published["deadline"] == body["deadline"].replace("Z", "+00:00")
    assert published["lat"] == 48.8638


async def test_transitions_refused_from_the_wrong_state_or_by_the_wrong_person(svc) -> None:
    owner, stranger = svc.user(), svc.user()
    draft = await svc.draft(owner)
    cid = draft["id"]
    # Only an admin moderates, and only submitted campaigns.
    as_owner = await svc.client.post(
        f"/campaigns/{cid}/moderation", json={"decision": "approve"}, headers=svc.auth(owner)
    )
    assert as_owner.status_code == 403
    assert as_owner.json()["error"]["code"] == "forbidden"
    not_submitted = await svc.client.post(
        f"/campaigns/{cid}/moderation", json={"decision": "approve"}, headers=svc.admin
    )
    assert not_submitted.status_code == 409
    assert not_submitted.json()["error"]["code"] == "invalid_transition"
    # A stranger does not even see someone else's draft.
    assert (await svc.client.post(f"/campaigns/{cid}/submit", headers=svc.auth(stranger))).status_code == 404
    assert (await svc.client.get(f"/campaigns/{cid}")).status_code == 404
    # Returning needs a reason.
    await svc.client.post(f"/campaigns/{cid}/submit", headers=svc.auth(owner))
    no_reason = await svc.client.post(
        f"/campaigns/{cid}/moderation", json={"decision": "return"}, headers=svc.admin
    )
    assert no_reason.status_code == 422
    assert no_reason.json()["error"]["code"] == "reason_required"
    # A submitted campaign is frozen for its owner.
    frozen = await svc.client.patch(f"/campaigns/{cid}", json={"summary": "x"}, headers=svc.auth(owner))
    assert frozen.status_code == 409
    assert frozen.json()["error"]["code"] == "not_editable"
    # Nothing was half-written by the refusals.
    assert (await svc.get(cid, owner))["version"] == 2


async def test_live_campaign_edit_rules_cancel_and_completion_rights(svc) -> None:
    owner, stranger = svc.user(), svc.user()
    live = await svc.live(owner)
    cid = live["id"]
    money = await svc.client.patch(f"/campaigns/{cid}", json={"goal": 1}, headers=svc.auth(owner))
    assert money.status_code == 409
    assert money.json()["error"]["code"] == "frozen_once_live"
    deadline = await svc.client.patch(
        f"/campaigns/{cid}", json={"duration_days": 60}, headers=svc.auth(owner)
    )
    assert deadline.status_code == 409
    text = await svc.client.patch(
        f"/campaigns/{cid}",
        json={"description": "New <script>alert(1)</script> [x](javascript:alert(1))"},
        headers=svc.auth(owner),
    )
    assert text.status_code == 200, text.text
    html = text.json()["description_html"]
    assert "<script" not in html and "&lt;script&gt;" in html  # shown as text, never run
    assert "href" not in html  # a javascript: link is not a link
    not_owner = await svc.client.patch(
        f"/campaigns/{cid}", json={"summary": "mine now"}, headers=svc.auth(stranger)
    )
    assert not_owner.status_code == 403

    assert (
        await svc.client.post(f"/campaigns/{cid}/cancel", json={"reason": "nope"}, headers=svc.auth(stranger))
    ).status_code == 403
    assert (
        await svc.client.post(f"/campaigns/{cid}/cancel", json={}, headers=svc.auth(owner))
    ).status_code == 422
    complete_live = await svc.client.post(
        f"/campaigns/{cid}/complete", json={"report": "done"}, headers=svc.auth(owner)
    )
    assert complete_live.status_code == 409
    canceled = await svc.client.post(
        f"/campaigns/{cid}/cancel", json={"reason": "The city gave us the bars"}, headers=svc.admin
    )
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["reason"] == "The city gave us the bars"


async def test_bad_input_gets_clear_4xx_bodies(svc) -> None:
    owner = svc.user()
    headers = svc.auth(owner)
    cases = [
        svc.campaign_body(goal=0),
        svc.campaign_body(goal=10**12),
        svc.campaign_body(currency="XYZ"),
        svc.campaign_body(duration_days=3),
        svc.campaign_body(duration_days=120),
        svc.campaign_body(title="x" * 141),
        svc.campaign_body(municipality="Mont Reuil"),
        svc.campaign_body(lat=48.0, lon=None),
        svc.campaign_body(cover_image_url="javascript:alert(1)"),
        {**svc.campaign_body(), "owner_id": "someone-else"},
        {**svc.campaign_body(), "status": "live"},
    ]
    for body in cases:
        response = await svc.client.post("/campaigns", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == "validation_error"
    assert (await svc.client.post("/campaigns", content=b"{nope", headers=headers)).status_code == 422
    assert (await svc.client.post("/campaigns", json=svc.campaign_body())).status_code == 401
    draft = await svc.draft(owner)
    empty = await svc.client.patch(f"/campaigns/{draft['id']}", json={}, headers=headers)
    assert empty.status_code == 422
    nulls = await svc.client.patch(f"/campaigns/{draft['id']}", json={"goal": None}, headers=headers)
    assert nulls.status_code == 422
    assert (await svc.client.get("/campaigns/" + "x" * 300)).status_code == 404
    assert (await svc.client.get("/campaigns", params={"cursor": "garbage!"})).status_code == 422
    assert (await svc.client.get("/campaigns", params={"sort": "random"})).status_code == 422
    assert (await svc.client.get("/campaigns", params={"status": "draft"})).status_code == 403


async def test_idempotency_key_returns_the_same_draft(svc) -> None:
    owner = svc.user()
    headers = {**svc.auth(owner), "Idempotency-Key": "create-abc-123"}
    first = await svc.client.post("/campaigns", json=svc.campaign_body(), headers=headers)
    again = await svc.client.post("/campaigns", json=svc.campaign_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    other = await svc.client.post("/campaigns", json=svc.campaign_body(goal=42), headers=headers)
    assert other.status_code == 409  # servicekit.idempotency's one answer (issue 11; was 422 here)
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    mine = await svc.client.get("/campaigns", params={"mine": "true"}, headers=svc.auth(owner))
    assert [c["id"] for c in mine.json()["items"]] == [first.json()["id"]]


async def test_events_on_the_wire_are_cloudevents(svc) -> None:
    assert svc.ctx.bus is not None
    _, received = await tap(svc.ctx.bus, "campaign.created")
    owner = svc.user()
    draft = await svc.draft(owner)
    await eventually(lambda: any(json.loads(m.body)["subject"] == draft["id"] for m in received))
    message = next(m for m in received if json.loads(m.body)["subject"] == draft["id"])
    body = json.loads(message.body)
    assert message.content_type == "application/cloudevents+json"
    assert body["specversion"] == "1.0"
    assert body["type"] == "org.civicfund.campaign.created"
    assert body["source"] == "/campaigns"


async def test_the_place_is_edited_in_draft_and_frozen_once_live(svc) -> None:
    owner = svc.user()
    draft = await svc.draft(owner)
    path = f"/campaigns/{draft['id']}"
    assert (await svc.client.patch(path, json={"lat": 48.87}, headers=svc.auth(owner))).status_code == 422
    moved = await svc.client.patch(
        path, json={"lat": 48.87, "lon": 2.46, "postcode": "93100"}, headers=svc.auth(owner)
    )
    assert moved.status_code == 200 and (moved.json()["lat"], moved.json()["lon"]) == (48.87, 2.46)
    live = await svc.live(owner)
    frozen = await svc.client.patch(
        f"/campaigns/{live['id']}", json={"lat": 48.0, "lon": 2.0}, headers=svc.auth(owner)
    )
    assert frozen.status_code == 409 and "lat" in frozen.json()["error"]["message"]
