"""The gateway in the running platform (every service a real process): an account's life through
the public API, a real service behind it, an upstream killed mid-test, and a schemathesis run
against the merged API document."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx

from devstack.running import RunningStack
from servicekit.bus import Bus
from servicekit.settings import ServiceSettings
from servicekit.testing.helpers import eventually, tap
from servicekit.testing.plugin import TestEnv

PASSWORD = "correct horse battery"


async def test_account_life_through_the_gateway(gateway_url: str, env: TestEnv, stack: RunningStack) -> None:
    bus = Bus(
        ServiceSettings(amqp_url=env.amqp_url, bus_namespace=stack.stack.bus_namespace, service_name="e2e")
    )
    await bus.connect(retry_forever=False)
    try:
        _, received = await tap(bus, "user.verification_requested")
        email = f"e2e-{uuid.uuid4().hex[:8]}@example.localhost"
        request_id = f"req-e2e-{uuid.uuid4().hex[:8]}"
        async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
            created = await client.post(
                "/api/v1/auth/register",
                json={"email": email, "password": PASSWORD, "display_name": "E2E", "locale": "en"},
            )
            assert created.status_code == 201, created.text
            user_id = created.json()["id"]

            def link() -> str | None:
                for message in received:
                    body = json.loads(message.body)
                    if body["subject"] == user_id:
                        return body["data"]["verify_url"]
                return None

            await eventually(link)
            token = parse_qs(urlparse(link() or "").query)["token"][0]
            verified = await client.post("/api/v1/auth/verify-email", json={"token": token})
            assert verified.status_code == 200 and verified.json()["email_verified"] is True

            first = (
                await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
            ).json()
            second = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
            assert second.status_code == 200
            reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
            assert reuse.status_code == 401 and reuse.json()["error"]["code"] == "refresh_token_reused"
            revoked = await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": second.json()["refresh_token"]}
            )
            assert revoked.status_code == 401

            session = (
                await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
            ).json()
            headers = {"Authorization": f"Bearer {session['access_token']}", "X-Request-ID": request_id}
            # A real service verifies the gateway's token against the gateway's JWKS.
            me = await client.get("/api/v1/notifications/me", headers=headers)
            assert me.status_code == 200, me.text
            assert me.headers["x-request-id"] == request_id
            unauth = await client.get("/api/v1/notifications/me")
            assert unauth.status_code == 401

            out = await client.post("/api/v1/auth/logout", json={"refresh_token": session["refresh_token"]})
            assert out.status_code == 204
            after = await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
            )
            assert after.status_code == 401
    finally:
        await bus.close()

    # The request id reached the upstream and shows in its logs.
    lines = [json.loads(x) for x in stack.log("notifications").splitlines() if x.startswith("{")]
    assert any(line.get("request_id") == request_id and line.get("event") == "request" for line in lines)


async def test_killed_upstream_gives_503_then_recovers(gateway_url: str, stack: RunningStack) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        assert (await client.get("/api/v1/endorsements/livez")).status_code == 200
        stack.stop("endorsements")
        try:
            start = time.monotonic()
            down = await client.get("/api/v1/endorsements/livez")
            elapsed = time.monotonic() - start
            assert down.status_code == 503, down.text
            assert down.json()["error"]["code"] == "unavailable"
            assert elapsed < 10  # the gateway's upstream timeout, not a hang
        finally:
            await asyncio.to_thread(stack.restart, "endorsements")
        assert (await client.get("/api/v1/endorsements/livez")).status_code == 200


async def test_schemathesis_finds_no_5xx_and_no_schema_violations(
    gateway_url: str, make_account, tmp_path: Path
) -> None:
    """Bounded property-based run over the merged document: every operation of every service,
    with a real citizen's token. Operations appear as services add them, nothing is listed here."""
    account = await make_account()
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        doc = (await client.get("/openapi.json")).json()
    assert doc["x-unavailable-services"] == [], doc["x-unavailable-services"]
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{gateway_url}/openapi.json",
        "--url",
        gateway_url,
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--phases",
        "examples,fuzzing",
        "--max-examples",
        "6",
        "--seed",
        "7",
        "--workers",
        "2",
        "--request-timeout",
        "20",
        "--header",
        f"Authorization: Bearer {account.access_token}",
        "--report-junit-path",
        str(tmp_path / "schemathesis.xml"),
    ]
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=200, check=False
    )
    (tmp_path / "schemathesis.out").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, _failures(result.stdout) + result.stderr[-2000:]


def _failures(output: str) -> str:
    """The failing operations and their first lines, not the whole report."""
    start = output.find("FAILURES")
    return output[start : start + 8000] if start >= 0 else output[-8000:]


async def test_seed_accounts_step_is_idempotent_and_relogin_waits_for_roles(
    gateway_url: str, env: TestEnv, stack: RunningStack, tmp_path: Path
) -> None:
    from devstack.seed import accounts
    from devstack.seed.context import Demo, token_claims

    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        demo = Demo(client=client, var=tmp_path)
        await accounts.run(demo)
        await accounts.run(demo)  # a second seed run finds the accounts and logs in
        admin = demo.people["admin"]
        assert token_claims(admin.token)["roles"] == ["citizen", "admin"]
        manager = demo.people["montreuil_manager"]
        # A town of its own: other tests on this shared stack appoint Montreuil's officials.
        town = f"relogin-{uuid.uuid4().hex[:6]}"
        assert town not in token_claims(manager.token)["municipalities"]

        # Endorsements appoints the manager through its API (the admin registers the town first);
        # the gateway hears official.appointed and puts the role in the next token.
        city = {"name": town, "slug": town, "official_code": "99998", "country": "FR", "postcodes": ["93101"]}
        await demo.call("POST", "/api/v1/endorsements/municipalities", admin, json=city)
        await demo.call(
            "PUT",
            f"/api/v1/endorsements/municipalities/{town}/officials/{manager.user_id}",
            admin,
            json={"role": "manager", "email": manager.email},
        )
        manager.municipalities = {town: "manager"}  # what this test appoints; nothing else is promised
        await demo.relogin(manager)
        assert token_claims(manager.token)["municipalities"][town] == "manager"


async def test_campaign_page_from_the_real_services(gateway_url: str, make_account) -> None:
    owner = await make_account()
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        created = await client.post(
            "/api/v1/campaigns/campaigns",
            json={"title": "Shared garden", "municipality": "montreuil", "goal": 300000, "currency": "EUR"},
            headers=owner.headers,
        )
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        read = await client.get(f"/api/v1/campaigns/campaigns/{campaign_id}", headers=owner.headers)
        # One Date and one Server, the gateway's own: the upstream's are not passed on.
        assert len(read.headers.get_list("date")) == 1 and read.headers.get_list("server") == ["uvicorn"]
        page = await client.get(f"/api/v1/pages/campaigns/{campaign_id}", headers=owner.headers)
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["unavailable"] == [], body
        assert body["campaign"]["id"] == campaign_id and body["totals"] == body["campaign"]["totals"]
        assert body["labels"] == [] and body["my_pledge"] is None
        missing = await client.get("/api/v1/pages/campaigns/cmp_does_not_exist", headers=owner.headers)
        assert missing.status_code == 404
