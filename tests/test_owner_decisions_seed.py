"""The owner-decisions seed step on the running platform: Marc's live campaign, left when he
deleted his account, waits in the admin's queue; his account is gone; a second run adds nothing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx


async def test_seed_leaves_one_campaign_waiting_for_the_admins_decision_once(
    gateway_url: str, tmp_path: Path
) -> None:
    from devstack.seed import accounts, owner_decisions
    from devstack.seed.context import Demo

    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        demo = Demo(client=client, var=tmp_path)
        await accounts.run(demo)
        await owner_decisions.run(demo)
        first = dict(demo.ids)
        campaign_id = first["campaign.owner_deleted"]
        admin = demo.people["admin"]

        async def waiting() -> list[str]:
            answer = await client.get(
                "/api/v1/campaigns/owner-decisions", params={"limit": 100}, headers=admin.auth
            )
            assert answer.status_code == 200, answer.text
            return [c["id"] for c in answer.json()["items"]]

        deadline = time.monotonic() + 30  # campaigns hears of the deletion from user.deleted
        while campaign_id not in await waiting():
            assert time.monotonic() < deadline, "the campaign never waited for the admin"
            await asyncio.sleep(0.3)
        campaign = (await client.get(f"/api/v1/campaigns/campaigns/{campaign_id}", headers=admin.auth)).json()
        assert campaign["status"] == "live" and campaign["owner_deleted"] and campaign["owner_deleted_at"]
        assert campaign["title"] == owner_decisions.ORPHAN["title"]
        login = await client.post(
            "/api/v1/auth/login",
            json={"email": owner_decisions.MARC.email, "password": owner_decisions.MARC.password},
        )
        assert login.status_code == 401, login.text

        await owner_decisions.run(demo)  # finds the campaign: no new account, no new campaign
        assert demo.ids == first
        assert (await waiting()).count(campaign_id) == 1
        login = await client.post(
            "/api/v1/auth/login",
            json={"email": owner_decisions.MARC.email, "password": owner_decisions.MARC.password},
        )
        assert login.status_code == 401, login.text
