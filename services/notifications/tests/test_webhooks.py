"""Webhooks for city systems: registration rights (managers, admins, the city's own client
tokens), one-time secret, signed CloudEvent deliveries verified with the official Standard
Webhooks library (`standardwebhooks`, as the README tells receivers to), the legacy scheme kept
for endpoints registered before, retries, disabling, log, replay, rotation, SSRF refusal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from notifications.app import build
from notifications.settings import Settings
from servicekit.testing.helpers import eventually
from servicekit.testing.server import serve

MANAGER = {"municipalities": {"montreuil": "manager"}}


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's check with the official library, as services/notifications/README.md shows."""
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def other_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def verify_legacy(secret: str, headers: dict[str, str], body: bytes, tolerance_s: int = 300) -> bool:
    """The legacy receiver's check (endpoints registered before Standard Webhooks)."""
    timestamp = headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(
        hmac.compare_digest(expected, sig.removeprefix("v1="))
        for sig in headers["webhook-signature"].split(",")
    )


def granted(campaign_id: str = "cmp_1", slug: str = "montreuil") -> dict:
    return {
        "endorsement_id": f"end_{uuid.uuid4().hex[:8]}",
        "campaign_id": campaign_id,
        "municipality": slug,
        "status": "granted",
        "owner_id": "usr_owner",
    }


