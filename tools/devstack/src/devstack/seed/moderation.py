"""Moderation in the demo, through the public API: Sofia's first proposal was returned by the
platform admin with a reason (she reads it on her dashboard and in her inbox); Lucas reported an
update of Amina's park as spam and the admin dismissed the report; Sofia's question about the
park is an open report in the admin's queue. Re-running finds each of them and adds nothing."""

from __future__ import annotations

from civicfund_client import CampaignsCampaignIn, CampaignsCampaignOut, CampaignsReportOut, CampaignsUpdateIn

from .context import Demo, Person

RETURNED: CampaignsCampaignIn = {
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
UPDATE: CampaignsUpdateIn = {
    "title": "The city gave us the square",
    "body": "Montreuil agreed to lend us the corner of the square for the park. Thank you all!",
}
DISMISS_NOTE = "This is news of the project, not an advert: nothing to hide."
OPEN_DETAILS = "The market uses the square on Sundays: is the park compatible with it?"


async def _mine(demo: Demo, owner: Person, title: str) -> CampaignsCampaignOut | None:
    cursor: str | None = None
    while True:
        page = await demo.api(owner).campaigns_list_campaigns(mine=True, limit=50, cursor=cursor)
        for campaign in page["items"]:
            if campaign["title"] == title:
                return campaign
        cursor = page["next_cursor"]
        if not cursor:
            return None


async def _returned_campaign(demo: Demo) -> None:
    sofia, admin = demo.people["sofia"], demo.people["admin"]
    campaign = await _mine(demo, sofia, RETURNED["title"])
    if campaign is None:
        campaign = await demo.api(sofia).campaigns_create_campaign(body=RETURNED)
    cid = campaign["id"]
    if campaign["status"] == "draft" and not campaign.get("reason"):
        campaign = await demo.api(sofia).campaigns_submit_campaign(cid)
    if campaign["status"] == "submitted":
        await demo.api(admin).campaigns_moderate_campaign(
            cid, body={"decision": "return", "reason": RETURN_REASON}
        )
    demo.ids["campaign.returned_fridge"] = cid


async def _park_update(demo: Demo, park_id: str) -> str:
    amina = demo.people["amina"]
    cursor: str | None = None
    while True:
        page = await demo.api().campaigns_list_updates(park_id, limit=50, cursor=cursor)
        for update in page["items"]:
            if update["title"] == UPDATE["title"]:
                return str(update["id"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    posted = await demo.api(amina).campaigns_post_update(park_id, body=UPDATE)
    return str(posted["id"])


async def _decided(demo: Demo, reporter: Person, target_id: str) -> CampaignsReportOut | None:
    """The admin's decided report by `reporter` on `target_id`, if there is one."""
    cursor: str | None = None
    while True:
        page = await demo.api(demo.people["admin"]).campaigns_list_reports(
            state="decided", limit=100, cursor=cursor
        )
        for report in page["items"]:
            if report["reporter_id"] == reporter.user_id and report["target_id"] == target_id:
                return report
        cursor = page["next_cursor"]
        if not cursor:
            return None


async def _reports(demo: Demo) -> None:
    park_id = demo.ids["campaign.street_workout"]
    lucas, sofia, admin = demo.people["lucas"], demo.people["sofia"], demo.people["admin"]
    update_id = await _park_update(demo, park_id)
    dismissed = await _decided(demo, lucas, update_id)
    if dismissed is None:
        report = await demo.api(lucas).campaigns_report_content(
            park_id,
            body={
                "target": "update",
                "target_id": update_id,
                "reason": "spam",
                "details": "Looks like an ad",
            },
        )
        dismissed = await demo.api(admin).campaigns_decide_report(
            report["id"], body={"decision": "dismiss", "note": DISMISS_NOTE}
        )
    demo.ids["report.dismissed"] = dismissed["id"]
    # Open: reporting again while it is open answers the same report.
    open_report = await demo.api(sofia).campaigns_report_content(
        park_id, body={"target": "campaign", "reason": "other", "details": OPEN_DETAILS}
    )
    demo.ids["report.open"] = open_report["id"]


async def run(demo: Demo) -> None:
    await _returned_campaign(demo)
    await _reports(demo)
    demo.notes.append(
        "Moderation: Sofia's free fridge was returned with a reason; /admin lists a dismissed "
        "and an open abuse report."
    )
