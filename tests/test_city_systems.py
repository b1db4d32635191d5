"""A city's IT system acting with its own credentials, over the running platform's public doors:
the city's manager (a real account, logged in through the gateway, appointed through the
endorsements API) creates an API client at the gateway; the system takes a client-credentials
token, registers a webhook with it, verifies every delivery with the official Standard Webhooks
library, reads the city's labels, and catches up on the public events feed after downtime.
Everything a person does is refused to it, and another city's system sees nothing of this one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from servicekit.testing.helpers import eventually
from servicekit.testing.server import serve

E = "/api/v1/endorsements"
W = "/api/v1/notifications/webhooks"


@dataclass
class Receiver:
    """The city's webhook receiver: what it got, raw."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = FastAPI()

    @app.post("/civicfund")
    async def hook(request: Request) -> Response:
        rec.received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    async with serve(app, ready_path=None) as base:
        rec.url = f"{base}/civicfund"
        yield rec


async def _system_token(gateway_url: str, manager: Any, slug: str) -> dict[str, str]:
    """The city's API client, created by its manager; its token by the client-credentials grant."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        created = await client.post(
            "/api/v1/auth/clients", json={"municipality": slug, "name": "City IT"}, headers=manager.headers
        )
        assert created.status_code == 201, created.text
        grant = await client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": created.json()["client_id"],
                "client_secret": created.json()["client_secret"],
            },
        )
        assert grant.status_code == 200, grant.text
    return {"Authorization": f"Bearer {grant.json()['access_token']}"}


async def _label_request(platform: Any, owner: Any, campaign_id: str) -> dict[str, Any]:
    async with platform.client() as client:
        for _ in range(150):
            r = await client.post(f"{E}/labels", headers=owner.headers, json={"campaign_id": campaign_id})
            if r.status_code == 201:
                return r.json()
            assert r.json()["error"]["code"] == "campaign_not_found", r.text
            await asyncio.sleep(0.2)
    raise AssertionError("endorsements never heard of the campaign")


async def _call(platform: Any, method: str, path: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
    async with platform.client() as client:
        return await client.request(method, path, headers=headers, **kw)


def _verified(secret: str, received: list[tuple[dict[str, str], bytes]]) -> list[dict[str, Any]]:
    """Every delivery, checked the way the README tells a city to (the official library)."""
    return [Webhook(secret).verify(body, headers) for headers, body in received]


async def test_a_city_system_with_its_own_token(
    platform: Any, make_account: Any, gateway_url: str, receiver: Receiver
) -> None:
    manager, owner, other_manager = await make_account(), await make_account(), await make_account()
    slug = await platform.city(manager)
    other = await platform.city(other_manager)
    system = await _system_token(gateway_url, manager, slug)
    stranger = await _system_token(gateway_url, other_manager, other)

    # The system registers the city's webhook itself; another city's system cannot.
    endpoint_body = {"municipality": slug, "url": receiver.url, "event_types": ["label.*"]}
    refused = await _call(platform, "POST", f"{W}/endpoints", stranger, json=endpoint_body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    created = await _call(platform, "POST", f"{W}/endpoints", system, json=endpoint_body)
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["signature_scheme"] == "standard" and endpoint["secret"].startswith("whsec_")

    # Where the system starts reading the feed: nothing of this city yet.
    start = await _call(platform, "GET", f"{E}/municipalities/{slug}/events", system)
    assert start.status_code == 200 and start.json()["items"] == []
    cursor = start.json()["next_cursor"]

    campaign = await platform.live_campaign(owner, municipality=slug, postcode="93100")
    label = await _label_request(platform, owner, campaign["id"])
    grant = {"support": [{"kind": "land", "description": "Plot", "address": "Parc des Guilands"}]}
    await platform.call("POST", f"{E}/labels/{label['id']}/grant", manager, json=grant)

    # Signed deliveries, verified with standardwebhooks; a tampered one is refused.
    await eventually(lambda: len(receiver.received) >= 2, timeout=30)
    events = _verified(endpoint["secret"], receiver.received)
    assert {e["type"] for e in events} == {"org.civicfund.label.requested", "org.civicfund.label.granted"}
    assert all(e["data"]["label_id"] == label["id"] for e in events)
    headers, body = receiver.received[0]
    with pytest.raises(WebhookVerificationError):
        # One byte more: whichever delivery came first (the order is not promised), it no longer verifies.
        Webhook(endpoint["secret"]).verify(body + b" ", headers)
    assert " " not in headers["webhook-signature"] and headers["webhook-signature"].startswith("v1,")

    # The system reads the city's labels: the review queue, a label.
    queue = await _call(platform, "GET", f"{E}/municipalities/{slug}/review-queue", system)
    assert queue.status_code == 200 and any(
        (i.get("label") or {}).get("id") == label["id"] for i in queue.json()["items"]
    )
    shown = await _call(platform, "GET", f"{E}/labels/{label['id']}", system)
    assert shown.status_code == 200 and shown.json()["status"] == "granted"
    assert (await _call(platform, "GET", f"{E}/labels/{label['id']}", stranger)).status_code == 403

    # The system was down meanwhile: it catches up from its cursor, in order, page by page.
    await platform.call(
        "POST", f"{E}/labels/{label['id']}/revoke", manager, json={"reason": "Works never started"}
    )
    expected = [
        f"{slug}.label.requested", f"{slug}.endorsement.requested",
        f"{slug}.label.granted", f"{slug}.endorsement.granted",
        f"{slug}.label.revoked", f"{slug}.endorsement.revoked",
    ]  # fmt: skip
    caught_up: list[dict[str, Any]] = []

    async def catch_up() -> bool:
        nonlocal cursor
        while True:
            page = await _call(
                platform,
                "GET",
                f"{E}/municipalities/{slug}/events",
                system,
                params={"after": cursor, "limit": 2},
            )
            assert page.status_code == 200, page.text
            caught_up.extend(page.json()["items"])
            cursor = page.json()["next_cursor"]
            if not page.json()["has_more"]:
                return len(caught_up) >= len(expected)

    await eventually(catch_up, timeout=30, interval=0.3)
    assert [i["routing_key"] for i in caught_up] == expected
    granted = next(i["event"] for i in caught_up if i["routing_key"] == f"{slug}.label.granted")
    assert granted["type"] == "org.civicfund.public.label.granted" and granted["subject"] == label["id"]
    assert "owner_id" not in granted["data"]  # the public form
    assert (await _call(platform, "GET", f"{E}/municipalities/{slug}/events", stranger)).status_code == 403

    # What a person does is refused to the machine, in its own city too.
    for method, path, body in [
        ("GET", "/api/v1/auth/me", None),
        ("POST", f"{E}/labels/{label['id']}/review", None),
        ("POST", f"{E}/municipalities/{slug}/calls", {"title": "x"}),
        ("GET", f"{E}/municipalities/{slug}/officials", None),
        ("POST", "/api/v1/auth/clients", {"municipality": slug, "name": "Another"}),
        ("POST", "/api/v1/campaigns/campaigns", {"title": "A machine's project", "municipality": slug}),
        ("GET", "/api/v1/notifications/me", None),
        ("GET", "/api/v1/payments/me/pledges", None),
    ]:
        answer = await _call(platform, method, path, system, json=body)
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.json()["error"]["code"] == "forbidden", (method, path)
