"""The public city page: labelled campaigns, open calls, money raised in the territory,
support the city gave."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from . import store
from .access import db_of
from .api_calls import call_out
from .api_labels import label_out
from .api_municipalities import municipality_out
from .fields import Slug

router = APIRouter(tags=["city page"])


def _add(totals: dict[str, int], currency: str, amount: int) -> None:
    totals[currency] = totals.get(currency, 0) + amount


@router.get("/municipalities/{slug}/page")
async def city_page(slug: Slug, request: Request) -> dict[str, Any]:
    db = db_of(request)
    muni = await store.municipality(db, slug)
    campaigns = await store.campaigns_in_territory(db, muni)
    by_id = {c["_id"]: c for c in campaigns}
    raised_by_campaign: dict[str, int] = {}
    raised: dict[str, int] = {}
    if by_id:
        async for x in db.contributions.find({"campaign_id": {"$in": sorted(by_id)}, "succeeded": True}):
            if bool(x.get("refunded")):
                continue
            raised_by_campaign[x["campaign_id"]] = raised_by_campaign.get(x["campaign_id"], 0) + int(
                x["amount"]
            )
            _add(raised, x["currency"], int(x["amount"]))
    labelled = []
    in_kind: dict[str, int] = {}
    kinds: dict[str, int] = {}
    async for label in db.endorsements.find({"municipality": slug, "status": "granted"}).sort("_id", 1):
        campaign = (
            by_id.get(label["campaign_id"])
            or await db.campaigns.find_one({"_id": label["campaign_id"]})
            or {}
        )
        labelled.append(
            {
                "label": label_out(label) | {"history": None},
                "campaign": {
                    "id": label["campaign_id"],
                    "title": campaign.get("title"),
                    "status": campaign.get("status"),
                    "goal": campaign.get("goal"),
                    "currency": campaign.get("currency"),
                    "raised": raised_by_campaign.get(label["campaign_id"], int(campaign.get("raised") or 0)),
                },
            }
        )
        for offer in label.get("support", []):
            kinds[offer["kind"]] = kinds.get(offer["kind"], 0) + 1
        if label.get("in_kind_value"):
            _add(in_kind, label["currency"], int(label["in_kind_value"]))
    matched: dict[str, int] = {}
    committed: dict[str, int] = {}
    async for c in db.commitments.find({"municipality": slug}):
        _add(matched, c["currency"], int(c.get("given", 0)))
        if c["status"] == "active":
            _add(committed, c["currency"], int(c["max_amount"]) - int(c.get("given", 0)))
    calls = [
        call_out(c) async for c in db.calls.find({"municipality": slug, "status": "open"}).sort("_id", 1)
    ]
    return {
        "municipality": municipality_out(muni),
        "labelled_campaigns": labelled,
        "open_calls": calls,
        "totals": {
            "campaigns_in_territory": len(campaigns),
            "raised": raised,
            "match_funds_given": matched,
            "match_funds_pending": committed,
            "in_kind_value": in_kind,
            "support_offers_by_kind": kinds,
        },
    }
