"""The moderation seed step on the running platform: a campaign returned with its reason, a
dismissed and an open abuse report, all through the public API; a second run adds nothing."""

from __future__ import annotations

from pathlib import Path

import httpx


async def test_seed_moderation_step_returns_a_campaign_and_files_reports_once(
    gateway_url: str, tmp_path: Path
) -> None:
    from devstack.seed import accounts, campaigns, moderation
    from devstack.seed.context import Demo

    api = "/api/v1/campaigns"
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        demo = Demo(client=client, var=tmp_path)
        await accounts.run(demo)
        await campaigns.run(demo)
        await moderation.run(demo)
        first = dict(demo.ids)
        await moderation.run(demo)  # idempotent: finds the campaign, the update and both reports
        assert demo.ids == first

        sofia, admin = demo.people["sofia"], demo.people["admin"]
        fridge = (
            await client.get(f"{api}/campaigns/{first['campaign.returned_fridge']}", headers=sofia.auth)
        ).json()
        assert fridge["status"] == "draft" and fridge["reason"] == moderation.RETURN_REASON
        # Returned, so not public.
        assert (await client.get(f"{api}/campaigns/{fridge['id']}")).status_code == 404

        dismissed = (
            await client.get(f"{api}/reports/{first['report.dismissed']}", headers=admin.auth)
        ).json()
        assert dismissed["state"] == "dismissed" and dismissed["note"] == moderation.DISMISS_NOTE
        assert dismissed["decided_by"] == admin.user_id and dismissed["target"] == "update"
        opened = (
            await client.get(f"{api}/reports", params={"state": "open", "limit": 100}, headers=admin.auth)
        ).json()
        assert [r["id"] for r in opened["items"]].count(first["report.open"]) == 1
        decided = (
            await client.get(f"{api}/reports", params={"state": "decided", "limit": 100}, headers=admin.auth)
        ).json()
        ours = [r for r in decided["items"] if r["reporter_id"] == demo.people["lucas"].user_id]
        assert len(ours) == 1
        # The dismissed update stays on the park's page.
        updates = (await client.get(f"{api}/campaigns/{first['campaign.street_workout']}/updates")).json()
        assert dismissed["target_id"] in {u["id"] for u in updates["items"]}
