"""A campaign draft created for a call (`call_id` in campaign events) becomes that call's
proposal, so citizens apply by writing their campaign once."""

from __future__ import annotations

import uuid
from typing import Any

from servicekit.logging import get_logger
from servicekit.mongo import Tx, utcnow

from . import store
from .domain_calls import eligibility_refusal, submission_refusal
from .events_out import emit_with_public, proposal_data

log = get_logger(__name__)


async def proposal_from_campaign(tx: Tx, campaign: dict[str, Any]) -> None:
    call_id = campaign.get("call_id")
    if not call_id:
        return
    if (
        await tx.db.proposals.find_one({"campaign_id": campaign["campaign_id"]}, session=tx.session)
        is not None
    ):
        return
    call = await tx.db.calls.find_one({"_id": call_id}, session=tx.session)
    if call is None:
        # Not parked: the same event also feeds the campaign projection, which must not be lost.
        log.warning("campaign_names_unknown_call", call_id=call_id, campaign_id=campaign["campaign_id"])
        return
    muni = await tx.db.municipalities.find_one({"slug": call["municipality"]}, session=tx.session)
    in_territory = muni is not None and store.territory_of(muni).contains(
        campaign.get("postcode"), campaign.get("lat"), campaign.get("lon")
    )
    refusal = submission_refusal(call, utcnow()) or eligibility_refusal(
        call, campaign.get("category"), in_territory or campaign.get("municipality") == call["municipality"]
    )
    if refusal:
        log.info(
            "campaign_not_a_proposal", call_id=call_id, campaign_id=campaign["campaign_id"], reason=refusal
        )
        return
    doc = {
        "_id": f"prp_{uuid.uuid4().hex}",
        "call_id": call_id,
        "municipality": call["municipality"],
        "proposer_id": campaign["owner_id"],
        "title": campaign["title"],
        "summary": campaign["title"],
        "category": campaign.get("category"),
        "requested_amount": min(int(campaign["goal"]), int(call["max_award"])),
        "goal": int(campaign["goal"]),
        "postcode": (campaign.get("postcode") or "").strip().upper(),
        "campaign_id": campaign["campaign_id"],
        "status": "submitted",
        "note": "",
        "submitted_at": utcnow(),
    }
    await tx.db.proposals.insert_one(doc, session=tx.session)
    emit_with_public(tx, call["municipality"], "call.proposal_submitted", doc["_id"], proposal_data(doc))
