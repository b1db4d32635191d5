"""In-kind needs of a campaign and the help neighbours offer against them.

Counts are public; who offered and how to reach them is for the campaign's owner (and the
person who offered, for their own offer)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request

from servicekit.auth import Principal, current_principal, optional_principal
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import community
from .models import NeedEdit, NeedIn, OfferDecision, OfferIn
from .store import insert, ms, save
from .views import need_out, require_owner, store_of, visible_campaign

router = APIRouter(tags=["needs and offers"])


def _offer_out(offer: dict[str, Any], with_contact: bool) -> dict[str, Any]:
    out = {
        "id": offer["_id"],
        "need_id": offer["need_id"],
        "campaign_id": offer["campaign_id"],
        "from_user_id": offer["from_user_id"],
        "quantity": offer["quantity"],
        "message": offer.get("message", ""),
        "state": offer["state"],
        "created_at": offer["created_at"],
    }
    if with_contact:
        out["contact"] = offer["contact"]
    return out


async def _need(tx: Tx, campaign_id: str, need_id: str) -> dict[str, Any]:
    need = await tx.db.needs.find_one({"_id": need_id, "campaign_id": campaign_id}, session=tx.session)
    if need is None:
        raise ApiError(404, "not_found", "need not found")
    return need


async def _recount(tx: Tx, need: dict[str, Any]) -> dict[str, Any]:
    offers = await tx.db.offers.find({"need_id": need["_id"]}, session=tx.session).to_list()
    return await save(tx, "needs", {**need, "counts": community.need_counts(need, offers)})


@router.post("/campaigns/{campaign_id}/needs", status_code=201)
async def add_need(
    campaign_id: str, body: NeedIn, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    """Owner: list something besides money the project needs (volunteers, a room, tools...)."""
    campaign = await visible_campaign(request, campaign_id, principal)
    require_owner(campaign, principal, "add needs")
    if campaign["status"] not in community.COMMUNITY_OPEN_STATUSES:
        raise ApiError(409, "campaign_closed", f"a {campaign['status']} campaign takes no new needs")
    need = {
        "_id": f"need_{uuid.uuid4().hex}",
        "campaign_id": campaign_id,
        **body.model_dump(),
        "open": True,
        "created_at": utcnow(),
        "created_ms": ms(utcnow()),
    }
    need["counts"] = community.need_counts(need, [])

    async def work(tx: Tx) -> dict[str, Any]:
        return await insert(tx, "needs", need)

    return need_out(await store_of(request).run(work))


@router.get("/campaigns/{campaign_id}/needs")
async def list_needs(
    campaign_id: str, request: Request, principal: Principal | None = Depends(optional_principal)
) -> dict[str, Any]:
    await visible_campaign(request, campaign_id, principal)
    needs = (
        await store_of(request)
        .db.needs.find({"campaign_id": campaign_id})
        .sort([("created_ms", 1), ("_id", 1)])
        .to_list()
    )
    return {"items": [need_out(n) for n in needs]}


@router.patch("/campaigns/{campaign_id}/needs/{need_id}")
async def edit_need(
    campaign_id: str,
    need_id: str,
    body: NeedEdit,
    request: Request,
    principal: Principal = Depends(current_principal),
) -> dict[str, Any]:
    """Owner: change a need, or close it (`open: false`) once it is covered."""
    campaign = await visible_campaign(request, campaign_id, principal)
    require_owner(campaign, principal, "edit needs")
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    if not changes:
        raise ApiError(422, "validation_error", "nothing to change")

    async def work(tx: Tx) -> dict[str, Any]:
        need = await _need(tx, campaign_id, need_id)
        accepted = int((need.get("counts") or {}).get("accepted", 0))
        if changes.get("quantity", need["quantity"]) < accepted:
            raise ApiError(
                409, "below_accepted", f"{accepted} were already accepted; quantity cannot go lower"
            )
        return await _recount(tx, await save(tx, "needs", {**need, **changes}))

    return need_out(await store_of(request).run(work))


@router.post("/campaigns/{campaign_id}/needs/{need_id}/offers", status_code=201)
async def offer_help(
    campaign_id: str,
    need_id: str,
    body: OfferIn,
    request: Request,
    principal: Principal = Depends(current_principal),
) -> dict[str, Any]:
    """Offer help against a need of a live campaign; the owner is notified."""
    campaign = await visible_campaign(request, campaign_id, principal)
    if campaign["status"] != "live":
        raise ApiError(409, "campaign_not_live", "offers are taken while the campaign is live")
    if campaign["owner_id"] == principal.sub:
        raise ApiError(409, "own_campaign", "the owner cannot offer help to their own campaign")

    async def work(tx: Tx) -> dict[str, Any]:
        need = await _need(tx, campaign_id, need_id)
        if not bool(need.get("open", True)):
            raise ApiError(409, "need_closed", "this need is closed")
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
        await _recount(tx, need)
        tx.emit(
            "campaign.offer_received",
            campaign_id,
            {
                "campaign_id": campaign_id,
                "need_id": need_id,
                "offer_id": offer["_id"],
                "owner_id": campaign["owner_id"],
                "from_user_id": principal.sub,
                "quantity": body.quantity,
                "need_title": need["title"],
                "campaign_title": campaign["title"],
            },
        )
        return offer

    return _offer_out(await store_of(request).run(work), with_contact=True)


@router.get("/campaigns/{campaign_id}/needs/{need_id}/offers")
async def list_offers(
    campaign_id: str, need_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    """The owner sees every offer with its contact; anyone else sees only their own offers."""
    campaign = await visible_campaign(request, campaign_id, principal)
    query: dict[str, Any] = {"need_id": need_id, "campaign_id": campaign_id}
    is_owner = campaign["owner_id"] == principal.sub
    if not is_owner:
        query["from_user_id"] = principal.sub
    offers = await store_of(request).db.offers.find(query).sort([("created_ms", 1), ("_id", 1)]).to_list()
    return {"items": [_offer_out(o, with_contact=True) for o in offers]}


@router.post("/campaigns/{campaign_id}/needs/{need_id}/offers/{offer_id}/decision")
async def decide_offer(
    campaign_id: str,
    need_id: str,
    offer_id: str,
    body: OfferDecision,
    request: Request,
    principal: Principal = Depends(current_principal),
) -> dict[str, Any]:
    """Owner: accept or decline an offer (accepting never exceeds the quantity needed)."""
    campaign = await visible_campaign(request, campaign_id, principal)
    require_owner(campaign, principal, "decide on offers")

    async def work(tx: Tx) -> dict[str, Any]:
        need = await _need(tx, campaign_id, need_id)
        offer = await tx.db.offers.find_one({"_id": offer_id, "need_id": need_id}, session=tx.session)
        if offer is None:
            raise ApiError(404, "not_found", "offer not found")
        accepted = int((need.get("counts") or {}).get("accepted", 0))
        try:
            state = community.decide_offer(offer, body.decision, need, accepted)
        except ValueError as exc:
            raise ApiError(409, "offer_not_decidable", str(exc)) from exc
        saved = await save(tx, "offers", {**offer, "state": state, "decided_at": utcnow()})
        await _recount(tx, need)
        return saved

    return _offer_out(await store_of(request).run(work), with_contact=True)
