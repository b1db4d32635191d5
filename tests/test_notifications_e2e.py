"""Notifications through the gateway, every service a real process: a city manager (appointed
through endorsements) registers a webhook, a citizen's campaign in that city is approved
(published) by the admin, the city's receiver gets a signed CloudEvent; the owner finds the
inbox item and sets preferences."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response

from servicekit.testing.helpers import eventually
from servicekit.testing.server import serve


async def test_city_webhook_and_inbox_through_the_gateway(gateway_url: str, make_account, platform) -> None:
    received: list[tuple[dict[str, str], bytes]] = []
    receiver = FastAPI()

    @receiver.post("/hooks/city")
    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    owner, manager = await make_account(), await make_account()
    slug = await platform.city(manager)
    owner_auth, manager_auth = owner.headers, manager.headers
    async with (
        serve(receiver, ready_path=None) as hook_base,
        httpx.AsyncClient(base_url=gateway_url, timeout=10) as client,
    ):
        created = await client.post(
            "/api/v1/notifications/webhooks/endpoints",
            json={
                "municipality": slug,
                "url": f"{hook_base}/hooks/city",
                "event_types": ["campaign.published"],
            },
            headers=manager_auth,
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]

        campaign = await client.post(
            "/api/v1/campaigns/campaigns",
            json={"title": "Repair café in Bas-Montreuil", "municipality": slug, "goal": 300000},
            headers=owner_auth,
        )
        assert campaign.status_code == 201, campaign.text
        campaign_id = campaign.json()["id"]
        api = f"/api/v1/campaigns/campaigns/{campaign_id}"
        submitted = await client.post(f"{api}/submit", headers=owner_auth)
        assert submitted.status_code == 200, submitted.text
        admin_auth = platform.admin.headers
        approved = await client.post(f"{api}/moderation", json={"decision": "approve"}, headers=admin_auth)
        assert approved.status_code == 200, approved.text

        def delivered() -> list:
            return [(h, b) for h, b in received if json.loads(b)["data"].get("campaign_id") == campaign_id]

        await eventually(delivered, timeout=30)
        headers, body = delivered()[0]
        # Standard Webhooks: v1,<base64 HMAC-SHA256(key, "<webhook-id>.<timestamp>.<body>")>.
        key = base64.b64decode(secret.removeprefix("whsec_"))
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        assert f"v1,{expected}" in headers["webhook-signature"].split(" ")
        assert json.loads(body)["type"] == "org.civicfund.campaign.published"

        async def in_inbox() -> bool:
            inbox = await client.get("/api/v1/notifications/me", headers=owner_auth)
            return any(i["data"].get("campaign_id") == campaign_id for i in inbox.json()["items"])

        await eventually(in_inbox, timeout=30)
        prefs = await client.put(
            "/api/v1/notifications/me/preferences",
            json={"categories": {"campaign_news": {"email": False}}},
            headers=owner_auth,
        )
        assert prefs.status_code == 200 and prefs.json()["categories"]["campaign_news"]["email"] is False

        log = await client.get(
            f"/api/v1/notifications/webhooks/endpoints/{created.json()['id']}/deliveries",
            headers=manager_auth,
        )
        assert log.status_code == 200
        assert any(d["status"] == "delivered" for d in log.json()["items"])
