"""Use case of a city's call for projects selecting a proposal: launch it live, labelled by the
city, with the award as match funding counted toward the goal. Running it twice changes nothing.
It runs in the event handler's transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from servicekit.bus import PermanentError
from servicekit.mongo import Tx, utcnow

from . import domain
from .funding import apply_change, match_base, merge
from .labels import refresh_labelled_by
from .lifecycle import emit_snapshot, transition
from .store import CampaignStore, Doc, insert


def _instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise PermanentError(f"deadline {value!r} is not an ISO date-time") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _campaign_fields(data: dict[str, Any], goal: int, now: datetime) -> Doc:
    deadline = data.get("deadline")
    return {
        "title": data["title"][:140],
        "summary": (data.get("summary") or "")[:500],
        "description": data.get("note") or "",
        "category": data.get("category") or "other",
        "municipality": data["municipality"],
        "goal": goal,
        "currency": data["currency"],
        "funding_model": data.get("funding_model") or "keep_it_all",
        "fixed_deadline": domain.clamp_deadline(_instant(deadline) if deadline else None, now),
        "call_id": data["call_id"],
        "proposal_id": data["proposal_id"],
    }


async def proposal_selected(tx: Tx, data: dict[str, Any]) -> None:
    store = CampaignStore.of(tx)
    now = utcnow()
    campaign_id = data.get("campaign_id") or f"cmp_{uuid.uuid5(uuid.NAMESPACE_URL, data['proposal_id']).hex}"
    campaign = await store.campaign(campaign_id, tx)
    if campaign is None:
        goal = int(data.get("goal") or 0) or int(data["award"])
        if goal <= 0 or goal > domain.MAX_GOAL:
            raise PermanentError(f"selected proposal has no usable goal ({goal})")
        fields = _campaign_fields(data, goal, now)
        campaign = await insert(
            tx, "campaigns", domain.new_campaign(campaign_id, data["proposer_id"], now, fields)
        )
        emit_snapshot(tx, "campaign.created", campaign)
    elif campaign["currency"] != data["currency"]:
        raise PermanentError(f"award currency {data['currency']} differs from the campaign's")
    if campaign["status"] in ("draft", "submitted"):
        if data.get("deadline"):
            campaign = {**campaign, "fixed_deadline": domain.clamp_deadline(_instant(data["deadline"]), now)}
        campaign = await transition(
            tx, campaign, "launch_selected", {"system"}, extra={"call_id": data["call_id"]}
        )
    # The call's own label: the city labels what it selected, with the award as its support.
    label_id = (
        data.get("label_id") or data.get("endorsement_id") or f"call:{data['call_id']}:{data['proposal_id']}"
    )
    if await store.by_id("labels", label_id, tx) is None:
        await insert(
            tx,
            "labels",
            {
                "_id": label_id,
                "campaign_id": campaign_id,
                "municipality": data["municipality"],
                "status": "granted",
                "support": [
                    {"kind": "match_funding", "value": int(data["award"]), "currency": data["currency"]}
                ],
                "call_id": data["call_id"],
            },
        )
    await refresh_labelled_by(store, tx, campaign_id)
    commitment_id = data.get("commitment_id") or f"award:{data['proposal_id']}"
    award = {"award": int(data["award"]), "municipality": data["municipality"], "call_id": data["call_id"]}
    if isinstance(data.get("votes"), int):
        award["votes"] = int(data["votes"])  # the project's record shows the votes it won
    base = {**match_base(campaign_id), "counts_toward_goal": True, "max_amount": int(data["award"])}
    await apply_change(
        store, tx, "commitment", *await merge(store, tx, "commitments", commitment_id, base, award)
    )
