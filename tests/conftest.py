"""Cross-service fixtures: the whole platform as real processes (the local stack's own
definition), on free ports, in-memory nx-27017 databases and this session's RabbitMQ vhost."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.running import RunningStack, running
from devstack.stack import SERVICES, Ports, Stack
from servicekit.testing.plugin import TestEnv
from servicekit.testing.procs import free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def stack(env: TestEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    ports = Ports(
        **{s: free_port() for s in SERVICES},
        mongo_ports={s: free_port() for s in SERVICES},
        localstripe=free_port(),
        smtp=free_port(),
    )
    var = tmp_path_factory.mktemp("stack")
    definition = Stack(
        root=ROOT,
        var=var,
        ports=ports,
        amqp_url=env.amqp_url,
        # Its own prefix: in-process service tests declare the same queue names with test
        # settings (other x-delivery-limit), and a queue cannot be re-declared differently.
        bus_namespace=f"{env.namespace}stack.",
        mongo_data="memory",
        environment="test",
        extra_env={"LOG_JSON": "true", "OUTBOX_POLL_INTERVAL_S": "0.2", "DEADLINE_TICK_S": "1"},
        # Development only (never in CI): CIVICFUND_BACKEND=<another checkout> runs the API services
        # from there, to try the site against a known-good platform while the services change.
        backend_root=Path(os.environ["CIVICFUND_BACKEND"]) if os.environ.get("CIVICFUND_BACKEND") else None,
    )
    with running(definition) as run:
        yield run


@pytest.fixture(scope="session")
def gateway_url(stack: RunningStack) -> str:
    return stack.stack.url("gateway")


ADMIN_EMAIL = "admin@civicfund.localhost"  # an admin by the stack's ADMIN_EMAILS
ADMIN_PASSWORD = "admin-demo-password"  # the demo seed's: seed tests on this stack log in with it
STRIPE_SECRET = "sk_test_civicfund_local"  # the local stack's localstripe key


def claims_of(token: str) -> dict[str, Any]:
    """What the gateway put in a token (read, not verified: the services verify it)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass
