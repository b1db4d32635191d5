"""Citizen projects in Montreuil, through the public API: each owner creates a draft with its
in-kind needs and submits it, the platform admin approves it (which publishes it), and Amina
schedules a meetup. Re-running finds each project by owner and title and only does what is
missing (a draft left half-way is submitted / approved, a missing meetup is scheduled)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from civicfund_client import CampaignsCampaignOut

from .context import Demo, Person

PROJECTS: list[dict[str, Any]] = [
    {
        "key": "street_workout",
        "owner": "amina",
        "campaign": {
            "title": "Street workout park in Bel-Air",
            "summary": "Free outdoor fitness bars and benches on the public square, for every age.",
            "description": (
                "Bel-Air has no free place to train outdoors. We want to turn the unused corner of "
                "the square into a **street workout park**: pull-up bars, parallel bars, benches "
                "and a soft floor.\n\n"
                "- open to everyone, all day\n- free Saturday sessions with volunteer coaches\n"
                "- designed with the neighbours at our meetups"
            ),
            "category": "sport",
            "municipality": "montreuil",
            "neighbourhood": "Bel-Air",
            "address": "Square du Bel-Air, 93100 Montreuil",
            "postcode": "93100",
            "lat": 48.8655,
            "lon": 2.4556,
            "cover_image_url": "https://images.civicfund.localhost/street-workout.jpg",
            "goal": 1_200_000,
            "currency": "EUR",
            "funding_model": "keep_it_all",
            "duration_days": 45,
        },
        "needs": [
            {
                "title": "Volunteers for the build weekend",
                "kind": "volunteers",
                "quantity": 12,
                "unit": "people",
            },
            {"title": "Loan of a mini excavator for a day", "kind": "goods", "quantity": 1},
            {
                "title": "Coaches for free Saturday sessions",
                "kind": "skills",
                "quantity": 3,
                "unit": "people",
            },
        ],
        "meetup": {
            "title": "Site visit and design workshop",
            "description": "Come and draw the park with us. Coffee and croissants offered.",
            "place": "Square du Bel-Air, by the fountain",
            "days_from_now": 10,
            "capacity": 30,
        },
    },
    {
        "key": "repair_cafe",
        "owner": "lucas",
        "campaign": {
            "title": "Repair café at La Boissière",
            "summary": "A monthly repair café: bring your broken bike, toaster or jeans, leave with it fixed.",
            "description": (
                "Every first Saturday of the month, volunteer repairers help neighbours fix their "
                "things instead of throwing them away. The money buys **tools, spare parts and "
                "insurance** for a year; if we do not reach the goal, nobody is charged."
            ),
            "category": "solidarity",
            "municipality": "montreuil",
            "neighbourhood": "La Boissière",
            "postcode": "93100",
            "lat": 48.8705,
            "lon": 2.4650,
            "goal": 450_000,
            "currency": "EUR",
            "funding_model": "all_or_nothing",
            "duration_days": 30,
        },
        "needs": [
            {"title": "A room for one Saturday a month", "kind": "space", "quantity": 1},
            {"title": "Volunteer repairers", "kind": "skills", "quantity": 6, "unit": "people"},
        ],
    },
    {
        "key": "murs_a_peches",
        "owner": "sofia",
        "campaign": {
            "title": "Shared garden in the Murs à pêches",
            "summary": "Bring a plot of the historic peach walls back to life as a garden open to schools.",
            "description": (
                "The *Murs à pêches* are part of Montreuil's history. We will clear one plot, "
                "rebuild its wall and plant it with the pupils of the nearby schools."
            ),
            "category": "environment",
            "municipality": "montreuil",
            "neighbourhood": "Murs à pêches",
            "postcode": "93100",
            "lat": 48.8632,
            "lon": 2.4655,
            "goal": 800_000,
            "currency": "EUR",
            "funding_model": "keep_it_all",
            "duration_days": 60,
        },
        "needs": [
            {"title": "Garden tools (spades, rakes, wheelbarrows)", "kind": "goods", "quantity": 20},
            {"title": "Families to water in August", "kind": "volunteers", "quantity": 8, "unit": "families"},
        ],
    },
]


async def _find(demo: Demo, owner: Person, title: str) -> CampaignsCampaignOut | None:
    cursor = None
    while True:
        page = await demo.api(owner).campaigns_list_campaigns(mine=True, limit=50, cursor=cursor)
        for campaign in page["items"]:
            if campaign["title"] == title:
                return campaign
        cursor = page.get("next_cursor")
        if not cursor:
            return None


async def _ensure_live(demo: Demo, project: dict[str, Any]) -> CampaignsCampaignOut:
    owner = demo.people[project["owner"]]
    as_owner, as_admin = demo.api(owner), demo.api(demo.people["admin"])
    campaign = await _find(demo, owner, project["campaign"]["title"])
    if campaign is None:
        campaign = await as_owner.campaigns_create_campaign(
            body=project["campaign"], idempotency_key=f"seed-campaign-{project['key']}-{owner.user_id}"
        )
    cid = campaign["id"]
    if campaign["status"] == "draft":
        have = {n["title"] for n in (await as_owner.campaigns_list_needs(cid))["items"]}
        for need in project["needs"]:
            if need["title"] not in have:
                await as_owner.campaigns_add_need(cid, body=need)
        campaign = await as_owner.campaigns_submit_campaign(cid)
    if campaign["status"] == "submitted":
        campaign = await as_admin.campaigns_moderate_campaign(cid, body={"decision": "approve"})
    return campaign


async def _ensure_meetup(
    demo: Demo, owner: Person, campaign: CampaignsCampaignOut, meetup: dict[str, Any]
) -> None:
    cid = campaign["id"]
    upcoming = await demo.api(owner).campaigns_list_meetups(cid)
    if any(m["title"] == meetup["title"] for m in upcoming["items"]):
        return
    day = datetime.now(UTC) + timedelta(days=meetup["days_from_now"])
    starts = day.replace(hour=16, minute=0, second=0, microsecond=0)  # 18:00 in Paris, summer time
    await demo.api(owner).campaigns_schedule_meetup(
        cid,
        body={
            "title": meetup["title"],
            "description": meetup["description"],
            "place": meetup["place"],
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "capacity": meetup["capacity"],
        },
    )


async def run(demo: Demo) -> None:
    for project in PROJECTS:
        campaign = await _ensure_live(demo, project)
        demo.ids[f"campaign.{project['key']}"] = campaign["id"]
        if campaign["status"] == "live" and "meetup" in project:
            await _ensure_meetup(demo, demo.people[project["owner"]], campaign, project["meetup"])
