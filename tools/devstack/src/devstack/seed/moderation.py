"""Moderation in the demo, through the public API: Sofia's first proposal was returned by the
platform admin with a reason (she reads it on her dashboard and in her inbox); Lucas reported an
update of Amina's park as spam and the admin dismissed the report; Sofia's question about the
park is an open report in the admin's queue. Re-running finds each of them and adds nothing."""

from __future__ import annotations

from typing import Any

from .context import Demo, Person

C = "/api/v1/campaigns/campaigns"
R = "/api/v1/campaigns/reports"

RETURNED = {
    "title": "Free fridge at Croix-de-Chavaux",
    "summary": "A shared fridge where shops and neighbours leave food instead of throwing it away.",
    "description": "A fridge outside the community centre, cleaned every day by volunteers.",
    "category": "solidarity",
    "municipality": "montreuil",
    "neighbourhood": "Croix-de-Chavaux",
    "postcode": "93100",
    "goal": 180_000,
    "currency": "EUR",
    "funding_model": "keep_it_all",
    "duration_days": 30,
}
RETURN_REASON = (
    "Please say who cleans the fridge and checks the dates, and add the community centre's "
    "agreement to host it."
)
UPDATE = {
    "title": "The city gave us the square",
    "body": "Montreuil agreed to lend us the corner of the square for the park. Thank you all!",
}
DISMISS_NOTE = "This is news of the project, not an advert: nothing to hide."
OPEN_DETAILS = "The market uses the square on Sundays: is the park compatible with it?"


async def _mine(demo: Demo, owner: Person, title: str) -> dict[str, Any] | None:
    params: dict[str, Any] = {"mine": "true", "limit": 50}
    while True:
        page = await demo.call("GET", C, owner, params=params)
        for campaign in page["items"]:
            if campaign["title"] == title:
                return campaign
        if not page["next_cursor"]:
            return None
        params["cursor"] = page["next_cursor"]


async def _returned_campaign(demo: Demo) -> None:
    sofia, admin = demo.people["sofia"], demo.people["admin"]
    campaign = await _mine(demo, sofia, RETURNED["title"])
    if campaign is None:
        campaign = await demo.call("POST", C, sofia, json=RETURNED)
    cid = campaign["id"]
    if campaign["status"] == "draft" and not campaign.get("reason"):
        campaign = await demo.call("POST", f"{C}/{cid}/submit", sofia)
    if campaign["status"] == "submitted":
        await demo.call(
            "POST", f"{C}/{cid}/moderation", admin, json={"decision": "return", "reason": RETURN_REASON}
        )
    demo.ids["campaign.returned_fridge"] = cid


async def _park_update(demo: Demo, park_id: str) -> str:
    amina = demo.people["amina"]
    params: dict[str, Any] = {"limit": 50}
    while True:
        page = await demo.call("GET", f"{C}/{park_id}/updates", params=params)
        for update in page["items"]:
            if update["title"] == UPDATE["title"]:
                return str(update["id"])
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    posted = await demo.call("POST", f"{C}/{park_id}/updates", amina, json=UPDATE)
    return str(posted["id"])


async def _decided(demo: Demo, reporter: Person, target_id: str) -> dict[str, Any] | None:
    """The admin's decided report by `reporter` on `target_id`, if there is one."""
    params: dict[str, Any] = {"state": "decided", "limit": 100}
    while True:
        page = await demo.call("GET", R, demo.people["admin"], params=params)
        for report in page["items"]:
            if report["reporter_id"] == reporter.user_id and report["target_id"] == target_id:
                return report
        if not page["next_cursor"]:
            return None
        params["cursor"] = page["next_cursor"]


async def _reports(demo: Demo) -> None:
    park_id = demo.ids["campaign.street_workout"]
    lucas, sofia, admin = demo.people["lucas"], demo.people["sofia"], demo.people["admin"]
    update_id = await _park_update(demo, park_id)
    dismissed = await _decided(demo, lucas, update_id)
    if dismissed is None:
        report = await demo.call(
            "POST",
            f"{C}/{park_id}/reports",
            lucas,
            json={
                "target": "update",
                "target_id": update_id,
                "reason": "spam",
                "details": "Looks like an ad",
            },
        )
        dismissed = await demo.call(
            "POST", f"{R}/{report['id']}/decision", admin, json={"decision": "dismiss", "note": DISMISS_NOTE}
        )
    demo.ids["report.dismissed"] = dismissed["id"]
    # Open: reporting again while it is open answers the same report.
    open_report = await demo.call(
        "POST",
        f"{C}/{park_id}/reports",
        sofia,
        json={"target": "campaign", "reason": "other", "details": OPEN_DETAILS},
    )
    demo.ids["report.open"] = open_report["id"]


async def run(demo: Demo) -> None:
    await _returned_campaign(demo)
    await _reports(demo)
    demo.notes.append(
        "Moderation: Sofia's free fridge was returned with a reason; /admin lists a dismissed "
        "and an open abuse report."
    )
