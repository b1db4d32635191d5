"""Use cases of the project's record: everything a project receives read together (money, the
cities' match, a call's award and votes, in-kind help from citizens and from the city, permits),
and the owner's confirmation that a city's support item was accepted or delivered."""

from __future__ import annotations

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.mongo import Tx, utcnow

from . import domain, domain_record
from .access import not_found, require_owner, visible
from .domain_funding import empty_totals
from .store import CampaignStore, Doc, insert, save


async def record(store: CampaignStore, principal: Principal | None, campaign_id: str) -> Doc:
    """The record of a campaign the caller may see (public for a published one)."""
    campaign = await visible(store, campaign_id, principal)
    totals = {**empty_totals(), **(campaign.get("totals") or {})}
    confirmations = {s["_id"]: s["status"] for s in await store.support_items(campaign_id)}
    city = domain_record.city_support_items(await store.labels_of(campaign_id), confirmations)
    citizens = [domain_record.need_line(n) for n in await store.needs(campaign_id)]
    permits = await store.permits(campaign_id)
    award = None
    if campaign.get("call_id"):
        commitment = next((c for c in await store.commitments_of(campaign_id) if "award" in c), None)
        if commitment is not None:
            award = {
                "call_id": str(commitment.get("call_id") or campaign["call_id"]),
                "amount": int(commitment["award"]),
                "votes": commitment.get("votes"),
            }
    return {
        "campaign_id": campaign_id,
        "goal": campaign["goal"],
        "progress_bp": domain.progress_bp(totals, campaign["goal"]),
        "money": {
            "raised": totals["raised"],
            "pledged": totals["pledged"],
            "backers": totals["backers_count"],
            "currency": campaign["currency"],
        },
        "match": {
            "promised": totals["match_promised"],
            "given": totals["matched"],
            "counted": totals["matched_counted"],
        },
        "award": award,
        "in_kind": {
            "citizens": citizens,
            "city": city,
            "totals": {
                "citizens_delivered": totals["in_kind_delivered"],
                "citizens_counted": totals["in_kind_counted"],
                "city_offered": sum(i["value"] for i in city),
                "city_delivered": sum(i["value"] for i in city if i["status"] == "delivered"),
            },
        },
        "permits": permits,
        "permits_pending": domain_record.permits_pending(permits),
    }


async def confirm_support(
    store: CampaignStore, principal: Principal, campaign_id: str, label_id: str, index: int, status: str
) -> Doc:
    """Owner: a city's support item was accepted, then delivered (never back). Returns the item."""
    campaign = await visible(store, campaign_id, principal)
    require_owner(campaign, principal, "confirm the city's support")
    items = domain_record.city_support_items(await store.labels_of(campaign_id), {})
    item_id = domain_record.support_item_id(label_id, index)
    item = next((i for i in items if i["id"] == item_id), None)
    if item is None:
        raise not_found("support item")

    async def work(tx: Tx) -> Doc:
        existing = await store.by_id("support_items", item_id, tx)
        current = existing["status"] if existing else "offered"
        try:
            to = domain_record.support_move(current, status)
        except ValueError as exc:
            raise DomainError("support_not_movable", 409, str(exc)) from exc
        if to is None:
            return {**item, "status": current}
        fields = {"status": to, f"{to}_at": utcnow(), "confirmed_by": principal.sub}
        if existing is None:
            await insert(tx, "support_items", {"_id": item_id, "campaign_id": campaign_id, **fields})
        else:
            await save(tx, "support_items", {**existing, **fields})
        return {**item, "status": to}

    return await store.run(work)
