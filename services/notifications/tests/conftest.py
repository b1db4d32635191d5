"""Fixtures: the notifications service in-process on real HTTP, real RabbitMQ, nx-27017 and an
in-process SMTP sink; helpers to publish other services' events shaped by their contracts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from devstack.smtp_sink import MailSink
from notifications.app import build
from notifications.settings import Settings
from servicekit.app import ServiceContext
from servicekit.events import Event, new_event
from servicekit.testing.plugin import TestEnv
from servicekit.testing.procs import free_port
from servicekit.testing.server import serve

SOURCES = {
    "user": "gateway",
    "official": "endorsements",
    "municipality": "endorsements",
    "endorsement": "endorsements",
    "label": "endorsements",
    "match": "endorsements",
    "call": "endorsements",
    "campaign": "campaigns",
    "pledge": "payments",
    "payment": "payments",
    "subscription": "payments",
}


def _campaign_data(owner_id: str, campaign_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    data = {
        "campaign_id": campaign_id or f"cmp_{uuid.uuid4().hex[:10]}",
        "owner_id": owner_id,
        "title": "Street workout park in Bel-Air",
        "status": "live",
        "municipality": "montreuil",
        "goal": 1_200_000,
        "currency": "EUR",
        "funding_model": "keep_it_all",
        "version": 2,
    }
    data.update(overrides)
    return data


def _payment_data(backer_id: str, campaign_id: str, amount: int = 2500) -> dict[str, Any]:
    return {
        "payment_id": f"pay_{uuid.uuid4().hex[:8]}",
        "pledge_id": f"plg_{uuid.uuid4().hex[:8]}",
        "campaign_id": campaign_id,
        "backer_id": backer_id,
        "amount": amount,
        "currency": "EUR",
    }


@dataclass
class Svc:
    base: str
    ctx: ServiceContext
    client: httpx.AsyncClient
    env: TestEnv
    sink: MailSink

    def auth(self, sub: str, **kwargs: Any) -> dict[str, str]:
        assert self.env.issuer is not None
        return self.env.issuer.headers(sub, **kwargs)

    async def publish(
        self,
        routing_key: str,
        data: dict[str, Any],
        *,
        event_id: str | None = None,
        at: datetime | None = None,
    ) -> Event:
        """Publish an event as its producer would (validated against its contract here too)."""
        event = new_event(SOURCES[routing_key.split(".")[0]], routing_key, None, data)
        if event_id:
            event.id = event_id
        if at:
            event.time = at
        assert self.ctx.contracts is not None
        self.ctx.contracts.validate(event)
        assert self.ctx.bus is not None
        await self.ctx.bus.publish(event)
        return event

    async def user(self, name: str, locale: str = "fr", postcode: str = "93100") -> str:
        user_id = f"usr_{name}_{uuid.uuid4().hex[:6]}"
        await self.publish(
            "user.registered",
            {
                "user_id": user_id,
                "email": f"{user_id}@example.localhost",
                "display_name": name.title(),
                "locale": locale,
                "postcode": postcode,
            },
        )
        return user_id

    def mail_to(self, user_id: str) -> list[Any]:
        return self.sink.to(f"{user_id}@example.localhost")

    campaign_data = staticmethod(_campaign_data)
    payment_data = staticmethod(_payment_data)

    async def db_has(self, collection: str, query: dict[str, Any]) -> bool:
        assert self.ctx.mongo is not None
        return await self.ctx.mongo.db[collection].find_one(query) is not None


def make_settings(env: TestEnv, smtp_port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        # A namespace per app: one test's queues never feed another test's service.
        "bus_namespace": f"{env.namespace}{uuid.uuid4().hex[:6]}.",
        "smtp_port": smtp_port,
        "public_base_url": "http://civicfund.test",
        "unsubscribe_secret": "test-unsubscribe-secret",
        "worker_poll_s": 0.1,
        "email_retry_delays_s": [0.2, 0.4],
        "webhook_retry_schedule_s": [0.2, 0.4, 0.6],
        "webhook_timeout_s": 3,
        "claim_lease_s": 30,
    }
    values.update(overrides)
    return env.settings(Settings, "notifications", **values)


@pytest.fixture
async def sink() -> AsyncIterator[MailSink]:
    mail = MailSink(free_port()).start()
    yield mail
    mail.stop()


@pytest.fixture
async def svc(env: TestEnv, sink: MailSink) -> AsyncIterator[Svc]:
    app = build(make_settings(env, sink.port))
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=15) as client:
        yield Svc(base, app.state.ctx, client, env, sink)


@dataclass
class Receiver:
    """A city system's webhook receiver: records what it got, answers `status`."""

    url: str = ""
    status: int = 200
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = FastAPI()

    @app.post("/hooks/{city}")
    async def hook(city: str, request: Request) -> JSONResponse:
        rec.received.append((dict(request.headers), await request.body()))
        return JSONResponse({"ok": rec.status < 300}, status_code=rec.status)

    async with serve(app, ready_path=None) as base:
        rec.url = f"{base}/hooks/montreuil"
        yield rec


@pytest.fixture
def settings_for() -> Any:
    """Settings for an extra app (e.g. in production mode): make_settings(env, smtp_port, **overrides)."""
    return make_settings
