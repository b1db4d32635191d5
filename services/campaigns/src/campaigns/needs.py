"""Use cases of in-kind needs and the help neighbours offer against them.

Counts are public; who offered and how to reach them is for the campaign's owner (and the
person who offered, for their own offer)."""

from __future__ import annotations

import uuid
from typing import Any

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.mongo import Tx, utcnow

from . import domain_community
from .access import not_found, require_owner, visible
from .funding import apply_change
from .models import NeedEdit, NeedIn, OfferIn
from .store import CampaignStore, Doc, insert, ms, save


async def _need(store: CampaignStore, tx: Tx, campaign_id: str, need_id: str) -> Doc:
    need = await store.need(campaign_id, need_id, tx)
    if need is None:
        raise not_found("need")
    return need


async def _recount(store: CampaignStore, tx: Tx, need: Doc) -> Doc:
    offers = await store.offers_of_need(tx, need["_id"])
    return await save(tx, "needs", {**need, "counts": domain_community.need_counts(need, offers)})


def _offer_data(campaign: Doc, need: Doc, offer: Doc) -> dict[str, Any]:
    """The campaign.offer_* events' shared part (contracts/defs/campaign.json#/$defs/offer)."""
    return {
        "campaign_id": campaign["_id"],
        "need_id": need["_id"],
        "offer_id": offer["_id"],
        "owner_id": campaign["owner_id"],
        "from_user_id": offer["from_user_id"],
        "quantity": int(offer["quantity"]),
        "need_title": need["title"],
        "campaign_title": campaign["title"],
    }


async def add(store: CampaignStore, principal: Principal, campaign_id: str, body: NeedIn) -> Doc:
    """Owner: list something besides money the project needs (volunteers, a room, tools...)."""
    campaign = await visible(store, campaign_id, principal)
    require_owner(campaign, principal, "add needs")
    if campaign["status"] not in domain_community.COMMUNITY_OPEN_STATUSES:
        raise DomainError("campaign_closed", 409, f"a {campaign['status']} campaign takes no new needs")
    need = {
        "_id": f"need_{uuid.uuid4().hex}",
        "campaign_id": campaign_id,
        **body.model_dump(),
        "open": True,
        "created_at": utcnow(),
        "created_ms": ms(utcnow()),
    }
    need["counts"] = domain_community.need_counts(need, [])

    async def work(tx: Tx) -> Doc:
        return await insert(tx, "needs", need)

    return await store.run(work)


async def list_of(store: CampaignStore, principal: Principal | None, campaign_id: str) -> list[Doc]:
    await visible(store, campaign_id, principal)
    return await store.needs(campaign_id)


async def edit(
    store: CampaignStore, principal: Principal, campaign_id: str, need_id: str, body: NeedEdit
) -> Doc:
    """Owner: change a need, or close it (`open: false`) once it is covered."""
    campaign = await visible(store, campaign_id, principal)
    require_owner(campaign, principal, "edit needs")
    changes: dict[str, Any] = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    if not changes:
        raise DomainError("validation_error", 422, "nothing to change")

    async def work(tx: Tx) -> Doc:
        need = await _need(store, tx, campaign_id, need_id)
        accepted = int((need.get("counts") or {}).get("accepted", 0))
        if changes.get("quantity", need["quantity"]) < accepted:
            raise DomainError(
                "below_accepted", 409, f"{accepted} were already accepted; quantity cannot go lower"
            )
        return await _recount(store, tx, await save(tx, "needs", {**need, **changes}))

    return await store.run(work)