async def register(svc, url: str, types: list[str] | None = None) -> dict:
    response = await svc.client.post(
        "/webhooks/endpoints",
        json={"municipality": "montreuil", "url": url, "event_types": types or ["endorsement.*"]},
        headers=svc.auth("usr_claire", **MANAGER),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_only_the_citys_managers_register_and_the_secret_is_shown_once(svc, receiver) -> None:
    body = {"municipality": "montreuil", "url": receiver.url, "event_types": ["endorsement.granted"]}
    for headers, status in [
        ({}, 401),
        (svc.auth("usr_citizen"), 403),
        (svc.auth("usr_rev", municipalities={"montreuil": "reviewer"}), 403),
        (svc.auth("usr_other", municipalities={"bagnolet": "manager"}), 403),
    ]:
        response = await svc.client.post("/webhooks/endpoints", json=body, headers=headers)
        assert response.status_code == status, response.text
    bad = await svc.client.post(
        "/webhooks/endpoints",
        json={**body, "event_types": ["payment.succeeded"]},
        headers=svc.auth("c", **MANAGER),
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_event_type"
    extra = await svc.client.post(
        "/webhooks/endpoints", json={**body, "x": 1}, headers=svc.auth("c", **MANAGER)
    )
    assert extra.status_code == 422

    admin = await svc.client.post(
        "/webhooks/endpoints", json=body, headers=svc.auth("usr_admin", roles=["admin"])
    )
    assert admin.status_code == 201
    created = await register(svc, receiver.url)
    assert created["secret"].startswith("whsec_") and created["status"] == "active"
    shown = await svc.client.get(f"/webhooks/endpoints/{created['id']}", headers=svc.auth("c", **MANAGER))
    assert shown.status_code == 200 and "secret" not in shown.json() and created["secret"] not in shown.text
    listed = await svc.client.get(
        "/webhooks/endpoints?municipality=montreuil", headers=svc.auth("c", **MANAGER)
    )
    assert {e["id"] for e in listed.json()["items"]} == {created["id"], admin.json()["id"]}


async def test_delivery_is_a_signed_cloudevent_and_rotation_keeps_the_old_secret_for_a_while(
    svc, receiver
) -> None:
    endpoint = await register(svc, receiver.url)
    event = await svc.publish("endorsement.granted", granted())
    await svc.publish("endorsement.granted", granted(slug="bagnolet"))  # another city's: not ours
    await svc.publish("campaign.created", svc.campaign_data("usr_owner"))  # not subscribed
    await eventually(lambda: receiver.received, timeout=15)
    headers, body = receiver.received[0]
    assert verify(endpoint["secret"], headers, body)
    assert not verify(other_secret(), headers, body)
    assert headers["webhook-signature"].startswith("v1,") and endpoint["signature_scheme"] == "standard"
    assert not verify(endpoint["secret"], headers, body.replace(b"granted", b"revoked"))
    envelope = json.loads(body)
    assert headers["content-type"] == "application/cloudevents+json"
    assert envelope["specversion"] == "1.0" and envelope["id"] == event.id == headers["webhook-event-id"]
    assert (
        envelope["type"] == "org.civicfund.endorsement.granted"
        and envelope["data"]["municipality"] == "montreuil"
    )

    rotated = await svc.client.post(
        f"/webhooks/endpoints/{endpoint['id']}/rotate-secret",
        json={"grace_seconds": 3600},
        headers=svc.auth("c", **MANAGER),
    )
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != endpoint["secret"] and len(rotated.json()["secrets"]) == 2
    await svc.publish("endorsement.revoked", {**granted(), "status": "revoked"})
    await eventually(lambda: len(receiver.received) == 2, timeout=15)
    headers, body = receiver.received[1]
    assert verify(new_secret, headers, body) and verify(endpoint["secret"], headers, body)

    # A rotation with no grace retires the current secret at once; the first secret still has
    # the hour it was given by the first rotation.
    ended = await svc.client.post(
        f"/webhooks/endpoints/{endpoint['id']}/rotate-secret",
        json={"grace_seconds": 0},
        headers=svc.auth("c", **MANAGER),
    )
    newest = ended.json()["secret"]
    await svc.publish("endorsement.granted", granted())
    await eventually(lambda: len(receiver.received) == 3, timeout=15)
    headers, body = receiver.received[2]
    assert verify(newest, headers, body)
    assert not verify(new_secret, headers, body)
    assert verify(endpoint["secret"], headers, body)
    assert len(ended.json()["secrets"]) == 2
    assert len(receiver.received) == 3


async def test_failing_receiver_is_retried_then_disabled_and_managers_are_told(svc, receiver) -> None:
    manager = await svc.user("claire", "fr")
    await svc.publish(
        "official.appointed", {"user_id": manager, "municipality": "montreuil", "role": "manager"}
    )
    reviewer = await svc.user("yusuf", "fr")
    await svc.publish(
        "official.appointed", {"user_id": reviewer, "municipality": "montreuil", "role": "reviewer"}
    )
    await eventually(lambda: svc.db_has("officials", {"user_id": reviewer}))
    receiver.status = 500
    endpoint = await register(svc, receiver.url)
    auth = svc.auth("c", **MANAGER)
    since = datetime.now(UTC) - timedelta(seconds=1)
    await svc.publish("endorsement.granted", granted())

    # 1 attempt + 3 retries on the compressed schedule, then the endpoint is disabled.
    async def disabled() -> bool:
        got = await svc.client.get(f"/webhooks/endpoints/{endpoint['id']}", headers=auth)
        return got.json()["status"] == "disabled"

    await eventually(disabled, timeout=20)
    assert len(receiver.received) == 4
    log = (await svc.client.get(f"/webhooks/endpoints/{endpoint['id']}/deliveries", headers=auth)).json()[
        "items"
    ]
    assert len(log) == 1 and log[0]["status"] == "failed" and log[0]["attempts"] == 4
    assert [a["status_code"] for a in log[0]["log"]] == [500, 500, 500, 500]
    assert [a["attempt"] for a in log[0]["log"]] == [1, 2, 3, 4]
    await eventually(lambda: svc.mail_to(manager), timeout=15)
    assert svc.mail_to(manager)[0]["Subject"] == f"Webhook désactivé : {receiver.url}"
    assert "HTTP 500" in svc.mail_to(manager)[0].get_body(("plain",)).get_content()
    await eventually(lambda: svc.db_has("fanout_jobs", {"kind": "webhook.disabled", "status": "done"}))
    assert svc.mail_to(reviewer) == []

    # While disabled, new events are held (not sent, not lost) ...
    held = await svc.publish("endorsement.declined", {**granted(), "status": "declined"})
    await eventually(lambda: svc.db_has("webhook_deliveries", {"event_id": held.id, "status": "pending"}))
    assert len(receiver.received) == 4

    # ... and flow once the city fixes its receiver and re-enables the endpoint.
    receiver.status = 204
    enabled = await svc.client.patch(
        f"/webhooks/endpoints/{endpoint['id']}", json={"enabled": True}, headers=auth
    )
    assert enabled.json()["status"] == "active" and enabled.json()["consecutive_failures"] == 0
    await eventually(
        lambda: svc.db_has("webhook_deliveries", {"event_id": held.id, "status": "delivered"}), timeout=15
    )

    # Replay the failed one by id, then everything since the test started.
    one = await svc.client.post(
        f"/webhooks/endpoints/{endpoint['id']}/deliveries/{log[0]['id']}/replay", headers=auth
    )
    assert one.status_code == 202
    replay_id = one.json()["delivery_ids"][0]
    await eventually(
        lambda: svc.db_has("webhook_deliveries", {"_id": replay_id, "status": "delivered"}), timeout=15
    )
    assert json.loads(receiver.received[-1][1])["id"] == log[0]["event_id"]

    everything = await svc.client.post(
        f"/webhooks/endpoints/{endpoint['id']}/replay", json={"since": since.isoformat()}, headers=auth
    )
    assert everything.status_code == 202 and len(everything.json()["delivery_ids"]) == 2
    for delivery_id in everything.json()["delivery_ids"]:
        await eventually(
            lambda d=delivery_id: svc.db_has("webhook_deliveries", {"_id": d, "status": "delivered"}),
            timeout=15,
        )
    missing = await svc.client.post(
        f"/webhooks/endpoints/{endpoint['id']}/deliveries/whd_nope/replay", headers=auth
    )
    assert missing.status_code == 404


async def test_production_refuses_private_and_loopback_targets(env, sink, settings_for, receiver) -> None:
    app = build(
        settings_for(
            env,
            sink.port,
            environment="production",
            unsubscribe_secret="prod-secret",
            webhook_retry_schedule_s=Settings().webhook_retry_schedule_s,
        )
    )
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=15) as client:
        headers = env.issuer.headers("usr_claire", **MANAGER)
        for url in [
            receiver.url,  # plain HTTP to loopback
            "https://127.0.0.1/hooks",
            "https://localhost/hooks",
            "https://10.1.2.3/hooks",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hooks",
            "https://192.168.1.10/hooks",
            "http://example.org/hooks",  # HTTPS only in production
        ]:
            response = await client.post(
                "/webhooks/endpoints",
                json={"municipality": "montreuil", "url": url, "event_types": ["endorsement.granted"]},
                headers=headers,
            )
            assert response.status_code == 422, (url, response.text)
            assert response.json()["error"]["code"] == "url_refused"


async def test_development_allows_http_only_to_localhost(svc) -> None:
    response = await svc.client.post(
        "/webhooks/endpoints",
        json={
            "municipality": "montreuil",
            "url": "http://example.org/hooks",
            "event_types": ["endorsement.granted"],
        },
        headers=svc.auth("c", **MANAGER),
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "url_refused"


def client_of(svc, slug: str) -> dict[str, str]:
    return svc.auth(f"cli_{slug}", roles=[], municipalities={slug: "system"}, kind="client")


async def test_a_city_system_manages_its_own_citys_webhooks_with_its_client_token(svc, receiver) -> None:
    montreuil, bagnolet = client_of(svc, "montreuil"), client_of(svc, "bagnolet")
    body = {"municipality": "montreuil", "url": receiver.url, "event_types": ["label.*"]}
    assert (await svc.client.post("/webhooks/endpoints", json=body, headers=bagnolet)).status_code == 403
    created = await svc.client.post("/webhooks/endpoints", json=body, headers=montreuil)
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["id"]
    path = f"/webhooks/endpoints/{endpoint_id}"
    for method, suffix, payload in [
        ("GET", "", None),
        ("PATCH", "", {"description": "city IT"}),
        ("GET", "/deliveries", None),
        ("POST", "/rotate-secret", {"grace_seconds": 0}),
    ]:
        own = await svc.client.request(method, path + suffix, json=payload, headers=montreuil)
        assert own.status_code == 200, (method, suffix, own.text)
        other = await svc.client.request(method, path + suffix, json=payload, headers=bagnolet)
        assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden"
    listed = await svc.client.get("/webhooks/endpoints?municipality=montreuil", headers=montreuil)
    assert [e["id"] for e in listed.json()["items"]] == [endpoint_id]
    assert (
        await svc.client.get("/webhooks/endpoints?municipality=montreuil", headers=bagnolet)
    ).status_code == 403
    # A client token is no person: the inbox refuses it.
    assert (await svc.client.get("/me", headers=montreuil)).status_code == 403
    assert (await svc.client.delete(path, headers=montreuil)).status_code == 204


async def test_an_endpoint_registered_before_keeps_the_legacy_signature_until_its_manager_switches(
    svc, receiver
) -> None:
    endpoint = await register(svc, receiver.url)
    # The endpoint as the previous release stored it: no scheme, a secret without a format.
    legacy_secret = "whsec_" + secrets.token_urlsafe(32)
    assert svc.ctx.mongo is not None
    await svc.ctx.mongo.db.webhook_endpoints.update_one(
        {"_id": endpoint["id"]},
        {
            "$set": {
                "secrets": [{"id": "sec_old", "secret": legacy_secret, "created_at": datetime.now(UTC)}]
            },
            "$unset": {"signature_scheme": ""},
        },
    )
    auth = svc.auth("c", **MANAGER)
    shown = await svc.client.get(f"/webhooks/endpoints/{endpoint['id']}", headers=auth)
    assert shown.json()["signature_scheme"] == "legacy"
    await svc.publish("endorsement.granted", granted())
    await eventually(lambda: receiver.received, timeout=15)
    headers, body = receiver.received[0]
    assert headers["webhook-signature"].startswith("v1=")
    assert verify_legacy(legacy_secret, headers, body)

    switched = await svc.client.patch(
        f"/webhooks/endpoints/{endpoint['id']}", json={"signature_scheme": "standard"}, headers=auth
    )
    assert switched.status_code == 200 and switched.json()["signature_scheme"] == "standard"
    await svc.publish("endorsement.revoked", {**granted(), "status": "revoked"})
    await eventually(lambda: len(receiver.received) == 2, timeout=15)
    headers, body = receiver.received[1]
    # The same secret, written the way the official libraries take it (README).
    standard_form = "whsec_" + base64.b64encode(legacy_secret.encode()).decode()
    assert verify(standard_form, headers, body)
    assert not verify_legacy(legacy_secret, headers, body)
    bad = await svc.client.patch(
        f"/webhooks/endpoints/{endpoint['id']}", json={"signature_scheme": "v2"}, headers=auth
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
