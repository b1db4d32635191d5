"""A deleted account (`user.deleted` over the real broker): the person's offers, RSVPs, follows and
money records keep their part under a pseudonym and lose what reached them; their live and
submitted campaigns wait for an admin, who keeps one and stops another."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from servicekit.mongo import utcnow
from servicekit.privacy import pseudonym
from servicekit.testing.helpers import eventually


def _later(days: int = 3) -> str:
    return (utcnow() + timedelta(days=days)).isoformat()


async def _db(svc, collection: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    return await svc.ctx.mongo.db[collection].find(query).to_list()


async def test_a_deleted_helper_keeps_their_part_under_a_pseudonym(svc) -> None:
    owner, helper, waiting = svc.user(), svc.user(), svc.user()
    alias = pseudonym(helper)
    campaign = await svc.live(owner)
    cid = campaign["id"]
    auth = svc.auth(owner)
    need = await svc.client.post(
        f"/campaigns/{cid}/needs",
        json={"title": "Volunteers", "kind": "volunteers", "quantity": 5},
        headers=auth,
    )
    nid = need.json()["id"]
    offers = f"/campaigns/{cid}/needs/{nid}/offers"
    contact = {"channel": "email", "value": "helper@example.org"}
    answered = await svc.client.post(
        offers,
        json={"quantity": 2, "message": "Me and my sister", "contact": contact},
        headers=svc.auth(helper),
    )
    await svc.client.post(
        offers, json={"quantity": 1, "message": "Also Sunday", "contact": contact}, headers=svc.auth(helper)
    )
    accepted = await svc.client.post(
        f"{offers}/{answered.json()['id']}/decision", json={"decision": "accept"}, headers=auth
    )
    assert accepted.status_code == 200, accepted.text
    meetup = await svc.client.post(
        f"/campaigns/{cid}/meetups",
        json={"title": "Build day", "place": "Square du Bel-Air", "starts_at": _later(), "capacity": 1},
        headers=auth,
    )
    mid = meetup.json()["id"]
    rsvp = f"/campaigns/{cid}/meetups/{mid}/rsvp"
    assert (await svc.client.put(rsvp, headers=svc.auth(helper))).json()["state"] == "going"
    assert (await svc.client.put(rsvp, headers=svc.auth(waiting))).json()["state"] == "waitlisted"
    await svc.client.put(f"/campaigns/{cid}/follow", headers=svc.auth(helper))
    money = {"campaign_id": cid, "backer_id": helper, "amount": 2_500, "currency": "EUR"}
    await svc.publish("payment.succeeded", {**money, "pledge_id": f"plg_{cid}", "payment_id": f"pay_{cid}"})

    async def paid() -> bool:
        return (await svc.get(cid))["totals"]["backers_count"] == 1

    await eventually(paid)
    before = await svc.get(cid)
    assert before["followers_count"] == 1

    await svc.publish("user.deleted", {"user_id": helper}, subject=helper)

    async def forgotten() -> bool:
        return not await _db(svc, "rsvps", {"user_id": helper})

    await eventually(forgotten, timeout=20)
    seen = (await svc.client.get(offers, headers=auth)).json()["items"]
    assert [(o["from_user_id"], o["state"], o["message"], o["contact"]["value"]) for o in seen] == [
        (alias, "accepted", "", ""),
        (alias, "withdrawn", "", ""),
    ]
    counts = next(
        n for n in (await svc.client.get(f"/campaigns/{cid}/needs")).json()["items"] if n["id"] == nid
    )
    assert (counts["accepted"], counts["offered"], counts["remaining"]) == (2, 0, 3)
    # Their seat at the meetup still to come goes to the person waiting.
    attendees = await svc.client.get(f"/campaigns/{cid}/meetups/{mid}/attendees", headers=auth)
    assert attendees.json() == {"going": [waiting], "waitlisted": []}
    after = await svc.get(cid)
    assert after["followers_count"] == 0
    # The money they gave still counts, under the pseudonym.
    assert after["totals"]["raised"] == 2_500 and after["totals"]["backers_count"] == 1
    for collection, field in (("payments", "backer_id"), ("backers", "backer_id"), ("follows", "user_id")):
        assert not await _db(svc, collection, {field: helper}), collection
    assert [b["_id"] for b in await _db(svc, "backers", {"campaign_id": cid})] == [f"{cid}|{alias}"]
    # A refund reported after the deletion names the pseudonym and lands on the same backer.
    await svc.publish(
        "payment.refunded",
        {**money, "backer_id": alias, "amount": 2_500, "pledge_id": f"plg_{cid}", "payment_id": f"pay_{cid}",
         "refund_id": f"re_{cid}"},
    )  # fmt: skip

    async def refunded() -> bool:
        totals = (await svc.get(cid))["totals"]
        return totals["raised"] == 0 and totals["backers_count"] == 0

    await eventually(refunded)


async def test_a_deleted_owners_campaigns_wait_for_an_admin(svc) -> None:
    owner = svc.user()
    kept = await svc.live(owner)
    stopped = await svc.live(owner)
    draft = await svc.draft(owner)
    news = await svc.client.post(
        f"/campaigns/{kept['id']}/updates",
        json={"title": "Week 1", "body": "Bars ordered."},
        headers=svc.auth(owner),
    )
    assert news.status_code == 201, news.text
    other = await svc.live(svc.user())

    await svc.publish("user.deleted", {"user_id": owner}, subject=owner)

    async def waiting() -> list[str]:
        listed = await svc.client.get("/owner-decisions", params={"limit": 100}, headers=svc.admin)
        assert listed.status_code == 200, listed.text
        return [c["id"] for c in listed.json()["items"]]

    await eventually(lambda: _both(waiting, kept["id"], stopped["id"]), timeout=20)
    ids = await waiting()
    assert draft["id"] not in ids and other["id"] not in ids
    shown = await svc.get(kept["id"], svc.user())
    assert shown["owner_deleted"] is True and shown["pending_decision"] == "owner_deleted"
    assert (await svc.get(other["id"]))["owner_deleted"] is False
    assert [u["author_id"] for u in await _db(svc, "updates", {"campaign_id": kept["id"]})] == [
        pseudonym(owner)
    ]

    citizen = await svc.client.get("/owner-decisions", headers=svc.auth(svc.user()))
    assert citizen.status_code == 403
    decide = "/campaigns/{}/owner-decision"
    refused = await svc.client.post(
        decide.format(kept["id"]), json={"decision": "keep"}, headers=svc.auth(owner)
    )
    assert refused.status_code == 403
    none_pending = await svc.client.post(
        decide.format(other["id"]), json={"decision": "keep"}, headers=svc.admin
    )
    assert none_pending.status_code == 409 and none_pending.json()["error"]["code"] == "no_decision_pending"

    keep = await svc.client.post(decide.format(kept["id"]), json={"decision": "keep"}, headers=svc.admin)
    assert keep.status_code == 200, keep.text
    assert (keep.json()["status"], keep.json()["pending_decision"]) == ("live", None)
    stop = await svc.client.post(
        decide.format(stopped["id"]),
        json={"decision": "stop", "reason": "Nobody to deliver it"},
        headers=svc.admin,
    )
    assert stop.status_code == 200, stop.text
    assert (stop.json()["status"], stop.json()["reason"]) == ("canceled", "Nobody to deliver it")
    again = await svc.client.post(decide.format(stopped["id"]), json={"decision": "stop"}, headers=svc.admin)
    assert again.status_code == 409
    assert not set(await waiting()) & {kept["id"], stopped["id"]}
    # A redelivered deletion (another event, same person) changes nothing the admin decided.
    await svc.publish("user.deleted", {"user_id": owner}, subject=owner)
    marker = await svc.live(svc.user())
    await svc.publish("user.deleted", {"user_id": marker["owner_id"]}, subject=marker["owner_id"])
    await eventually(lambda: _listed(waiting, marker["id"]), timeout=20)
    assert (await svc.get(kept["id"]))["pending_decision"] is None


async def _both(waiting, first: str, second: str) -> bool:
    ids = await waiting()
    return first in ids and second in ids


async def _listed(waiting, campaign_id: str) -> bool:
    return campaign_id in await waiting()
