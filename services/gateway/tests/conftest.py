"""Gateway test fixtures: the gateway served in-process over real HTTP on the session's
nx-27017 and RabbitMQ, in front of a purpose-built upstream.

The upstream is a small real HTTP app standing in for a service: routing is about what travels
between the gateway and *any* service (headers, bodies, slowness, outages), and the real
services are still being built. It records what it received so tests can compare bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.app import build_asgi
from gateway.settings import Settings
from servicekit.bus import Bus
from servicekit.events import new_event
from servicekit.testing.plugin import TestEnv
from servicekit.testing.procs import free_port
from servicekit.testing.server import serve


@dataclass
class Upstream:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    labels_status: int = 200
    labels_delay_s: float = 0.0


class Thing(BaseModel):
    id: str
    name: str


def upstream_app(state: Upstream) -> FastAPI:
    app = FastAPI(title="stand-in service")

    async def record(request: Request) -> dict[str, Any]:
        body = await request.body()
        entry = {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": body,
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        state.received.append(entry)
        return entry

    @app.get("/things/{thing_id}", response_model=Thing)
    async def get_thing(thing_id: str, request: Request) -> Thing:
        await record(request)
        return Thing(id=thing_id, name="a thing")

    @app.post("/echo")
    async def echo(request: Request) -> JSONResponse:
        entry = await record(request)
        return JSONResponse(
            {"sha256": entry["sha256"], "length": len(entry["body"])},
            headers={"Connection": "keep-alive", "X-Upstream": "yes"},
        )

    @app.get("/set-cookie")
    async def set_cookie() -> JSONResponse:
        response = JSONResponse({"ok": True})
        response.set_cookie("upstream_session", "for-one-user-only")
        return response

    @app.post("/webhooks/stripe")
    async def webhook(request: Request) -> dict[str, Any]:
        entry = await record(request)
        return {"sha256": entry["sha256"]}

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(5)
        return {"status": "late"}

    @app.get("/campaigns/{campaign_id}")
    async def campaign(campaign_id: str, request: Request) -> JSONResponse:
        await record(request)
        if campaign_id == "missing":
            return JSONResponse({"error": {"code": "not_found", "message": "no"}}, status_code=404)
        return JSONResponse(
            {"id": campaign_id, "title": "Street workout", "totals": {"raised": 2500, "currency": "EUR"}}
        )

    @app.get("/campaigns/{campaign_id}/labels")
    async def labels(campaign_id: str) -> JSONResponse:
        await asyncio.sleep(state.labels_delay_s)
        if state.labels_status != 200:
            return JSONResponse(
                {"error": {"code": "boom", "message": "boom"}}, status_code=state.labels_status
            )
        return JSONResponse(
            {
                "labels": [{"municipality": "montreuil", "status": "granted"}],
                "commitments": [{"municipality": "montreuil", "cap": 100000}],
            }
        )

    @app.get("/me/pledges")
    async def pledges(request: Request) -> JSONResponse:
        if "authorization" not in request.headers:
            return JSONResponse({"error": {"code": "unauthenticated", "message": "no"}}, status_code=401)
        return JSONResponse(
            {
                "items": [
                    {
                        "id": "plg_0",
                        "campaign_id": "cmp_1",
                        "amount": 900,
                        "created_at": "2026-01-01T00:00:00Z",
                    },
                    {
                        "id": "plg_1",
                        "campaign_id": "cmp_1",
                        "amount": 2500,
                        "created_at": "2026-02-01T00:00:00Z",
                    },
                    {
                        "id": "plg_9",
                        "campaign_id": "cmp_other",
                        "amount": 100,
                        "created_at": "2026-03-01T00:00:00Z",
                    },
                ]
            }
        )

    return app


@pytest.fixture(scope="session")
async def upstream() -> AsyncIterator[Upstream]:
    state = Upstream(url="")
    async with serve(upstream_app(state), ready_path=None) as base:
        state.url = base
        yield state


@dataclass
class Gateway:
    url: str
    settings: Settings
    bus: Bus

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=20, **kwargs)

    async def publish(self, routing_key: str, subject: str, data: dict[str, Any]) -> None:
        await self.bus.publish(new_event("endorsements", routing_key, subject, data))


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def make_gateway(env: TestEnv, upstream: Upstream, keys_dir: Path) -> Callable[..., Any]:
    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Gateway]:
        port = free_port()
        values: dict[str, Any] = {
            "jwks_url": f"http://127.0.0.1:{port}/.well-known/jwks.json",
            "jwt_keys_dir": str(keys_dir),
            "argon2_time_cost": 1,
            "argon2_memory_kib": 1024,
            "argon2_parallelism": 1,
            "upstream_campaigns": upstream.url,
            "upstream_payments": upstream.url,
            "upstream_endorsements": upstream.url,
            "upstream_notifications": upstream.url,
            "admin_emails": "boss@civicfund.localhost",
            "public_base_url": "https://civicfund.test",
            "upstream_timeout_s": 1.0,
            # The session's tests all come from 127.0.0.1: generous unless a test wants 429s.
            "rate_limit_ip": "100000/minute",
            "rate_limit_sensitive": "100000/minute",
        }
        values.update(overrides)
        settings = env.settings(Settings, "gateway", **values)
        bus = Bus(settings)
        await bus.connect(retry_forever=False)
        try:
            async with serve(build_asgi(settings), port=port) as base:
                yield Gateway(base, settings, bus)
        finally:
            await bus.close()

    return start


@pytest.fixture(scope="session")
async def gateway(make_gateway: Callable[..., Any]) -> AsyncIterator[Gateway]:
    async with make_gateway() as gw:
        yield gw


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.localhost"


@pytest.fixture
def new_email() -> Callable[[str], str]:
    return unique_email


PASSWORD = "correct horse battery"


@pytest.fixture
def signup(gateway: Gateway) -> Callable[..., Any]:
    """Register an account and log in: returns the login answer (tokens + user)."""

    async def run(email: str | None = None, password: str = PASSWORD, gw: Gateway | None = None) -> dict:
        gw = gw or gateway
        email = email or unique_email()
        async with gw.client() as client:
            created = await client.post(
                "/api/v1/auth/register",
                json={"email": email, "password": password, "display_name": "Test Person", "locale": "en"},
            )
            assert created.status_code == 201, created.text
            login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
            assert login.status_code == 200, login.text
            return login.json()

    return run
