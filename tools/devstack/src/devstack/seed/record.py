"""What the street workout park receives besides money (its record, issue 14), after the city
step appointed Montreuil's officials and the labels step labelled the projects: planks that count
toward the goal at their declared value, Lucas's share delivered, and the permit to occupy the
square, which Claire (Montreuil's manager) granted: a permit not granted would hold the payout.
Re-running finds the need, the offer and the permit and only does what is missing."""

from __future__ import annotations

from civicfund_client import CampaignsCampaignOut, CampaignsNeedIn, CampaignsPermitIn

from .context import Demo, Person

PLANKS: CampaignsNeedIn = {"title": "Oak planks for the benches", "kind": "goods", "quantity": 20, "unit": "planks",
          "unit_value": 3_500, "counts_toward_goal": True}  # fmt: skip
PERMIT: CampaignsPermitIn = {
    "name": "Temporary occupation of the square for the build weekend",
    "authority": "Montreuil roads office",
}


async def _ensure_record(demo: Demo, owner: Person, campaign: CampaignsCampaignOut) -> None:
    cid = campaign["id"]
    as_owner, helper = demo.api(owner), demo.people["lucas"]
    needs = (await as_owner.campaigns_list_needs(cid))["items"]
    need = next((n for n in needs if n["title"] == PLANKS["title"]), None)
    if need is None:
        need = await as_owner.campaigns_add_need(cid, body=PLANKS)
    offers = (await demo.api(helper).campaigns_list_offers(cid, need["id"]))["items"]
    offer = offers[0] if offers else await demo.api(helper).campaigns_offer_help(
        cid, need["id"], body={"quantity": 8, "message": "From my late grandfather's workshop."}
    )  # fmt: skip
    if offer["state"] == "pending":
        offer = await as_owner.campaigns_decide_offer(
            cid, need["id"], offer["id"], body={"decision": "accept"}
        )
    if offer["state"] == "accepted":
        await as_owner.campaigns_confirm_delivered(cid, need["id"], offer["id"])
    permits = (await as_owner.campaigns_get_record(cid))["permits"]
    permit = next((p for p in permits if p["name"] == PERMIT["name"]), None)
    if permit is None:
        permit = await as_owner.campaigns_declare_permit(cid, body=PERMIT)
    if permit["status"] != "granted":
        await demo.api(demo.people["montreuil_manager"]).campaigns_decide_permit(
            cid, permit["id"], body={"decision": "granted"}
        )


async def run(demo: Demo) -> None:
    cid = demo.ids["campaign.street_workout"]
    owner = demo.people["amina"]
    campaign = await demo.api(owner).campaigns_get_campaign(cid)
    if campaign["status"] == "live":
        await _ensure_record(demo, owner, campaign)
