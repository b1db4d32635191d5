"""Parked events over HTTP (servicekit.parked, mounted by this service): an admin lists what the
consumer queue parked and why, and replays it; nobody else may."""

from __future__ import annotations

from typing import Any

from servicekit.testing.helpers import eventually


async def _parked(svc: Any) -> list[dict[str, Any]]:
    answer = await svc.client.get("/ops/parked", headers=svc.admin)
    assert answer.status_code == 200, answer.text
    [queue] = [q for q in answer.json()["queues"] if q["queue"] == "campaigns.funding"]
    return queue["messages"]


async def test_admins_list_parked_events_with_the_reason_and_replay_them(svc: Any) -> None:
    event = await svc.publish(
        "pledge.authorized",
        {"campaign_id": "cmp_nope", "backer_id": "b", "amount": 1, "currency": "EUR", "pledge_id": "plg_n"},
    )
    await eventually(lambda: _parked(svc), timeout=20)
    [parked] = await _parked(svc)
    assert parked["message_id"] == event.id and parked["reason"] == "rejected_by_handler"
    assert "unknown campaign cmp_nope" in parked["error"] and parked["event_type"].endswith(
        "pledge.authorized"
    )
    assert len(await _parked(svc)) == 1  # listing leaves it parked

    assert (await svc.client.get("/ops/parked", headers=svc.auth(svc.user()))).status_code == 403
    assert (await svc.client.get("/ops/parked")).status_code == 401
    missing = await svc.client.post("/ops/parked/payments.events/replay", headers=svc.admin)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

    replayed = await svc.client.post("/ops/parked/campaigns.funding/replay", headers=svc.admin)
    assert replayed.status_code == 200 and replayed.json()["replayed"] == [event.id]
    # Back on the queue, the handler refuses it again: parked again, with the reason.
    await eventually(lambda: _parked(svc), timeout=20)
    [again] = await _parked(svc)
    assert again["message_id"] == event.id and again["reason"] == "rejected_by_handler"
