"""The pledges seed step on the running platform: backers pledge to Montreuil's live campaigns
through the public API, saving their card as Stripe.js does; keep-it-all pledges end paid,
all-or-nothing ones authorised; a second run adds nothing."""

from __future__ import annotations

import asyncio

import httpx

from devstack.running import RunningStack
from devstack.seed import accounts, campaigns, cities, pledges
from devstack.seed.context import Demo


async def test_seed_pledges_step_pays_and_authorises_through_the_checkout(
    gateway_url: str, stack: RunningStack
) -> None:
    pledges.STRIPE = f"http://127.0.0.1:{stack.stack.ports.localstripe}"
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        # The stack's own var: the accounts step opens the verification links in its mail sink.
        demo = Demo(client=client, var=stack.stack.var)
        await accounts.run(demo)
        await cities.run(demo)
        await campaigns.run(demo)
        await asyncio.sleep(3)  # payments projects the campaigns from their events
        await pledges.run(demo)
        first = {k: v for k, v in demo.ids.items() if k.startswith("pledge.")}
        assert first, demo.notes
        await pledges.run(demo)
        again = {k: v for k, v in demo.ids.items() if k.startswith("pledge.")}
        assert again == first
        sofia = demo.people["sofia"]
        mine = (await client.get("/api/v1/payments/me/pledges", headers=sofia.auth)).json()["items"]
        by_model = {(p["funding_model"], p["status"]) for p in mine}
        print(sorted(by_model), first)
        assert {s for m, s in by_model if m == "keep_it_all"} <= {"succeeded"}
        assert {s for m, s in by_model if m == "all_or_nothing"} <= {"authorized"}
        assert len(mine) == len({k for k in first if k.startswith("pledge.sofia.")})
        assert demo.ids.get("subscription.montreuil", "").startswith("sub_"), demo.notes
