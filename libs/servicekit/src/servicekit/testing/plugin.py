"""pytest fixtures for every Civicfund test suite (loaded with `-p servicekit.testing.plugin`).

Real RabbitMQ (a unique name prefix per test session on the default vhost), one nx-27017 server per session (in-memory databases,
one database name per test), localstripe on demand, and a token issuer with a JWKS endpoint.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aio_pika
import pytest
from fastapi import FastAPI

from ..settings import ServiceSettings
from ..signing import SigningKey, access_claims, jwks
from . import procs
from .rabbit import delete_namespace
from .server import serve

S = TypeVar("S", bound=ServiceSettings)
RABBIT_BASE = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@dataclass
class TestEnv:
    __test__ = False  # not a test class, despite the name

    amqp_url: str
    namespace: str
    mongo_url: str
    workdir: Path
    jwks_url: str = ""
    issuer: TokenIssuer | None = None
    _counter: int = 0
    # Namespaces of apps given their own (bus_namespace override) during the current test:
    # deleted when the test ends, so broker objects never pile up over a session (hundreds of
    # idle quorum queues exhaust RabbitMQ's file-handle budget and it stops accepting connections).
    test_namespaces: list[str] = field(default_factory=list)

    def settings(self, cls: type[S], service: str, **overrides: Any) -> S:
        """Settings for a service under test: its own database, this session's broker."""
        self._counter += 1
        values: dict[str, Any] = {
            "service_name": service,
            "environment": "test",
            "mongo_url": self.mongo_url,
            "mongo_db": f"{service}_{self._counter}_{uuid.uuid4().hex[:6]}",
            "amqp_url": self.amqp_url,
            "bus_namespace": self.namespace,
            "jwks_url": self.jwks_url,
            "consumer_retry_delays_ms": [200, 400],
            "consumer_max_attempts": 3,
            "outbox_poll_interval_s": 0.2,
            "log_json": True,
            "log_level": "WARNING",
        }
        values.update(overrides)
        namespace = values["bus_namespace"]
        if namespace != self.namespace and namespace.startswith(self.namespace):
            self.test_namespaces.append(namespace)
        return cls(**values)


@dataclass
class TokenIssuer:
    """Mints gateway-format access tokens with a test key, served as a JWKS."""

    key: SigningKey
    issuer: str = "civicfund-gateway"
    audience: str = "civicfund"
    extra_keys: list[SigningKey] = field(default_factory=list)

    def token(
        self,
        sub: str | None = None,
        roles: list[str] | None = None,
        municipalities: dict[str, str] | None = None,
        ttl_s: int = 900,
        kind: str = "user",
        **overrides: Any,
    ) -> str:
        claims = access_claims(
            sub or f"user-{uuid.uuid4().hex[:8]}",
            issuer=self.issuer,
            audience=self.audience,
            ttl_s=ttl_s,
            roles=roles,
            municipalities=municipalities,
            kind=kind,
        )
        claims.update(overrides)
        return self.key.sign(claims)

    def headers(self, sub: str | None = None, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub, **kwargs)}"}


@pytest.fixture(scope="session")
def rabbit_vhost() -> Iterator[tuple[str, str]]:
    """This session's broker URL and its unique name prefix (see testing/rabbit.py for why not
    a vhost per session); its queues and exchanges are deleted at the end."""
    namespace = f"t{uuid.uuid4().hex[:8]}."
    yield RABBIT_BASE, namespace
    delete_namespace(RABBIT_BASE, namespace)


@pytest.fixture(scope="session")
def test_workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="civicfund-test-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="session")
def nx_url(test_workdir: Path) -> Iterator[str]:
    port = procs.free_port()
    with procs.process(procs.nx_args(port, "memory", test_workdir), port, test_workdir / "nx.out"):
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true"


@pytest.fixture(scope="session")
def localstripe_url(test_workdir: Path) -> Iterator[str]:
    port = procs.free_port()
    with procs.process(procs.localstripe_args(port), port, test_workdir / "localstripe.out"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def token_issuer() -> TokenIssuer:
    return TokenIssuer(SigningKey.generate())


@pytest.fixture(scope="session")
async def jwks_url(token_issuer: TokenIssuer) -> AsyncIterator[str]:
    app = FastAPI()

    @app.get("/.well-known/jwks.json")
    async def _jwks() -> dict:
        return jwks([token_issuer.key, *token_issuer.extra_keys])

    async with serve(app, ready_path=None) as base:
        yield f"{base}/.well-known/jwks.json"


@pytest.fixture(scope="session")
async def env(
    rabbit_vhost: tuple[str, str], nx_url: str, test_workdir: Path, jwks_url: str, token_issuer: TokenIssuer
) -> TestEnv:
    amqp_url, namespace = rabbit_vhost
    connection = await aio_pika.connect_robust(amqp_url)  # fail early and clearly if RabbitMQ is down
    await connection.close()
    return TestEnv(amqp_url, namespace, nx_url, test_workdir, jwks_url, token_issuer)


@pytest.fixture(autouse=True)
def _delete_test_namespaces(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "env" not in request.fixturenames:
        return
    env: TestEnv = request.getfixturevalue("env")
    while env.test_namespaces:
        delete_namespace(env.amqp_url, env.test_namespaces.pop())


@pytest.fixture
def serve_app() -> Callable[..., Any]:
    return serve
