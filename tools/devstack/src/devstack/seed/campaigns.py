"""Citizen projects in Montreuil."""

from __future__ import annotations

from .context import Demo


async def run(demo: Demo) -> None:
    amina = demo.people["amina"]
    mine = await demo.call("GET", "/api/v1/notifications/me", amina)
    if any(item["kind"] == "campaign.published" for item in mine["items"]):
        return  # already seeded
    created = await demo.call(
        "POST",
        "/api/v1/campaigns/campaigns",
        amina,
        json={
            "title": "Street workout park in Bel-Air",
            "municipality": "montreuil",
            "goal": 1_200_000,
            "currency": "EUR",
        },
    )
    demo.ids["campaign.street_workout"] = created["id"]
