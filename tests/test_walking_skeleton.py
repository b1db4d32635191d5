"""The walking skeleton through the gateway, every service a real process."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
from devstack.running import RunningStack
from servicekit.signing import SigningKey, access_claims


def _token(key: SigningKey, sub: str) -> str:
    return key.sign(access_claims(sub, issuer="civicfund-gateway", audience="civicfund", ttl_s=600))


async def test_campaign_published_reaches_the_owners_inbox_through_the_gateway(
    gateway_url: str, gateway_key: SigningKey, stack: RunningStack
) -> None:
    owner = f"user-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {_token(gateway_key, owner)}", "X-Request-ID": f"req-{owner}"}
    async with httpx.AsyncClient(base_url=gateway_url, timeout=10) as client:
        created = await client.post(
            "/api/v1/campaigns/campaigns",
            json={"title": "Street workout park", "municipality": "montreuil", "goal": 500000},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        assert created.headers["x-request-id"] == f"req-{owner}"
        campaign = created.json()
        assert campaign["owner_id"] == owner

        items: list = []
        for _ in range(100):
            inbox = await client.get("/api/v1/notifications/me", headers=headers)
            assert inbox.status_code == 200, inbox.text
            items = inbox.json()["items"]
            if items:
                break
            await asyncio.sleep(0.1)
        assert [i["kind"] for i in items] == ["campaign.published"]
        assert items[0]["data"]["campaign_id"] == campaign["id"]

        someone_else = {"Authorization": f"Bearer {_token(gateway_key, 'user-other')}"}
        assert (await client.get("/api/v1/notifications/me", headers=someone_else)).json()["items"] == []

    # The request id travelled gateway -> campaigns -> event (correlationid) -> notifications.
    def lines(name: str) -> list[dict]:
        return [json.loads(line) for line in stack.log(name).splitlines() if line.startswith("{")]

    assert any(
        line.get("request_id") == f"req-{owner}" and line.get("event") == "request"
        for line in lines("campaigns")
    )
    assert any(
        line.get("correlation_id") == f"req-{owner}" and line.get("event") == "event_handled"
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
