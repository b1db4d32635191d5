"""The record seed step on the running platform: after the accounts, cities, campaigns and
labels steps, Amina's street-workout park has planks that count toward its goal (Lucas's 8
delivered, 8 x 35 EUR counted, apart from the money) and the permit to occupy the square,
granted by Montreuil's manager; a second run adds nothing."""

from __future__ import annotations

import httpx
import pytest

from devstack.running import RunningStack
from devstack.seed import accounts, campaigns, cities, record
from devstack.seed.context import Demo


@pytest.mark.timeout(600)  # the stack starts within it on a loaded machine
async def test_seed_record_step_gives_the_park_counted_planks_and_a_granted_permit(
    gateway_url: str, stack: RunningStack
) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        demo = Demo(client=client, var=stack.stack.var)
        await accounts.run(demo)
        await cities.run(demo)
        await campaigns.run(demo)
        await cities.label_run(demo)
        await record.run(demo)
        cid = demo.ids["campaign.street_workout"]
        first = (await client.get(f"/api/v1/campaigns/campaigns/{cid}/record")).json()
        await record.run(demo)  # idempotent: finds the need, the offer and the permit
        again = (await client.get(f"/api/v1/campaigns/campaigns/{cid}/record")).json()

    assert again == first
    [planks] = [n for n in first["in_kind"]["citizens"] if n["title"] == "Oak planks for the benches"]
    assert planks["delivered"] == 8 and planks["value_delivered"] == 28_000 and planks["counts_toward_goal"]
    assert first["in_kind"]["totals"]["citizens_counted"] >= 28_000
    assert [(p["name"], p["status"]) for p in first["permits"]] == [
        ("Temporary occupation of the square for the build weekend", "granted")
    ]
    assert first["permits_pending"] is False
    assert first["in_kind"]["city"], "the labels step gave the park the city's support"
