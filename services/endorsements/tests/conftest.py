"""Fixtures for the endorsements tests: the service in-process over real HTTP, real RabbitMQ
and nx-27017; other services' events are published onto the bus, shaped by their contracts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from endorsements.app import build
from endorsements.settings import Settings
from servicekit.app import ServiceContext
from servicekit.events import new_event
from servicekit.testing.helpers import eventually
from servicekit.testing.plugin import TestEnv
from servicekit.testing.server import serve


@dataclass
class Endorsements:
    http: httpx.AsyncClient
    ctx: ServiceContext
    env: TestEnv

    def who(self, sub: str, **kw: Any) -> dict[str, str]:
        assert self.env.issuer is not None
        # A verified address unless said otherwise (the gateway's `email_verified` claim).
        kw.setdefault("email_verified", True)
        return self.env.issuer.headers(sub, roles=kw.pop("roles", ["citizen"]), **kw)

    @property
    def admin(self) -> dict[str, str]:
        return self.who("usr_admin", roles=["citizen", "admin"])

    async def publish(self, key: str, subject: str, data: dict[str, Any], source: str = "campaigns") -> str:
        assert self.ctx.bus is not None
        await self.ctx.bus.wait_ready()
        event = new_event(source, key, subject, data)
        assert self.ctx.contracts is not None
        self.ctx.contracts.validate(event)  # tests publish what the real producers would
        await self.ctx.bus.publish(event)
        return event.id

    async def city(
        self, slug: str | None = None, postcodes: tuple[str, ...] = ("93100",), **extra: Any
    ) -> str:
        slug = slug or f"city-{uuid.uuid4().hex[:8]}"
        body = {"name": slug.title(), "slug": slug, "official_code": "93048", "country": "FR",
                "postcodes": list(postcodes), **extra}  # fmt: skip
        r = await self.http.post("/municipalities", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return slug

    async def appoint(self, slug: str, user: str, role: str) -> None:
        r = await self.http.put(
            f"/municipalities/{slug}/officials/{user}", json={"role": role}, headers=self.admin
        )
        assert r.status_code == 200, r.text

    async def trial(self, slug: str, days: int = 30) -> None:
        r = await self.http.post(f"/municipalities/{slug}/trial", json={"days": days}, headers=self.admin)
        assert r.status_code == 200, r.text

    async def campaign(
        self, owner: str, slug: str, verb: str = "published", version: int = 1, **fields: Any
    ) -> str:
        cid = fields.pop("campaign_id", None) or f"cmp_{uuid.uuid4().hex[:10]}"
        status = {"created": "draft", "submitted": "submitted", "published": "live"}.get(verb, verb)
        data = {"campaign_id": cid, "owner_id": owner, "title": "Street workout park", "status": status,
                "municipality": slug, "goal": 1_200_000, "currency": "EUR", "funding_model": "keep_it_all",
                "version": version, **fields}  # fmt: skip
        await self.publish(f"campaign.{verb}", cid, data)
        return cid

    async def known(self, collection: str, query: dict[str, Any]) -> None:
        assert self.ctx.mongo is not None
        db = self.ctx.mongo.db

        async def found() -> bool:
            return await db[collection].find_one(query) is not None

        await eventually(found, timeout=15)


@pytest.fixture
async def svc(env: TestEnv) -> AsyncIterator[Endorsements]:
    settings = env.settings(Settings, "endorsements")
    app = build(settings)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=15) as http:
        yield Endorsements(http, app.state.ctx, env)
