"""Campaigns under test: the real app over HTTP, its own nx-27017 database and the session's
RabbitMQ. `Svc` holds the client and shortcuts to reach a state (a live campaign) through the
public API, and to publish other services' events shaped by their contracts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from campaigns.app import build
from campaigns.settings import Settings
from servicekit.app import ServiceContext
from servicekit.events import Event, new_event
from servicekit.mongo import Tx, utcnow
from servicekit.testing.plugin import TestEnv
from servicekit.testing.server import serve

ADMIN = "usr_admin"


@dataclass
class Svc:
    base: str
    ctx: ServiceContext
    client: httpx.AsyncClient
    env: TestEnv

    @staticmethod
    def user() -> str:
        return f"usr_{uuid.uuid4().hex[:10]}"

    def auth(self, sub: str, admin: bool = False, **kwargs: Any) -> dict[str, str]:
        assert self.env.issuer is not None
        roles = ["citizen", "admin"] if admin else ["citizen"]
        return self.env.issuer.headers(sub, roles=roles, **kwargs)

    @property
    def admin(self) -> dict[str, str]:
        return self.auth(ADMIN, admin=True)

    def campaign_body(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "title": "Street workout park in Bel-Air",
            "summary": "Bars and benches for everyone",
            "description": "We need **bars**.",
            "category": "sport",
            "municipality": "montreuil",
            "neighbourhood": "Bel-Air",
            "lat": 48.8638,
            "lon": 2.4485,
            "goal": 500_000,
            "currency": "EUR",
            "funding_model": "keep_it_all",
            "duration_days": 30,
        }
        body.update(overrides)
        return body

    async def draft(self, owner: str, **overrides: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/campaigns", json=self.campaign_body(**overrides), headers=self.auth(owner)
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def live(self, owner: str, **overrides: Any) -> dict[str, Any]:
        """Draft -> submitted -> approved by an admin (which publishes it)."""
        campaign = await self.draft(owner, **overrides)
        submitted = await self.client.post(f"/campaigns/{campaign['id']}/submit", headers=self.auth(owner))
        assert submitted.status_code == 200, submitted.text
        approved = await self.client.post(
            f"/campaigns/{campaign['id']}/moderation", json={"decision": "approve"}, headers=self.admin
        )
        assert approved.status_code == 200, approved.text
        return approved.json()

    async def get(self, campaign_id: str, who: str | None = None) -> dict[str, Any]:
        response = await self.client.get(f"/campaigns/{campaign_id}", headers=self.auth(who) if who else {})
        assert response.status_code == 200, response.text
        return response.json()

    async def publish(self, routing_key: str, data: dict[str, Any], subject: str | None = None) -> Event:
        """Publish another service's event onto the bus (validated against its contract first)."""
        source = routing_key.split(".")[0]
        event = new_event(source, routing_key, subject or data.get("campaign_id"), data)
        assert self.ctx.contracts is not None
        self.ctx.contracts.validate(event)
        assert self.ctx.bus is not None
        await self.ctx.bus.publish(event)
        return event

    async def tally(
        self,
        campaign_id: str,
        authorized: tuple[int, int] = (0, 0),
        succeeded: tuple[int, int] = (0, 0),
        currency: str = "EUR",
    ) -> Event:
        """payments' answer to campaign.deadline_passed: (count, amount) of the pledges it holds
        authorised and of the payments that succeeded."""
        data = {
            "campaign_id": campaign_id,
            "currency": currency,
            "authorized": {"count": authorized[0], "amount": authorized[1]},
            "succeeded": {"count": succeeded[0], "amount": succeeded[1]},
        }
        event = new_event("payments", "pledges.tallied", campaign_id, data)
        assert self.ctx.contracts is not None and self.ctx.bus is not None
        self.ctx.contracts.validate(event)
        await self.ctx.bus.publish(event)
        return event

    async def move_deadline_to_the_past(self, campaign_id: str) -> None:
        """Time travel for deadline tests: the stored deadline, one minute ago (nothing else in
        the document changes; `rev` moves so concurrent writers notice)."""

        async def work(tx: Tx) -> None:
            doc = await tx.db.campaigns.find_one({"_id": campaign_id}, session=tx.session)
            assert doc is not None
            past = utcnow() - timedelta(minutes=1)
            doc.update(deadline=past, deadline_ms=int(past.timestamp() * 1000), rev=doc["rev"] + 1)
            await tx.db.campaigns.replace_one({"_id": campaign_id}, doc, session=tx.session)

        assert self.ctx.mongo is not None
        await self.ctx.mongo.transact(work)


@pytest.fixture(scope="module")
async def svc(env: TestEnv) -> AsyncIterator[Svc]:
    # The scheduler ticks rarely here; the deadline tests drive it (or a fast instance) directly.
    settings = env.settings(Settings, "campaigns", deadline_tick_s=3600)
    app = build(settings)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=15) as client:
        yield Svc(base, app.state.ctx, client, env)
