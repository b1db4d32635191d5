"""A campaign waiting for the admin's decision, through the public API: Marc launched a shared
garden in Montreuil (approved by the admin, so live), then deleted his account; campaigns puts
the campaign in the admin's "Campaigns without an owner" (/admin/owner-decisions). Re-running
finds the campaign (by its title, in any status, as the admin lists them) and adds nothing, even
after the admin decided."""

from __future__ import annotations

from typing import Any

from civicfund_client import GatewayRegisterIn

from .context import Demo, Person, refusal_ok

MARC = Person("marc", "marc@example.localhost", "Marc Lefèvre", "demo-password-6")
ORPHAN: dict[str, Any] = {
    "title": "Shared garden behind the Paul-Langevin school",
    "summary": "Vegetable beds the school's families and the neighbours tend together.",
    "description": "Six raised beds, a water butt and a tool shed behind the school, open on weekends.",
    "category": "environment",
    "municipality": "montreuil",
    "neighbourhood": "Villiers-Barbusse",
    "postcode": "93100",
    "goal": 240_000,
    "currency": "EUR",
    "funding_model": "keep_it_all",
    "duration_days": 45,
}
# Every status a campaign can reach from live once its owner is gone.
STATUSES = ["live", "succeeded", "failed", "canceled", "completed"]


async def _existing(demo: Demo) -> dict[str, Any] | None:
    cursor: str | None = None
    admin = demo.api(demo.people["admin"])
    while True:
        page = await admin.campaigns_list_campaigns(
            status=STATUSES, municipality="montreuil", q="Paul-Langevin", limit=50, cursor=cursor
        )
        for campaign in page["items"]:
            if campaign["title"] == ORPHAN["title"]:
                return dict(campaign)
        cursor = page["next_cursor"]
        if not cursor:
            return None


async def run(demo: Demo) -> None:
    found = await _existing(demo)
    if found is None:
        # 409: registered by a run that stopped before the campaign went live.
        body: GatewayRegisterIn = {"email": MARC.email, "password": MARC.password, "display_name": MARC.display_name,
                "locale": MARC.locale}  # fmt: skip
        await refusal_ok(demo.api().gateway_register(body=body), 409)
        await demo.login(MARC)
        marc = demo.api(MARC)
        campaign = await marc.campaigns_create_campaign(
            body=ORPHAN, idempotency_key=f"seed-orphan-{MARC.user_id}"
        )
        await marc.campaigns_submit_campaign(campaign["id"])
        found = dict(
            await demo.api(demo.people["admin"]).campaigns_moderate_campaign(
                campaign["id"], body={"decision": "approve"}
            )
        )
        # campaigns hears of it from user.deleted and puts the campaign in the admin's queue.
        await marc.gateway_delete_me(body={"password": MARC.password})
    assert found is not None
    demo.ids["campaign.owner_deleted"] = found["id"]
    demo.notes.append(
        "Account deletion: Marc deleted his account; his live shared garden waits for the admin in "
        "/admin/owner-decisions (keep it running or stop it)."
    )
