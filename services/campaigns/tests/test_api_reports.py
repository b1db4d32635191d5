"""Abuse reports over HTTP: anyone signed in reports a campaign, an update or an offer they can
see (once per item while open); admins list the queue, hide the content (gone from every public
read, campaign.content_hidden emitted) or dismiss; decisions stay listed with who, when, why."""

from __future__ import annotations

from typing import Any

from servicekit.events import Event
from servicekit.testing.helpers import eventually, tap


async def _update(svc: Any, owner: str, cid: str, title: str = "We got the permit") -> dict[str, Any]:
    response = await svc.client.post(
        f"/campaigns/{cid}/updates", json={"title": title, "body": "Good news."}, headers=svc.auth(owner)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _report(svc: Any, who: str, cid: str, **body: Any) -> Any:
    return await svc.client.post(f"/campaigns/{cid}/reports", json=body, headers=svc.auth(who))


async def _queue(svc: Any, state: str = "open") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"state": state, "limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = await svc.client.get("/reports", params=params, headers=svc.admin)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return items


async def test_report_an_update_then_hide_it(svc: Any) -> None:
    assert svc.ctx.bus is not None
    _, hidden_events = await tap(svc.ctx.bus, "campaign.content_hidden")
    owner, citizen, other = svc.user(), svc.user(), svc.user()
    campaign = await svc.live(owner)
    cid = campaign["id"]
    update = await _update(svc, owner, cid)
    kept = await _update(svc, owner, cid, "Planting day next week")

    first = await _report(
        svc, citizen, cid, target="update", target_id=update["id"], reason="hateful", details="insults"
    )
    assert first.status_code == 201, first.text
    report = first.json()
    assert report["state"] == "open" and report["author_id"] == owner and report["excerpt"] == update["title"]
    # Idempotent while open: the same report again, not a second one.
    again = await _report(svc, citizen, cid, target="update", target_id=update["id"], reason="spam")
    assert again.status_code == 200 and again.json()["id"] == report["id"]
    second = await _report(svc, other, cid, target="update", target_id=update["id"], reason="spam")
    assert second.status_code == 201 and second.json()["id"] != report["id"]
    open_ids = {r["id"] for r in await _queue(svc)}
    assert {report["id"], second.json()["id"]} <= open_ids

    # Only admins read the queue and decide.
    assert (await svc.client.get("/reports", headers=svc.auth(citizen))).status_code == 403
    assert (await svc.client.get("/reports")).status_code == 401
    decide = f"/reports/{report['id']}/decision"
    refused = await svc.client.post(decide, json={"decision": "hide", "note": "x"}, headers=svc.auth(owner))
    assert refused.status_code == 403
    no_reason = await svc.client.post(decide, json={"decision": "hide"}, headers=svc.admin)
    assert no_reason.status_code == 422 and no_reason.json()["error"]["code"] == "reason_required"

    hidden = await svc.client.post(
        decide, json={"decision": "hide", "note": "Insults are not allowed"}, headers=svc.admin
    )
    assert hidden.status_code == 200, hidden.text
    assert hidden.json()["state"] == "hidden" and hidden.json()["decided_by"] == "usr_admin"
    assert hidden.json()["note"] == "Insults are not allowed" and hidden.json()["decided_at"]
    twice = await svc.client.post(decide, json={"decision": "dismiss"}, headers=svc.admin)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_decided"

    # Gone from the public read (and the owner's), the other update stays.
    listed = (await svc.client.get(f"/campaigns/{cid}/updates")).json()["items"]
    assert [u["id"] for u in listed] == [kept["id"]]
    as_owner = (await svc.client.get(f"/campaigns/{cid}/updates", headers=svc.auth(owner))).json()["items"]
    assert update["id"] not in {u["id"] for u in as_owner}
    # The other report on the same update was decided with it; both are in the history.
    decided = {r["id"]: r for r in await _queue(svc, "decided")}
    assert decided[second.json()["id"]]["state"] == "hidden"
    assert decided[report["id"]]["note"] == "Insults are not allowed"
    assert not {report["id"], second.json()["id"]} & {r["id"] for r in await _queue(svc)}
    # Hidden content cannot be reported again.
    late = await _report(svc, svc.user(), cid, target="update", target_id=update["id"], reason="spam")
    assert late.status_code == 409 and late.json()["error"]["code"] == "already_hidden"

    def mine() -> list[Event]:
        return [e for e in (Event.from_json(m.body) for m in hidden_events) if e.subject == cid]

    await eventually(lambda: mine())
    [event] = mine()
    assert event.data["target"] == "update" and event.data["update_id"] == update["id"]
    assert event.data["author_id"] == owner and event.data["reason"] == "Insults are not allowed"
    assert event.data["report_reason"] == "hateful"


async def test_hide_a_campaign_and_dismiss_a_report(svc: Any) -> None:
    owner, citizen = svc.user(), svc.user()
    campaign = await svc.live(owner, title="Suspicious fundraiser")
    cid = campaign["id"]
    dismissed = await _report(svc, citizen, cid, target="campaign", reason="fraud", details="fake")
    assert dismissed.status_code == 201
    decision = await svc.client.post(
        f"/reports/{dismissed.json()['id']}/decision", json={"decision": "dismiss"}, headers=svc.admin
    )
    assert decision.status_code == 200 and decision.json()["state"] == "dismissed"
    assert (await svc.client.get(f"/campaigns/{cid}")).status_code == 200  # dismissing hides nothing
    # Once decided, the same person may report it again: a new report.
    again = await _report(svc, citizen, cid, target="campaign", reason="fraud")
    assert again.status_code == 201 and again.json()["id"] != dismissed.json()["id"]
    hide = await svc.client.post(
        f"/reports/{again.json()['id']}/decision",
        json={"decision": "hide", "note": "Not a neighbourhood project"},
        headers=svc.admin,
    )
    assert hide.status_code == 200, hide.text

    # Gone for everyone but its owner and admins: the detail, the listing, follows.
    assert (await svc.client.get(f"/campaigns/{cid}")).status_code == 404
    assert (await svc.client.get(f"/campaigns/{cid}", headers=svc.auth(citizen))).status_code == 404
    listed = (await svc.client.get("/campaigns", params={"q": "Suspicious", "limit": 50})).json()["items"]
    assert cid not in {c["id"] for c in listed}
    own = await svc.get(cid, owner)
    assert own["hidden"] is True and own["hidden_reason"] == "Not a neighbourhood project"
    mine = (await svc.client.get("/campaigns", params={"mine": "true"}, headers=svc.auth(owner))).json()
    assert cid in {c["id"] for c in mine["items"]}
    assert (await svc.client.get(f"/campaigns/{cid}", headers=svc.admin)).status_code == 200


async def test_report_an_offer_hides_it_from_the_owner_and_the_counts(svc: Any) -> None:
    owner, helper, nosy = svc.user(), svc.user(), svc.user()
    cid = (await svc.live(owner))["id"]
    need = (
        await svc.client.post(
            f"/campaigns/{cid}/needs", json={"title": "Tools", "quantity": 5}, headers=svc.auth(owner)
        )
    ).json()
    offer = (
        await svc.client.post(
            f"/campaigns/{cid}/needs/{need['id']}/offers",
            json={"quantity": 3, "message": "Buy cheap watches at ..."},
            headers=svc.auth(helper),
        )
    ).json()
    # Offers are private: someone who cannot see it cannot report it; its author cannot either.
    unseen = await _report(svc, nosy, cid, target="offer", target_id=offer["id"], reason="spam")
    assert unseen.status_code == 404
    own = await _report(svc, helper, cid, target="offer", target_id=offer["id"], reason="spam")
    assert own.status_code == 409 and own.json()["error"]["code"] == "own_content"
    report = await _report(svc, owner, cid, target="offer", target_id=offer["id"], reason="spam")
    assert report.status_code == 201, report.text
    assert report.json()["author_id"] == helper
    hide = await svc.client.post(
        f"/reports/{report.json()['id']}/decision",
        json={"decision": "hide", "note": "Spam"},
        headers=svc.admin,
    )
    assert hide.status_code == 200
    offers = (
        await svc.client.get(f"/campaigns/{cid}/needs/{need['id']}/offers", headers=svc.auth(owner))
    ).json()["items"]
    assert offers == []
    counts = (await svc.get(cid))["needs"][0]
    assert counts["offers_count"] == 0 and counts["offered"] == 0


async def test_bad_reports_are_refused_with_the_error_body(svc: Any) -> None:
    owner, citizen = svc.user(), svc.user()
    cid = (await svc.live(owner))["id"]
    cases: list[tuple[dict[str, Any], int]] = [
        ({"target": "update", "reason": "spam"}, 422),  # an update needs its id
        ({"target": "campaign", "reason": "boring"}, 422),  # not a reason of the list
        ({"target": "comment", "reason": "spam"}, 422),
        ({"target": "campaign", "reason": "spam", "details": "x" * 2001}, 422),
        ({"target": "campaign", "reason": "spam", "extra": 1}, 422),
        ({"target": "update", "target_id": "upd_nope", "reason": "spam"}, 404),
    ]
    for body, status in cases:
        response = await _report(svc, citizen, cid, **body)
        assert response.status_code == status, (body, response.text)
        assert set(response.json()["error"]) >= {"code", "message", "request_id"}
    assert (
        await svc.client.post(f"/campaigns/{cid}/reports", json={"target": "campaign", "reason": "spam"})
    ).status_code == 401
    own = await _report(svc, owner, cid, target="campaign", reason="spam")
    assert own.status_code == 409
    draft = await svc.draft(owner)
    assert (await _report(svc, citizen, draft["id"], target="campaign", reason="spam")).status_code == 404
    bad = await svc.client.post("/reports/rep_nope/decision", json={"decision": "dismiss"}, headers=svc.admin)
    assert bad.status_code == 404
    wrong = await svc.client.post(
        "/reports/rep_nope/decision", json={"decision": "delete"}, headers=svc.admin
    )
    assert wrong.status_code == 422
    assert (await svc.client.get("/reports", params={"state": "all"}, headers=svc.admin)).status_code == 422
    assert (await svc.client.get("/reports", params={"cursor": "!!"}, headers=svc.admin)).status_code == 422
