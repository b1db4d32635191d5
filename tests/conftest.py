"""Cross-service fixtures: the whole platform as real processes (the local stack's own
definition), on free ports, in-memory nx-27017 databases and this session's RabbitMQ vhost."""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devstack.running import RunningStack, running
from devstack.stack import SERVICES, Ports, Stack
from servicekit.signing import SigningKey
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


@pytest.fixture(scope="session")
def gateway_key(stack: RunningStack) -> SigningKey:
    """The key the running gateway signs with (until the accounts API issues tokens itself)."""
    return SigningKey.from_pem((stack.stack.var / "keys" / "current.pem").read_bytes())


@dataclass
class Account:
    """A real account on the running stack, logged in through the gateway."""

    user_id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@pytest.fixture(scope="session")
def make_account(gateway_url: str) -> Callable[..., Awaitable[Account]]:
    """`await make_account()` registers a fresh citizen through `/api/v1/auth/register` and logs
    in; use it instead of `gateway_key` for tokens the way users get them."""

    async def create(
        email: str | None = None, password: str = "correct horse battery", display_name: str = "Test Person"
    ) -> Account:
        email = email or f"user-{uuid.uuid4().hex[:10]}@example.localhost"
        async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
            created = await client.post(
                "/api/v1/auth/register",
                json={"email": email, "password": password, "display_name": display_name, "locale": "en"},
            )
            assert created.status_code in (201, 409), created.text
            login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
            assert login.status_code == 200, login.text
            body = login.json()
        return Account(body["user"]["id"], email, password, body["access_token"], body["refresh_token"])

    return create
