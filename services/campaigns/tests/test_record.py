"""The project's record (GET /campaigns/{id}/record): money, the match, a call's award and
votes, in-kind help from citizens (per need, valued) and from the city (per label support item,
offered -> accepted -> delivered as the owner confirms), and permits: declared required by the
owner or an official of the labelling city, granted only by an official of that city; the
campaign's events say `permits_pending` (payments holds the payout while it is true)."""

from __future__ import annotations

import json
import uuid

from servicekit.testing.helpers import eventually, tap


async def _delivered_help(svc, cid: str, owner: str, helper: str) -> str:
    r = await svc.client.post(
        f"/campaigns/{cid}/needs",
        json={"title": "Oak planks", "kind": "goods", "quantity": 10, "unit": "plank", "unit_value": 2_500,
              "counts_toward_goal": True},
        headers=svc.auth(owner),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    nid = r.json()["id"]
    path = f"/campaigns/{cid}/needs/{nid}/offers"
    offer = await svc.client.post(path, json={"quantity": 4}, headers=svc.auth(helper))
    oid = offer.json()["id"]
    await svc.client.post(f"{path}/{oid}/decision", json={"decision": "accept"}, headers=svc.auth(owner))
    pending = await svc.client.post(path, json={"quantity": 2}, headers=svc.auth(svc.user()))
    assert pending.status_code == 201
    done = await svc.client.post(f"{path}/{oid}/delivered", headers=svc.auth(owner))
    assert done.status_code == 200, done.text
    return nid


async def _record(svc, cid: str) -> dict:
    r = await svc.client.get(f"/campaigns/{cid}/record")
    assert r.status_code == 200, r.text
    return r.json()


async def test_the_record_shows_money_and_in_kind_apart_and_city_support_as_confirmed(svc) -> None:
    owner, helper = svc.user(), svc.user()
    campaign = await svc.live(owner, goal=100_000)
    cid = campaign["id"]
    nid = await _delivered_help(svc, cid, owner, helper)
    grant = {
        "label_id": f"lbl_{uuid.uuid4().hex[:8]}",
        "campaign_id": cid,
        "municipality": "montreuil",
        "status": "granted",
        "support": [
            {
                "kind": "venue",
                "description": "Salle Jean-Jaurès, Saturdays",
                "value": 30_000,
                "currency": "EUR",
            },
            {"kind": "match_funding", "value": 5_000, "currency": "EUR"},
            {"kind": "scaffolding", "description": "two towers"},
        ],
        "in_kind_value": 30_000,
        "currency": "EUR",
    }
    await svc.publish("label.granted", grant)

    async def labelled() -> bool:
        return len((await _record(svc, cid))["in_kind"]["city"]) == 2

    await eventually(labelled)
    rec = await _record(svc, cid)
    assert rec["money"] == {"raised": 0, "pledged": 0, "backers": 0, "currency": "EUR"}
    assert rec["award"] is None and rec["permits"] == [] and rec["permits_pending"] is False
    [line] = rec["in_kind"]["citizens"]
    assert line["need_id"] == nid and line["counts_toward_goal"] is True
    assert (line["offered"], line["accepted"], line["delivered"]) == (2, 4, 4)
    assert (line["value_offered"], line["value_accepted"], line["value_delivered"]) == (5_000, 10_000, 10_000)
    venue, other = rec["in_kind"]["city"]
    assert venue["type"] == "venue" and venue["value"] == 30_000 and venue["status"] == "offered"
    assert other["type"] == "other" and other["value"] == 0  # money support is the match, not in-kind
    assert rec["in_kind"]["totals"] == {
        "citizens_delivered": 10_000, "citizens_counted": 10_000, "city_offered": 30_000, "city_delivered": 0,
    }  # fmt: skip
    assert rec["progress_bp"] == 1_000  # the counted help moves the progress; the money is still 0

    base = f"/campaigns/{cid}/city-support/{grant['label_id']}"
    assert (
        await svc.client.post(f"{base}/0", json={"status": "accepted"}, headers=svc.auth(helper))
    ).status_code == 403
    assert (
        await svc.client.post(f"{base}/1", json={"status": "accepted"}, headers=svc.auth(owner))
    ).status_code == 404
    bad = await svc.client.post(f"{base}/0", json={"status": "lost"}, headers=svc.auth(owner))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    accepted = await svc.client.post(f"{base}/0", json={"status": "accepted"}, headers=svc.auth(owner))
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    delivered = await svc.client.post(f"{base}/0", json={"status": "delivered"}, headers=svc.auth(owner))
    assert delivered.status_code == 200 and delivered.json()["status"] == "delivered"
    back = await svc.client.post(f"{base}/0", json={"status": "accepted"}, headers=svc.auth(owner))
    assert back.status_code == 409 and back.json()["error"]["code"] == "support_not_movable"
    rec = await _record(svc, cid)
    assert rec["in_kind"]["city"][0]["status"] == "delivered"
    assert rec["in_kind"]["totals"]["city_delivered"] == 30_000
    assert rec["money"]["raised"] == 0


async def test_permits_hold_until_an_official_of_the_labelling_city_grants_them(svc) -> None:
    _, edited = await tap(svc.ctx.bus, "campaign.edited")
    owner = svc.user()
    campaign = await svc.live(owner)
    cid = campaign["id"]
    official = svc.auth(svc.user(), municipalities={"montreuil": "manager"})
    elsewhere = svc.auth(svc.user(), municipalities={"bagnolet": "manager"})

    def pending_flags() -> list[bool]:
        events = [json.loads(m.body) for m in edited]
        return [e["data"]["permits_pending"] for e in events if e["subject"] == cid]

    body = {"name": "Temporary occupation of place de la République", "authority": "Roads office"}
    assert (
        await svc.client.post(f"/campaigns/{cid}/permits", json=body, headers=elsewhere)
    ).status_code == 403
    assert (
        await svc.client.post(f"/campaigns/{cid}/permits", json={"name": "x"}, headers=svc.auth(owner))
    ).status_code == 422
    r = await svc.client.post(f"/campaigns/{cid}/permits", json=body, headers=svc.auth(owner))
    assert r.status_code == 201, r.text
    mine = r.json()
    assert mine["status"] == "required" and mine["declared_by"] == "owner"
    city = await svc.client.post(f"/campaigns/{cid}/permits", json={"name": "Noise waiver", "authority": "Mairie"},
                                 headers=official)  # fmt: skip
    assert city.status_code == 201 and city.json()["declared_by"] == "city"
    assert city.json()["municipality"] == "montreuil"
    await eventually(lambda: pending_flags() == [True], timeout=10)
    assert (await svc.get(cid))["version"] == campaign["version"] + 1

    decide = f"/campaigns/{cid}/permits/{mine['id']}/decision"
    assert (
        await svc.client.post(decide, json={"decision": "granted"}, headers=svc.auth(owner))
    ).status_code == 403
    assert (await svc.client.post(decide, json={"decision": "granted"}, headers=elsewhere)).status_code == 403
    unknown = await svc.client.post(f"/campaigns/{cid}/permits/pmt_nope/decision", json={"decision": "granted"},
                                    headers=official)  # fmt: skip
    assert unknown.status_code == 404
    granted = await svc.client.post(decide, json={"decision": "granted"}, headers=official)
    assert granted.status_code == 200 and granted.json()["status"] == "granted"
    assert (await _record(svc, cid))["permits_pending"] is True  # the city's own permit is still required
    waiver = f"/campaigns/{cid}/permits/{city.json()['id']}/decision"
    assert (await svc.client.post(waiver, json={"decision": "granted"}, headers=official)).status_code == 200
    await eventually(lambda: pending_flags() == [True, False], timeout=10)
    rec = await _record(svc, cid)
    assert rec["permits_pending"] is False
    assert [p["status"] for p in rec["permits"]] == ["granted", "granted"]


async def test_a_call_award_shows_with_its_votes(svc) -> None:
    _, published = await tap(svc.ctx.bus, "campaign.published")
    proposer = svc.user()
    selected = {
        "call_id": "call_record_2027",
        "proposal_id": f"prp_{uuid.uuid4().hex[:8]}",
        "municipality": "montreuil",
        "proposer_id": proposer,
        "title": "Benches on the square",
        "award": 6_000,
        "goal": 10_000,
        "currency": "EUR",
        "votes": 412,
    }
    await svc.publish("call.proposal_selected", selected)

    def launched() -> list[str]:
        events = [json.loads(m.body)["data"] for m in published]
        return [d["campaign_id"] for d in events if d.get("owner_id") == proposer]

    await eventually(lambda: len(launched()) == 1, timeout=20)
    cid = launched()[0]

    async def awarded() -> bool:
        return (await _record(svc, cid))["award"] is not None

    await eventually(awarded)
    rec = await _record(svc, cid)
    assert rec["award"] == {"call_id": "call_record_2027", "amount": 6_000, "votes": 412}
    assert rec["match"] == {"promised": 6_000, "given": 6_000, "counted": 6_000}
    assert rec["in_kind"]["city"] == []  # the award is money: the match, not in-kind
    assert (await svc.client.get("/campaigns/cmp_nope/record")).status_code == 404
