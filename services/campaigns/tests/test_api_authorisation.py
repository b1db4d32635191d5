"""Every mutating endpoint refuses an anonymous caller (401) and someone who is not allowed
(403, or 404 where the campaign is not theirs to see), and changes nothing when it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest


@pytest.fixture(scope="module")
async def things(svc) -> dict[str, Any]:
    owner = svc.user()
    live = await svc.live(owner)
    cid = live["id"]
    need = (
        await svc.client.post(
            f"/campaigns/{cid}/needs", json={"title": "Tools", "quantity": 2}, headers=svc.auth(owner)
        )
    ).json()
    offer = (
        await svc.client.post(
            f"/campaigns/{cid}/needs/{need['id']}/offers", json={"quantity": 1}, headers=svc.auth(svc.user())
        )
    ).json()
    starts = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    meetup = (
        await svc.client.post(
            f"/campaigns/{cid}/meetups",
            json={"title": "Build day", "place": "Square", "starts_at": starts, "capacity": 5},
            headers=svc.auth(owner),
        )
    ).json()
    draft = await svc.draft(owner)
    return {
        "owner": owner,
        "cid": cid,
        "need": need["id"],
        "offer": offer["id"],
        "meetup": meetup["id"],
        "draft": draft["id"],
    }


def _calls(t: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None, int]]:
    """(method, path, body, status for a signed-in stranger)."""
    c, n, o, m, d = t["cid"], t["need"], t["offer"], t["meetup"], t["draft"]
    return [
        ("PATCH", f"/campaigns/{c}", {"summary": "hijacked"}, 403),
        ("PATCH", f"/campaigns/{d}", {"summary": "hijacked"}, 404),
        ("POST", f"/campaigns/{d}/submit", None, 404),
        ("POST", f"/campaigns/{c}/moderation", {"decision": "reject", "reason": "no"}, 403),
        ("POST", f"/campaigns/{c}/cancel", {"reason": "because"}, 403),
        ("POST", f"/campaigns/{c}/complete", {"report": "done!"}, 403),
        ("POST", f"/campaigns/{c}/needs", {"title": "More tools", "quantity": 1}, 403),
        ("PATCH", f"/campaigns/{c}/needs/{n}", {"quantity": 9}, 403),
        ("POST", f"/campaigns/{c}/needs/{n}/offers/{o}/decision", {"decision": "decline"}, 403),
        ("POST", f"/campaigns/{c}/updates", {"title": "Fake news", "body": "x"}, 403),
        (
            "POST",
            f"/campaigns/{c}/meetups",
            {"title": "Fake", "place": "Somewhere", "starts_at": "2030-01-01T10:00:00Z", "capacity": 1},
            403,
        ),
        ("GET", f"/campaigns/{c}/meetups/{m}/attendees", None, 403),
        ("POST", f"/campaigns/{c}/permits", {"name": "Works permit", "authority": "Mairie"}, 403),
        ("POST", f"/campaigns/{c}/permits/pmt_any/decision", {"decision": "granted"}, 403),
        ("POST", f"/campaigns/{c}/city-support/lbl_any/0", {"status": "delivered"}, 403),
        ("PUT", f"/campaigns/{d}/follow", None, 404),
        ("PUT", f"/campaigns/{d}/meetups/{m}/rsvp", None, 404),
    ]


async def test_strangers_are_refused_and_nothing_changes(svc, things) -> None:
    before = await svc.get(things["cid"])
    stranger = svc.auth(svc.user())
    for method, path, body, status in _calls(things):
        response = await svc.client.request(method, path, json=body, headers=stranger)
        assert response.status_code == status, (method, path, response.text)
        assert response.json()["error"]["code"] in ("forbidden", "not_found")
    after = await svc.get(things["cid"])
    assert after["version"] == before["version"] and after["summary"] == before["summary"]
    assert after["needs"] == before["needs"]


async def test_anonymous_callers_must_sign_in(svc, things) -> None:
    for method, path, body, _ in _calls(things):
        response = await svc.client.request(method, path, json=body)
        assert response.status_code == 401, (method, path, response.text)
    for method, path in (
        ("POST", "/campaigns"),
        ("PUT", f"/campaigns/{things['cid']}/follow"),
        ("PUT", f"/campaigns/{things['cid']}/meetups/{things['meetup']}/rsvp"),
        ("POST", f"/campaigns/{things['cid']}/needs/{things['need']}/offers"),
    ):
        assert (await svc.client.request(method, path, json={})).status_code == 401


async def test_expired_or_foreign_tokens_are_refused(svc, things) -> None:
    expired = svc.auth(things["owner"], ttl_s=-60)
    response = await svc.client.patch(f"/campaigns/{things['cid']}", json={"summary": "x"}, headers=expired)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"
    city_system = svc.auth("client-montreuil", kind="client")
    refused = await svc.client.post("/campaigns", json=svc.campaign_body(), headers=city_system)
    assert refused.status_code == 403