class Account:
    """A real account on the running stack, logged in through the gateway."""

    user_id: str
    email: str
    password: str
    access_token: str
    refresh_token: str
    gateway_url: str = ""

    @property
    def headers(self) -> dict[str, str]:
        # Session-long accounts (the platform admin) outlive an access token on a long run: a
        # token about to expire is renewed first, as any client does with its refresh token.
        if self.gateway_url and int(self.claims.get("exp", 0)) - time.time() < 60:
            answer = httpx.post(
                f"{self.gateway_url}/api/v1/auth/refresh",
                json={"refresh_token": self.refresh_token},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            self.access_token = answer.json()["access_token"]
            self.refresh_token = answer.json()["refresh_token"]
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def claims(self) -> dict[str, Any]:
        return claims_of(self.access_token)

    async def refresh(self) -> None:
        async with httpx.AsyncClient(base_url=self.gateway_url, timeout=30) as client:
            answer = await client.post("/api/v1/auth/refresh", json={"refresh_token": self.refresh_token})
            assert answer.status_code == 200, answer.text
        self.access_token = answer.json()["access_token"]
        self.refresh_token = answer.json()["refresh_token"]

    async def wait_for_role(self, municipality: str, role: str, timeout: float = 30.0) -> None:
        """Refresh until the token carries the city role (the gateway learns it from
        endorsements' official.appointed, asynchronously)."""
        deadline = time.monotonic() + timeout
        while (self.claims.get("municipalities") or {}).get(municipality) != role:
            assert time.monotonic() < deadline, f"{self.email}: no {role} of {municipality} in {self.claims}"
            await asyncio.sleep(0.3)
            await self.refresh()


def verify_link(mail_dir: Path, address: str, timeout: float = 30.0) -> str:
    """The verification link notifications emailed to `address` (the stack's SMTP sink)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address.lower() not in str(message.get("To", "")).lower():
                continue
            part = message.get_body(preferencelist=("plain", "html"))
            for url in re.findall(r"https?://[^\s\"'<>]+", part.get_content() if part else ""):
                if "verify-email" in url:
                    return url
        time.sleep(0.2)
    raise AssertionError(f"no verification mail to {address}")


async def _login(client: httpx.AsyncClient, email_address: str, password: str) -> dict[str, Any]:
    login = await client.post("/api/v1/auth/login", json={"email": email_address, "password": password})
    assert login.status_code == 200, login.text
    return login.json()


@pytest.fixture(scope="session")
def make_account(gateway_url: str, stack: RunningStack) -> Callable[..., Awaitable[Account]]:
    """`await make_account()`: a fresh citizen the way people get one: registered through
    `/api/v1/auth/register`, the emailed link opened (`verified=False` skips it), logged in."""
    mail_dir = stack.stack.var / "mail"

    async def create(
        email: str | None = None,
        password: str = "correct horse battery",
        display_name: str = "Test Person",
        verified: bool = True,
    ) -> Account:
        email = email or f"user-{uuid.uuid4().hex[:10]}@example.localhost"
        async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
            created = await client.post(
                "/api/v1/auth/register",
                json={"email": email, "password": password, "display_name": display_name, "locale": "en"},
            )
            assert created.status_code in (201, 409), created.text
            if verified and created.status_code == 201:
                link = await asyncio.to_thread(verify_link, mail_dir, email)
                token = link.split("token=", 1)[1].split("&", 1)[0]
                done = await client.post("/api/v1/auth/verify-email", json={"token": token})
                assert done.status_code == 200, done.text
            body = await _login(client, email, password)
        return Account(
            body["user"]["id"], email, password, body["access_token"], body["refresh_token"], gateway_url
        )

    return create


@pytest.fixture(scope="session")
async def platform_admin(gateway_url: str) -> Account:
    """The platform admin (admin@civicfund.localhost is one by the stack's ADMIN_EMAILS), with
    the demo seed's password, logged in through the gateway."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        created = await client.post(
            "/api/v1/auth/register",
            json={
                "email": ADMIN_EMAIL,
                "password": ADMIN_PASSWORD,
                "display_name": "Platform admin",
                "locale": "en",
            },
        )
        assert created.status_code in (201, 409), created.text
        body = await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    admin = Account(
        body["user"]["id"],
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        body["access_token"],
        body["refresh_token"],
        gateway_url,
    )
    assert "admin" in admin.claims["roles"], admin.claims
    return admin


@dataclass
class Platform:
    """Journeys through the public API only: what the site and city systems can do too."""

    url: str
    admin: Account
    stripe_base: str

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30)

    async def call(self, method: str, path: str, who: Account | None, expect: int = 200, **kw: Any) -> Any:
        headers = {**(who.headers if who else {}), **kw.pop("headers", {})}
        async with self.client() as client:
            answer = await client.request(method, path, headers=headers, **kw)
        assert answer.status_code == expect, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    async def live_campaign(self, owner: Account, **fields: Any) -> dict[str, Any]:
        """Drafted and submitted by the owner, approved (published) by the admin."""
        body = {"title": "Community garden", "municipality": "montreuil", "goal": 300_000, **fields}
        api = "/api/v1/campaigns/campaigns"
        campaign = await self.call("POST", api, owner, 201, json=body)
        await self.call("POST", f"{api}/{campaign['id']}/submit", owner)
        return await self.call(
            "POST", f"{api}/{campaign['id']}/moderation", self.admin, json={"decision": "approve"}
        )

    async def city(self, manager: Account, postcode: str = "93100") -> str:
        """A municipality of its own (registered by the admin, on trial), `manager` appointed
        through endorsements and holding the role in their token."""
        slug = f"e2e-{uuid.uuid4().hex[:8]}"
        city = {
            "name": f"Town {slug}",
            "slug": slug,
            "official_code": "99999",
            "country": "FR",
            "postcodes": [postcode],
        }
        await self.call("POST", "/api/v1/endorsements/municipalities", self.admin, 201, json=city)
        await self.call(
            "PUT",
            f"/api/v1/endorsements/municipalities/{slug}/officials/{manager.user_id}",
            self.admin,
            json={"role": "manager", "email": manager.email},
        )
        await self.call(
            "POST", f"/api/v1/endorsements/municipalities/{slug}/trial", self.admin, json={"days": 30}
        )
        await manager.wait_for_role(slug, "manager")
        return slug

    async def save_card(self, client_secret: str, number: str = "4242424242424242") -> None:
        """The browser's part (Stripe.js confirmCardSetup) on the stack's localstripe."""
        async with httpx.AsyncClient(base_url=self.stripe_base, timeout=10) as stripe:
            saved = await stripe.post(
                f"/v1/setup_intents/{client_secret.split('_secret_')[0]}/confirm",
                data={
                    "key": "pk_test_e2e",
                    "client_secret": client_secret,
                    "payment_method_data[type]": "card",
                    "payment_method_data[card][number]": number,
                    "payment_method_data[card][exp_month]": "12",
                    "payment_method_data[card][exp_year]": "2031",
                    "payment_method_data[card][cvc]": "123",
                },
            )
            assert saved.status_code == 200 and saved.json()["status"] == "succeeded", saved.text

    async def pledge(
        self, backer: Account, campaign: dict[str, Any], amount: int, **extra: Any
    ) -> dict[str, Any]:
        """A pledge paid the way the checkout page pays it: create, save the card, confirm."""
        body = {"campaign_id": campaign["id"], "amount": amount, "currency": campaign["currency"], **extra}
        created: dict[str, Any] | None = None
        deadline = time.monotonic() + 30
        async with self.client() as client:
            while created is None:  # until payments has heard of the campaign (campaign.published)
                answer = await client.post(
                    "/api/v1/payments/pledges",
                    json=body,
                    headers={**backer.headers, "Idempotency-Key": f"e2e-{campaign['id']}-{backer.user_id}"},
                )
                if answer.status_code == 201:
                    created = answer.json()
                else:
                    assert answer.json()["error"]["code"] == "campaign_not_found", answer.text
                    assert time.monotonic() < deadline, answer.text
                    await asyncio.sleep(0.3)
        assert created["next_action"] == "confirm_card_setup", created
        await self.save_card(created["client_secret"])
        return await self.call("POST", f"/api/v1/payments/pledges/{created['id']}/confirm", backer)


@pytest.fixture(scope="session")
def platform(gateway_url: str, platform_admin: Account, stack: RunningStack) -> Platform:
    return Platform(gateway_url, platform_admin, f"http://127.0.0.1:{stack.stack.ports.localstripe}")
