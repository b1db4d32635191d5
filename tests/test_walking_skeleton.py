"""The walking skeleton through the gateway, every service a real process."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx

from devstack.running import RunningStack


async def test_approved_campaign_reaches_the_owners_inbox_through_the_gateway(
    gateway_url: str, make_account, platform_admin, stack: RunningStack
) -> None:
    """Draft -> submitted -> approved by an admin (which publishes it) -> campaign.published
    through the outbox -> notifications writes the owner's in-app item; the admin's request id
    travels with the event."""
    account, other = await make_account(), await make_account()
    owner = account.user_id
    request_id = f"req-approve-{uuid.uuid4().hex[:8]}"
    headers = {**account.headers, "X-Request-ID": f"req-{owner}"}
    admin = {**platform_admin.headers, "X-Request-ID": request_id}
    api = "/api/v1/campaigns/campaigns"
    async with httpx.AsyncClient(base_url=gateway_url, timeout=10) as client:
        created = await client.post(
            api,
            json={"title": "Street workout park", "municipality": "montreuil", "goal": 500000},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        assert created.headers["x-request-id"] == f"req-{owner}"
        campaign = created.json()
        assert campaign["owner_id"] == owner and campaign["status"] == "draft"
        # Not public before moderation.
        assert (await client.get(f"{api}/{campaign['id']}")).status_code == 404
        submitted = await client.post(f"{api}/{campaign['id']}/submit", headers=headers)
        assert submitted.status_code == 200 and submitted.json()["status"] == "submitted", submitted.text
        refused = await client.post(
            f"{api}/{campaign['id']}/moderation", json={"decision": "approve"}, headers=headers
        )
        assert refused.status_code == 403
        approved = await client.post(
            f"{api}/{campaign['id']}/moderation", json={"decision": "approve"}, headers=admin
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "live"
        public = await client.get(f"{api}/{campaign['id']}")
        assert public.status_code == 200 and public.json()["deadline"] is not None

        items: list = []
        for _ in range(150):
            inbox = await client.get("/api/v1/notifications/me", headers=headers)
            assert inbox.status_code == 200, inbox.text
            items = inbox.json()["items"]
            if items:
                break
            await asyncio.sleep(0.1)
        assert [i["kind"] for i in items] == ["campaign.published"]
        assert items[0]["data"]["campaign_id"] == campaign["id"]

        assert (await client.get("/api/v1/notifications/me", headers=other.headers)).json()["items"] == []

    # The admin's request id travelled gateway -> campaigns -> event (correlationid) -> notifications.
    def lines(name: str) -> list[dict]:
        return [json.loads(line) for line in stack.log(name).splitlines() if line.startswith("{")]

    assert any(
        line.get("request_id") == request_id and line.get("event") == "request" for line in lines("campaigns")
    )
    assert any(
        line.get("correlation_id") == request_id and line.get("event") == "event_handled"
        for line in lines("notifications")
    )


async def test_gateway_errors_are_json(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=10) as client:
        missing = await client.get("/api/v1/nosuch/thing")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        unauth = await client.post("/api/v1/campaigns/campaigns", json={})
        assert unauth.status_code == 401
        assert unauth.json()["error"]["code"] == "unauthenticated"
