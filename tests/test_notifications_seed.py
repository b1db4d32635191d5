"""The notifications seed step on the running platform: Sofia's preferences, Montreuil's
webhook endpoint registered by its manager (secret shown once); a second run adds nothing."""

from __future__ import annotations

import httpx

from devstack.running import RunningStack
from devstack.seed import accounts, cities, notifications
from devstack.seed.context import Demo

N = "/api/v1/notifications"


async def test_seed_notifications_step(gateway_url: str, stack: RunningStack) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        # The stack's own var: the accounts step opens the verification links in its mail sink.
        demo = Demo(client=client, var=stack.stack.var)
        await accounts.run(demo)
        await cities.run(demo)  # Claire becomes Montreuil's manager (her token says so)
        await notifications.run(demo)
        endpoint_id = demo.ids["webhook.montreuil"]
        assert any("shown once" in note and "whsec_" in note for note in demo.notes)

        await notifications.run(demo)
        assert demo.ids["webhook.montreuil"] == endpoint_id
        claire, sofia = demo.people["montreuil_manager"], demo.people["sofia"]
        listed = (
            await client.get(f"{N}/webhooks/endpoints?municipality=montreuil", headers=claire.auth)
        ).json()
        # Other tests on this shared stack register Montreuil endpoints of their own.
        seeded = [e["id"] for e in listed["items"] if e["url"] == "http://127.0.0.1:8090/hooks/montreuil"]
        assert seeded == [endpoint_id]
        prefs = (await client.get(f"{N}/me/preferences", headers=sofia.auth)).json()["categories"]
        assert prefs["calls"]["email"] is True and prefs["campaign_news"]["email"] is False
