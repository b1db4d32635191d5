"""The campaigns seed step on the running platform: Montreuil's demo projects go live through
the public API (create, needs, submit, admin approval, meetup) and a second run adds nothing."""

from __future__ import annotations

from pathlib import Path

import httpx


async def test_seed_campaigns_step_publishes_montreuil_projects_once(
    gateway_url: str, tmp_path: Path
) -> None:
    from devstack.seed import accounts, campaigns
    from devstack.seed.context import Demo

    api = "/api/v1/campaigns/campaigns"
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        demo = Demo(client=client, var=tmp_path)
        await accounts.run(demo)
        await campaigns.run(demo)
        first = dict(demo.ids)
        await campaigns.run(demo)  # idempotent: finds every project and its meetup
        assert demo.ids == first

        listed = (await client.get(api, params={"municipality": "montreuil", "limit": 50})).json()["items"]
        ours = {c["id"]: c for c in listed if c["id"] in first.values()}
        assert len(ours) == 3 and {c["status"] for c in ours.values()} == {"live"}
        park = ours[first["campaign.street_workout"]]
        assert park["owner_id"] == demo.people["amina"].user_id
        assert park["funding_model"] == "keep_it_all" and park["category"] == "sport"
        assert ours[first["campaign.repair_cafe"]]["funding_model"] == "all_or_nothing"
        assert ours[first["campaign.repair_cafe"]]["owner_id"] == demo.people["lucas"].user_id

        detail = (await client.get(f"{api}/{park['id']}")).json()
        assert len(detail["needs"]) == 3
        assert [m["title"] for m in detail["next_meetups"]] == ["Site visit and design workshop"]
        assert "<strong>street workout park</strong>" in detail["description_html"]
        near = (await client.get(api, params={"lat": 48.8616, "lon": 2.4430, "within_km": 2})).json()["items"]
        assert park["id"] in [c["id"] for c in near]
