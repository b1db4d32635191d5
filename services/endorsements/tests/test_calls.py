"""A call for projects from opening to selection: proposals, shortlist, resident votes
(double vote refused), reproducible results, winners announced with their award."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from servicekit.testing.helpers import eventually, tap


def _iso(dt: datetime) -> str:
    return dt.isoformat()


async def test_call_from_opening_to_selection_with_votes(svc) -> None:
    slug = await svc.city(postcodes=("93100",))
    await svc.appoint(slug, "usr_claire", "manager")
    await svc.appoint(slug, "usr_yusuf", "reviewer")
    now = datetime.now(UTC)
    call = {
        "title": "Budget participatif 2027: des places pour tous",
        "theme": "public space",
        "eligibility": {"categories": ["sport", "culture"]},
        "budget": 100_000, "max_award": 60_000, "currency": "EUR",
        "submission_opens_at": _iso(now - timedelta(hours=1)),
        "submission_closes_at": _iso(now + timedelta(days=10)),
        "vote_opens_at": _iso(now + timedelta(days=10)),
        "vote_closes_at": _iso(now + timedelta(days=20)),
        "winners": 2, "selection_mode": "jury_then_vote", "votes_per_resident": 2,
    }  # fmt: skip
    r = await svc.http.post(f"/municipalities/{slug}/calls", json=call, headers=svc.who("usr_claire"))
    assert r.status_code == 402  # no subscription yet
    await svc.trial(slug)
    r = await svc.http.post(f"/municipalities/{slug}/calls", json=call, headers=svc.who("usr_yusuf"))
    assert r.status_code == 403  # reviewers do not run calls
    bad = {**call, "vote_opens_at": _iso(now)}
    r = await svc.http.post(f"/municipalities/{slug}/calls", json=bad, headers=svc.who("usr_claire"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_call_windows"
    _, events = await tap(svc.ctx.bus, "call.*")
    _, public = await tap(svc.ctx.bus, f"{slug}.call.*", exchange="public")
    r = await svc.http.post(f"/municipalities/{slug}/calls", json=call, headers=svc.who("usr_claire"))
    assert r.status_code == 201, r.text
    call_id = r.json()["id"]

    async def propose(who: str, title: str, amount: int, category: str = "sport", postcode: str = "93100"):
        body = {"title": title, "summary": f"{title}: a project for the neighbourhood", "category": category,
                "requested_amount": amount, "postcode": postcode, "goal": amount * 2}  # fmt: skip
        return await svc.http.post(f"/calls/{call_id}/proposals", json=body, headers=svc.who(who))

    assert (await propose("usr_x", "Skate park", 10_000, category="roads")).status_code == 422
    assert (await propose("usr_x", "Skate park", 10_000, postcode="75001")).status_code == 422
    ids = {}
    for who, title, amount in [("usr_amina", "Street workout", 50_000), ("usr_lucas", "Repair cafe", 40_000),
                               ("usr_sofia", "Open-air cinema", 30_000), ("usr_x", "Chess tables", 5_000)]:  # fmt: skip
        r = await propose(who, title, amount)
        assert r.status_code == 201, r.text
        ids[title] = r.json()["id"]
    for title in ("Street workout", "Repair cafe", "Open-air cinema"):
        r = await svc.http.post(
            f"/proposals/{ids[title]}/shortlist", json={"note": "fits"}, headers=svc.who("usr_yusuf")
        )
        assert r.status_code == 200 and r.json()["status"] == "shortlisted"
    assert (await svc.http.post(f"/proposals/{ids['Chess tables']}/shortlist", json={},
                                headers=svc.who("usr_amina"))).status_code == 403  # fmt: skip

    # Residents, by declared postcode (from the gateway's user events).
    voters = {"v1": "93100", "v2": "93100", "v3": "93100", "v4": "93100", "outsider": "75011"}
    for uid, postcode in voters.items():
        await svc.publish("user.registered", uid, {"user_id": uid, "email": f"{uid}@ex.org", "display_name": uid,
                                                   "locale": "fr", "postcode": postcode}, source="gateway")  # fmt: skip
    await svc.known("users", {"_id": "outsider"})
    vote = lambda pid, uid: svc.http.post(f"/proposals/{pid}/votes", headers=svc.who(uid))  # noqa: E731
    r = await vote(ids["Street workout"], "v1")
    assert r.status_code == 403 and "not open" in r.json()["error"]["message"]  # vote window not open yet

    # The manager closes submissions early and opens the vote now.
    now = datetime.now(UTC)
    r = await svc.http.post(f"/calls/{call_id}/schedule", headers=svc.who("usr_claire"), json={
        "submission_closes_at": _iso(now), "vote_opens_at": _iso(now), "vote_closes_at": _iso(now + timedelta(days=7))})  # fmt: skip
    assert r.status_code == 200, r.text
    assert (await propose("usr_late", "Too late", 1_000)).status_code == 409

    ballots = [("v1", "Street workout"), ("v1", "Repair cafe"), ("v2", "Street workout"), ("v2", "Open-air cinema"),
               ("v3", "Open-air cinema"), ("v4", "Street workout")]  # fmt: skip
    for uid, title in ballots:
        r = await vote(ids[title], uid)
        assert r.status_code == 201, r.text
    r = await vote(ids["Street workout"], "v1")
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_voted"
    r = await vote(ids["Open-air cinema"], "v1")
    assert r.status_code == 409  # v1 used both votes
    r = await vote(ids["Street workout"], "outsider")
    assert r.status_code == 403 and "resident" in r.json()["error"]["message"]
    r = await vote(ids["Chess tables"], "v3")
    assert r.status_code == 403  # not shortlisted
    assert (await svc.http.get(f"/calls/{call_id}/results")).status_code == 403  # public after the vote

    # Close the vote; results are the same however often they are computed.
    now = datetime.now(UTC)
    r = await svc.http.post(f"/calls/{call_id}/schedule", headers=svc.who("usr_claire"),
                            json={"vote_closes_at": _iso(now)})  # fmt: skip
    assert r.status_code == 200, r.text
    first = (await svc.http.get(f"/calls/{call_id}/results")).json()
    second = (await svc.http.get(f"/calls/{call_id}/results")).json()
    assert first == second and first["ballots"] == 6
    ranking = [(r["proposal_id"], r["votes"], r["award"], r["selected"]) for r in first["ranking"]]
    # 3 votes, 50,000; then 2 votes, 30,000 (fits: 80,000 <= 100,000); the repair cafe has 1 vote.
    assert ranking[0] == (ids["Street workout"], 3, 50_000, True)
    assert ranking[1] == (ids["Open-air cinema"], 2, 30_000, True)
    assert ranking[2][0] == ids["Repair cafe"] and ranking[2][3] is False

    r = await svc.http.post(f"/calls/{call_id}/selection", json={}, headers=svc.who("usr_claire"))
    assert r.status_code == 422  # money: Idempotency-Key (servicekit's header rule; was 400)
    headers = {**svc.who("usr_claire"), "Idempotency-Key": "select-1"}
    r = await svc.http.post(f"/calls/{call_id}/selection", json={}, headers=headers)
    assert r.status_code == 200, r.text
    again = await svc.http.post(f"/calls/{call_id}/selection", json={}, headers=headers)
    assert again.json() == r.json()
    assert (await svc.http.get(f"/calls/{call_id}")).json()["status"] == "decided"

    def of(key: str) -> list[dict]:
        return [json.loads(m.body)["data"] for m in events if m.routing_key == key]

    await eventually(lambda: len(of("call.proposal_selected")) == 2 and of("call.closed"))
    selected = {d["proposal_id"]: d for d in of("call.proposal_selected")}
    assert selected[ids["Street workout"]]["award"] == 50_000
    assert selected[ids["Street workout"]]["proposer_id"] == "usr_amina"
    assert selected[ids["Street workout"]]["goal"] == 100_000
    # The campaign each winner becomes is named at once, in the event and on the proposal.
    listed = {p["id"]: p for p in (await svc.http.get(f"/calls/{call_id}/proposals")).json()["items"]}
    for pid, data in selected.items():
        assert data["campaign_id"].startswith("cmp_") and listed[pid]["campaign_id"] == data["campaign_id"]
    assert listed[ids["Repair cafe"]]["campaign_id"] is None
    assert len(of("call.vote_cast")) == 6 and len(of("call.proposal_submitted")) == 4
    await eventually(lambda: sum(m.routing_key == f"{slug}.call.proposal_selected" for m in public) == 2)
    assert all("proposer_id" not in json.loads(m.body)["data"] for m in public)
    assert not any(m.routing_key.endswith("vote_cast") for m in public)  # ballots stay internal


async def test_campaign_draft_for_a_call_becomes_a_proposal_and_deleted_users_are_forgotten(svc) -> None:
    slug = await svc.city(postcodes=("93100",))
    await svc.appoint(slug, "usr_claire", "manager")
    await svc.trial(slug)
    now = datetime.now(UTC)
    call = {"title": "Jardins partagés", "budget": 50_000, "max_award": 20_000, "currency": "EUR",
            "submission_opens_at": _iso(now - timedelta(hours=1)), "submission_closes_at": _iso(now + timedelta(days=9)),
            "vote_opens_at": _iso(now + timedelta(days=9)), "vote_closes_at": _iso(now + timedelta(days=19)),
            "selection_mode": "vote"}  # fmt: skip
    call_id = (
        await svc.http.post(f"/municipalities/{slug}/calls", json=call, headers=svc.who("usr_claire"))
    ).json()["id"]
    cid = await svc.campaign(
        "usr_amina", slug, verb="created", postcode="93100", call_id=call_id, goal=35_000
    )
    await svc.known("proposals", {"campaign_id": cid})
    # A redelivered or later event for the same draft adds nothing.
    await svc.campaign("usr_amina", slug, verb="submitted", version=2, postcode="93100", campaign_id=cid,
                       call_id=call_id, goal=35_000)  # fmt: skip
    await svc.known("campaigns", {"_id": cid, "version": 2})
    items = (await svc.http.get(f"/calls/{call_id}/proposals")).json()["items"]
    assert [(p["campaign_id"], p["requested_amount"], p["goal"]) for p in items] == [(cid, 20_000, 35_000)]
    # Someone else's campaign cannot be proposed by another user.
    body = {"title": "Mine", "summary": "Not really mine at all", "requested_amount": 1_000, "postcode": "93100",
            "campaign_id": cid}  # fmt: skip
    r = await svc.http.post(f"/calls/{call_id}/proposals", json=body, headers=svc.who("usr_lucas"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_your_campaign"

    # GDPR deletion: the official is removed (and announced), the proposal no longer names them.
    _, officials = await tap(svc.ctx.bus, "official.removed")
    await svc.appoint(slug, "usr_amina", "reviewer")
    await svc.publish("user.deleted", "usr_amina", {"user_id": "usr_amina"}, source="gateway")
    await svc.known("users", {"_id": "usr_amina", "deleted": True})
    db = svc.ctx.mongo.db
    assert await db.officials.find_one({"user_id": "usr_amina"}) is None
    assert (await db.proposals.find_one({"campaign_id": cid}))["proposer_id"].startswith("deleted-")
    await eventually(lambda: any(json.loads(m.body)["data"]["user_id"] == "usr_amina" for m in officials))


async def test_jury_call_selects_winners_within_budget(svc) -> None:
    slug = await svc.city(postcodes=("93100",))
    await svc.appoint(slug, "usr_claire", "manager")
    await svc.trial(slug)
    now = datetime.now(UTC)
    call = {"title": "Fête des quartiers", "budget": 10_000, "max_award": 6_000, "currency": "EUR", "winners": 2,
            "submission_opens_at": _iso(now - timedelta(hours=1)), "submission_closes_at": _iso(now + timedelta(days=5))}  # fmt: skip
    call_id = (
        await svc.http.post(f"/municipalities/{slug}/calls", json=call, headers=svc.who("usr_claire"))
    ).json()["id"]
    ids = []
    for who in ("usr_a", "usr_b", "usr_c"):
        body = {
            "title": f"Project {who}",
            "summary": "A neighbourhood party",
            "requested_amount": 5_000,
            "postcode": "93100",
        }
        ids.append(
            (await svc.http.post(f"/calls/{call_id}/proposals", json=body, headers=svc.who(who))).json()["id"]
        )
    headers = {**svc.who("usr_claire"), "Idempotency-Key": "jury-001"}
    winners = {"winners": [{"proposal_id": ids[0], "award": 5_000}, {"proposal_id": ids[2], "award": 4_000}]}
    r = await svc.http.post(f"/calls/{call_id}/selection", json=winners, headers=headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "too_early"  # submissions still open
    assert (
        await svc.http.post(f"/proposals/{ids[0]}/votes", headers=svc.who("usr_v"))
    ).status_code == 403  # no vote
    await svc.http.post(f"/calls/{call_id}/schedule", json={"submission_closes_at": _iso(datetime.now(UTC))},
                        headers=svc.who("usr_claire"))  # fmt: skip
    too_much = {"winners": [{"proposal_id": ids[0], "award": 6_000}, {"proposal_id": ids[1], "award": 6_000}]}
    r = await svc.http.post(f"/calls/{call_id}/selection", json=too_much, headers=headers)
    assert r.status_code == 422 and "budget" in r.json()["error"]["message"]
    r = await svc.http.post(
        f"/calls/{call_id}/selection", json=winners, headers={**headers, "Idempotency-Key": "jury-002"}
    )
    assert r.status_code == 200, r.text
    statuses = {
        p["id"]: (p["status"], p["award"])
        for p in (await svc.http.get(f"/calls/{call_id}/proposals")).json()["items"]
    }
    assert statuses == {
        ids[0]: ("selected", 5_000),
        ids[1]: ("not_selected", None),
        ids[2]: ("selected", 4_000),
    }
    r = await svc.http.post(
        f"/calls/{call_id}/selection", json=winners, headers={**headers, "Idempotency-Key": "jury-003"}
    )
    assert r.status_code == 409  # decided once
