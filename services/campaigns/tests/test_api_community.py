"""Beyond money: needs and offers (contacts only for the owner), updates, meetups with RSVP and
a waiting list, follow. Every mutating endpoint refuses the wrong person."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from servicekit.events import Event
from servicekit.testing.helpers import eventually, tap


def _later(days: int = 3) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def test_needs_and_offers(svc) -> None:
    assert svc.ctx.bus is not None
    _, offers_events = await tap(svc.ctx.bus, "campaign.offer_received")
    owner, helper, nosy = svc.user(), svc.user(), svc.user()
    campaign = await svc.live(owner)
    cid = campaign["id"]
    need = await svc.client.post(
        f"/campaigns/{cid}/needs",
        json={"title": "Volunteers on Saturday", "kind": "volunteers", "quantity": 4},
        headers=svc.auth(owner),
    )
    assert need.status_code == 201, need.text
    nid = need.json()["id"]
    assert (
        await svc.client.post(
            f"/campaigns/{cid}/needs", json={"title": "Tools", "quantity": 1}, headers=svc.auth(nosy)
        )
    ).status_code == 403

    offer = await svc.client.post(
        f"/campaigns/{cid}/needs/{nid}/offers",
        json={
            "quantity": 3,
            "message": "My brothers and I",
            "contact": {"channel": "phone", "value": "+33 6 00"},
        },
        headers=svc.auth(helper),
    )
    assert offer.status_code == 201, offer.text
    oid = offer.json()["id"]
    small = await svc.client.post(
        f"/campaigns/{cid}/needs/{nid}/offers", json={"quantity": 2}, headers=svc.auth(nosy)
    )
    bad_contact = await svc.client.post(
        f"/campaigns/{cid}/needs/{nid}/offers",
        json={"quantity": 1, "contact": {"channel": "email"}},
        headers=svc.auth(nosy),
    )
    assert bad_contact.status_code == 422
    own = await svc.client.post(
        f"/campaigns/{cid}/needs/{nid}/offers", json={"quantity": 1}, headers=svc.auth(owner)
    )
    assert own.status_code == 409

    # Public counts, no contacts.
    public = (await svc.get(cid))["needs"][0]
    assert public["offers_count"] == 2 and public["offered"] == 5 and public["accepted"] == 0
    assert "contact" not in json.dumps(public)
    # The owner sees contacts; a helper sees only their own offer.
    as_owner = (await svc.client.get(f"/campaigns/{cid}/needs/{nid}/offers", headers=svc.auth(owner))).json()
    assert {o["contact"]["channel"] for o in as_owner["items"]} == {"phone", "in_app"}
    as_nosy = (await svc.client.get(f"/campaigns/{cid}/needs/{nid}/offers", headers=svc.auth(nosy))).json()
    assert [o["id"] for o in as_nosy["items"]] == [small.json()["id"]]
    assert (await svc.client.get(f"/campaigns/{cid}/needs/{nid}/offers")).status_code == 401

    decide = f"/campaigns/{cid}/needs/{nid}/offers/{oid}/decision"
    assert (
        await svc.client.post(decide, json={"decision": "accept"}, headers=svc.auth(helper))
    ).status_code == 403
    accepted = await svc.client.post(decide, json={"decision": "accept"}, headers=svc.auth(owner))
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    again = await svc.client.post(decide, json={"decision": "decline"}, headers=svc.auth(owner))
    assert again.status_code == 409
    too_many = await svc.client.post(
        f"/campaigns/{cid}/needs/{nid}/offers/{small.json()['id']}/decision",
        json={"decision": "accept"},
        headers=svc.auth(owner),
    )
    assert too_many.status_code == 409  # 3 + 2 > 4
    counts = (await svc.get(cid))["needs"][0]
    assert counts["accepted"] == 3 and counts["remaining"] == 1 and counts["offered"] == 2

    lower = await svc.client.patch(
        f"/campaigns/{cid}/needs/{nid}", json={"quantity": 2}, headers=svc.auth(owner)
    )
    assert lower.status_code == 409
    closed = await svc.client.patch(
        f"/campaigns/{cid}/needs/{nid}", json={"open": False}, headers=svc.auth(owner)
    )
    assert closed.status_code == 200 and closed.json()["open"] is False
    late = await svc.client.post(
        f"/campaigns/{cid}/needs/{nid}/offers", json={"quantity": 1}, headers=svc.auth(nosy)
    )
    assert late.status_code == 409

    def received() -> list[Event]:
        return [Event.from_json(m.body) for m in offers_events if Event.from_json(m.body).subject == cid]

    await eventually(lambda: len(received()) == 2)
    assert received()[0].data["owner_id"] == owner and received()[0].data["from_user_id"] == helper


async def test_each_decision_on_an_offer_tells_the_helper_once(svc) -> None:
    assert svc.ctx.bus is not None and svc.ctx.contracts is not None
    _, decided_events = await tap(svc.ctx.bus, "campaign.offer_decided")
    owner, first, second, last = svc.user(), svc.user(), svc.user(), svc.user()
    campaign = await svc.live(owner)
    cid = campaign["id"]
    need = await svc.client.post(
        f"/campaigns/{cid}/needs", json={"title": "Shovels", "quantity": 4}, headers=svc.auth(owner)
    )
    nid = need.json()["id"]
    offers = {}
    for helper, quantity in ((first, 3), (second, 2), (last, 1)):
        made = await svc.client.post(
            f"/campaigns/{cid}/needs/{nid}/offers", json={"quantity": quantity}, headers=svc.auth(helper)
        )
        assert made.status_code == 201, made.text
        offers[helper] = made.json()["id"]

    def decide(helper: str, decision: str, who: str) -> Any:
        return svc.client.post(
            f"/campaigns/{cid}/needs/{nid}/offers/{offers[helper]}/decision",
            json={"decision": decision},
            headers=svc.auth(who),
        )

    assert (await decide(first, "accept", owner)).status_code == 200
    assert (await decide(second, "accept", owner)).status_code == 409  # 3 + 2 > 4: no decision
    assert (await decide(second, "decline", first)).status_code == 403
    assert (await decide(second, "decline", owner)).status_code == 200
    assert (await decide(first, "decline", owner)).status_code == 409  # already decided

    def decided() -> list[Event]:
        return [e for e in (Event.from_json(m.body) for m in decided_events) if e.subject == cid]

    # The outbox relays in commit order: once the last decision's event is here, any event a
    # refused decision had wrongly emitted would be here too.
    assert (await decide(last, "decline", owner)).status_code == 200
    await eventually(lambda: any(e.data["from_user_id"] == last for e in decided()))
    events = decided()
    assert len(events) == 3
    for event in events:
        svc.ctx.contracts.validate(event)
    by_helper = {e.data["from_user_id"]: e.data for e in events}
    assert by_helper[first] == {
        "campaign_id": cid,
        "need_id": nid,
        "offer_id": offers[first],
        "owner_id": owner,
        "from_user_id": first,
        "quantity": 3,
        "need_title": "Shovels",
        "campaign_title": campaign["title"],
        "decision": "accepted",
    }
    assert by_helper[second]["decision"] == "declined" and by_helper[second]["quantity"] == 2


async def test_updates_are_posted_by_the_owner_and_sanitised(svc) -> None:
    assert svc.ctx.bus is not None
    _, update_events = await tap(svc.ctx.bus, "campaign.update_posted")
    owner = svc.user()
    draft = await svc.draft(owner)
    early = await svc.client.post(
        f"/campaigns/{draft['id']}/updates", json={"title": "Hello", "body": "hi"}, headers=svc.auth(owner)
    )
    assert early.status_code == 409
    campaign = await svc.live(owner)
    cid = campaign["id"]
    body = "The bars **arrived**! <img src=x onerror=alert(1)>"
    assert (
        await svc.client.post(
            f"/campaigns/{cid}/updates", json={"title": "News", "body": body}, headers=svc.auth(svc.user())
        )
    ).status_code == 403
    for i in range(3):
        posted = await svc.client.post(
            f"/campaigns/{cid}/updates", json={"title": f"News {i}", "body": body}, headers=svc.auth(owner)
        )
        assert posted.status_code == 201, posted.text
        assert "<img" not in posted.json()["body_html"]
    first = (await svc.client.get(f"/campaigns/{cid}/updates", params={"limit": 2})).json()
    assert [u["title"] for u in first["items"]] == ["News 2", "News 1"]
    rest = (
        await svc.client.get(f"/campaigns/{cid}/updates", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [u["title"] for u in rest["items"]] == ["News 0"] and rest["next_cursor"] is None
    await eventually(lambda: sum(1 for m in update_events if json.loads(m.body)["subject"] == cid) == 3)
    data = json.loads(update_events[-1].body)["data"]
    assert data["excerpt"].startswith("The bars arrived!")


async def test_meetup_rsvp_waiting_list_and_promotion(svc) -> None:
    owner = svc.user()
    a, b, c = svc.user(), svc.user(), svc.user()
    campaign = await svc.live(owner)
    cid = campaign["id"]
    body = {"title": "Build day", "place": "Square du Bel-Air", "starts_at": _later(), "capacity": 2}
    assert (
        await svc.client.post(f"/campaigns/{cid}/meetups", json=body, headers=svc.auth(a))
    ).status_code == 403
    past = await svc.client.post(
        f"/campaigns/{cid}/meetups", json={**body, "starts_at": _later(-1)}, headers=svc.auth(owner)
    )
    assert past.status_code == 422
    naive = await svc.client.post(
        f"/campaigns/{cid}/meetups",
        json={**body, "starts_at": "2030-01-01T10:00:00"},
        headers=svc.auth(owner),
    )
    assert naive.status_code == 422
    created = await svc.client.post(f"/campaigns/{cid}/meetups", json=body, headers=svc.auth(owner))
    assert created.status_code == 201, created.text
    mid = created.json()["id"]
    rsvp = f"/campaigns/{cid}/meetups/{mid}/rsvp"
    states = [(await svc.client.put(rsvp, headers=svc.auth(u))).json()["state"] for u in (a, b, c)]
    assert states == ["going", "going", "waitlisted"]
    assert (await svc.client.put(rsvp, headers=svc.auth(a))).json()["state"] == "going"  # repeat: no change
    left = await svc.client.delete(rsvp, headers=svc.auth(a))
    assert left.json()["meetup"]["going"] == 2 and left.json()["meetup"]["waitlisted"] == 0
    attendees = f"/campaigns/{cid}/meetups/{mid}/attendees"
    assert (await svc.client.get(attendees, headers=svc.auth(b))).status_code == 403
    who = (await svc.client.get(attendees, headers=svc.auth(owner))).json()
    assert who == {"going": [b, c], "waitlisted": []}
    detail = await svc.get(cid)
    assert detail["next_meetups"][0]["id"] == mid and detail["next_meetups"][0]["going"] == 2


async def test_follow_is_idempotent_and_counted(svc) -> None:
    assert svc.ctx.bus is not None
    _, follow_events = await tap(svc.ctx.bus, "campaign.*")
    campaign = await svc.live(svc.user())
    cid = campaign["id"]
    fan = svc.user()
    assert (await svc.client.put(f"/campaigns/{cid}/follow")).status_code == 401
    for _ in range(2):
        followed = await svc.client.put(f"/campaigns/{cid}/follow", headers=svc.auth(fan))
        assert followed.json() == {"campaign_id": cid, "following": True, "followers_count": 1}
    assert (await svc.get(cid))["followers_count"] == 1
    unfollowed = await svc.client.delete(f"/campaigns/{cid}/follow", headers=svc.auth(fan))
    assert unfollowed.json()["followers_count"] == 0

    def kinds() -> list[str]:
        events = [Event.from_json(m.body) for m in follow_events]
        return [e.routing_key for e in events if e.subject == cid and e.routing_key.endswith("followed")]

    await eventually(lambda: len(kinds()) == 2)
    assert kinds() == ["campaign.followed", "campaign.unfollowed"]
    hidden = await svc.draft(svc.user())
    assert (
        await svc.client.put(f"/campaigns/{hidden['id']}/follow", headers=svc.auth(fan))
    ).status_code == 404


async def test_me_following_lists_what_i_follow_newest_first(svc) -> None:
    first, second = await svc.live(svc.user()), await svc.live(svc.user())
    fan = svc.user()
    assert (await svc.client.get("/me/following")).status_code == 401
    for campaign in (first, second):
        assert (
            await svc.client.put(f"/campaigns/{campaign['id']}/follow", headers=svc.auth(fan))
        ).status_code == 200
    listed = (await svc.client.get("/me/following", headers=svc.auth(fan))).json()
    assert [c["id"] for c in listed["items"]] == [second["id"], first["id"]]
    await svc.client.delete(f"/campaigns/{first['id']}/follow", headers=svc.auth(fan))
    listed = (await svc.client.get("/me/following", headers=svc.auth(fan))).json()
    assert [c["id"] for c in listed["items"]] == [second["id"]]
    assert (await svc.client.get("/me/following", headers=svc.auth(svc.user()))).json()["items"] == []


async def test_the_campaign_tells_the_caller_whether_they_follow_it_and_come(svc) -> None:
    owner, fan = svc.user(), svc.user()
    campaign = await svc.live(owner)
    cid = campaign["id"]
    assert (await svc.get(cid)).get("viewer") is None  # anonymous
    seen = (await svc.client.get(f"/campaigns/{cid}", headers=svc.auth(fan))).json()
    assert seen["viewer"] == {"following": False, "rsvps": {}}
    await svc.client.put(f"/campaigns/{cid}/follow", headers=svc.auth(fan))
    starts = "2099-06-01T10:00:00Z"
    meetup = await svc.client.post(
        f"/campaigns/{cid}/meetups",
        json={"title": "Planting day", "starts_at": starts, "place": "The park", "capacity": 5},
        headers=svc.auth(owner),
    )
    assert meetup.status_code == 201, meetup.text
    mid = meetup.json()["id"]
    await svc.client.put(f"/campaigns/{cid}/meetups/{mid}/rsvp", headers=svc.auth(fan))
    seen = (await svc.client.get(f"/campaigns/{cid}", headers=svc.auth(fan))).json()
    assert seen["viewer"] == {"following": True, "rsvps": {mid: "going"}}