async def offer(
    store: CampaignStore, principal: Principal, campaign_id: str, need_id: str, body: OfferIn
) -> Doc:
    """Offer help against a need of a live campaign; the owner is told (campaign.offer_received)."""
    campaign = await visible(store, campaign_id, principal)
    if campaign["status"] != "live":
        raise DomainError("campaign_not_live", 409, "offers are taken while the campaign is live")
    if campaign["owner_id"] == principal.sub:
        raise DomainError("own_campaign", 409, "the owner cannot offer help to their own campaign")

    async def work(tx: Tx) -> Doc:
        need = await _need(store, tx, campaign_id, need_id)
        if not bool(need.get("open", True)):
            raise DomainError("need_closed", 409, "this need is closed")
        offer = await insert(
            tx,
            "offers",
            {
                "_id": f"off_{uuid.uuid4().hex}",
                "need_id": need_id,
                "campaign_id": campaign_id,
                "from_user_id": principal.sub,
                "quantity": body.quantity,
                "message": body.message,
                "contact": body.contact.model_dump(),
                "state": "pending",
                "created_at": utcnow(),
                "created_ms": ms(utcnow()),
            },
        )
        await _recount(store, tx, need)
        tx.emit("campaign.offer_received", campaign_id, _offer_data(campaign, need, offer))
        return offer

    return await store.run(work)


async def offers(store: CampaignStore, principal: Principal, campaign_id: str, need_id: str) -> list[Doc]:
    """The owner sees every offer with its contact; anyone else sees only their own offers."""
    campaign = await visible(store, campaign_id, principal)
    is_owner = campaign["owner_id"] == principal.sub
    return await store.offers(campaign_id, need_id, None if is_owner else principal.sub)


async def decide(
    store: CampaignStore, principal: Principal, campaign_id: str, need_id: str, offer_id: str, decision: str
) -> Doc:
    """Owner: accept or decline an offer (accepting never exceeds the quantity needed); the
    helper is told (campaign.offer_decided)."""
    campaign = await visible(store, campaign_id, principal)
    require_owner(campaign, principal, "decide on offers")

    async def work(tx: Tx) -> Doc:
        need = await _need(store, tx, campaign_id, need_id)
        offer = await store.offer(need_id, offer_id, tx)
        if offer is None:
            raise not_found("offer")
        accepted = int((need.get("counts") or {}).get("accepted", 0))
        try:
            state = domain_community.decide_offer(offer, decision, need, accepted)
        except ValueError as exc:
            raise DomainError("offer_not_decidable", 409, str(exc)) from exc
        saved = await save(tx, "offers", {**offer, "state": state, "decided_at": utcnow()})
        await _recount(store, tx, need)
        # The helper hears the answer (notifications); the same transaction as the decision, so
        # an offer is never decided without telling them, nor told without being decided.
        tx.emit(
            "campaign.offer_decided", campaign_id, {**_offer_data(campaign, need, saved), "decision": state}
        )
        return saved

    return await store.run(work)


async def delivered(
    store: CampaignStore, principal: Principal, campaign_id: str, need_id: str, offer_id: str
) -> Doc:
    """Owner: confirm that accepted help was delivered. Help against a need declared with a value
    is then worth quantity x unit value; against a need declared as counting, that value counts
    toward the goal (campaigns' totals, `in_kind_counted`), never mixed with the money."""
    campaign = await visible(store, campaign_id, principal)
    require_owner(campaign, principal, "confirm deliveries")

    async def work(tx: Tx) -> Doc:
        need = await _need(store, tx, campaign_id, need_id)
        offer = await store.offer(need_id, offer_id, tx)
        if offer is None:
            raise not_found("offer")
        if refusal := domain_community.delivery_refusal(offer):
            raise DomainError("offer_not_accepted", 409, refusal)
        if offer["state"] == "delivered":
            return offer
        saved = await save(tx, "offers", {**offer, "state": "delivered", "delivered_at": utcnow()})
        await _recount(store, tx, need)
        record = {
            "_id": offer_id, "campaign_id": campaign_id, "need_id": need_id,
            "value": int(offer["quantity"]) * int(need.get("unit_value") or 0),
            "counts_toward_goal": bool(need.get("counts_toward_goal")), "delivered": True,
        }  # fmt: skip
        await insert(tx, "in_kind", record)
        await apply_change(store, tx, "in_kind", None, record)
        return saved

    return await store.run(work)
