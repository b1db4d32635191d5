"""Notifications through the gateway, every service a real process: a city manager registers
a webhook, a citizen's campaign in that city is approved (published), the city's receiver gets a signed
CloudEvent; the owner finds the inbox item and sets preferences."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response

from devstack.running import RunningStack
from servicekit.signing import SigningKey, access_claims
from servicekit.testing.helpers import eventually
from servicekit.testing.server import serve


def _token(key: SigningKey, sub: str, **claims: object) -> str:
    return key.sign(access_claims(sub, issuer="civicfund-gateway", audience="civicfund", ttl_s=600, **claims))  # type: ignore[arg-type]


async def test_city_webhook_and_inbox_through_the_gateway(
    gateway_url: str, gateway_key: SigningKey, stack: RunningStack
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []
    receiver = FastAPI()

    @receiver.post("/hooks/montreuil")
    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    owner = f"usr_{uuid.uuid4().hex[:8]}"
    owner_auth = {"Authorization": f"Bearer {_token(gateway_key, owner)}"}
    manager_auth = {
        "Authorization": f"Bearer {_token(gateway_key, 'usr_claire', municipalities={'montreuil': 'manager'})}"
    }
    async with (
        serve(receiver, ready_path=None) as hook_base,
        httpx.AsyncClient(base_url=gateway_url, timeout=10) as client,
    ):
        created = await client.post(
            "/api/v1/notifications/webhooks/endpoints",
            json={
                "municipality": "montreuil",
                "url": f"{hook_base}/hooks/montreuil",
                "event_types": ["campaign.published"],
            },
            headers=manager_auth,
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]

        campaign = await client.post(
            "/api/v1/campaigns/campaigns",
            json={"title": "Repair café in Bas-Montreuil", "municipality": "montreuil", "goal": 300000},
            headers=owner_auth,
        )
        assert campaign.status_code == 201, campaign.text
        campaign_id = campaign.json()["id"]
        api = f"/api/v1/campaigns/campaigns/{campaign_id}"
        submitted = await client.post(f"{api}/submit", headers=owner_auth)
        assert submitted.status_code == 200, submitted.text
        admin_auth = {
            "Authorization": f"Bearer {_token(gateway_key, 'usr_admin', roles=['citizen', 'admin'])}"
        }
        approved = await client.post(f"{api}/moderation", json={"decision": "approve"}, headers=admin_auth)
        assert approved.status_code == 200, approved.text

        def delivered() -> list:
            return [(h, b) for h, b in received if json.loads(b)["data"].get("campaign_id") == campaign_id]

        await eventually(delivered, timeout=30)
        headers, body = delivered()[0]
        expected = hmac.new(
            secret.encode(), headers["webhook-timestamp"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        assert f"v1={expected}" in headers["webhook-signature"].split(",")
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
