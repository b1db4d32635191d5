"""HTTP: in-kind needs of a campaign and the help neighbours offer against them (use cases:
needs.py)."""

from __future__ import annotations

from fastapi import APIRouter

from servicekit.auth import OptionalPrincipalDep, PrincipalDep

from . import needs
from .deps import Store
from .models import NeedEdit, NeedIn, NeedList, NeedOut, OfferDecision, OfferIn, OfferList, OfferOut
from .views import need_out, offer_out

router = APIRouter(tags=["needs and offers"])


@router.post("/campaigns/{campaign_id}/needs", status_code=201, response_model=NeedOut)
async def add_need(campaign_id: str, body: NeedIn, store: Store, principal: PrincipalDep) -> NeedOut:
    """Owner: list something besides money the project needs (volunteers, a room, tools...)."""
    return need_out(await needs.add(store, principal, campaign_id, body))


@router.get("/campaigns/{campaign_id}/needs", response_model=NeedList)
async def list_needs(campaign_id: str, store: Store, principal: OptionalPrincipalDep) -> NeedList:
    return NeedList(items=[need_out(n) for n in await needs.list_of(store, principal, campaign_id)])


@router.patch("/campaigns/{campaign_id}/needs/{need_id}", response_model=NeedOut)
async def edit_need(
    campaign_id: str, need_id: str, body: NeedEdit, store: Store, principal: PrincipalDep
) -> NeedOut:
    """Owner: change a need, or close it (`open: false`) once it is covered."""
    return need_out(await needs.edit(store, principal, campaign_id, need_id, body))


@router.post("/campaigns/{campaign_id}/needs/{need_id}/offers", status_code=201, response_model=OfferOut)
async def offer_help(
    campaign_id: str, need_id: str, body: OfferIn, store: Store, principal: PrincipalDep
) -> OfferOut:
    """Offer help against a need of a live campaign; the owner is notified."""
    return offer_out(await needs.offer(store, principal, campaign_id, need_id, body))


@router.get("/campaigns/{campaign_id}/needs/{need_id}/offers", response_model=OfferList)
async def list_offers(campaign_id: str, need_id: str, store: Store, principal: PrincipalDep) -> OfferList:
    """The owner sees every offer with its contact; anyone else sees only their own offers."""
    return OfferList(items=[offer_out(o) for o in await needs.offers(store, principal, campaign_id, need_id)])


@router.post("/campaigns/{campaign_id}/needs/{need_id}/offers/{offer_id}/decision", response_model=OfferOut)
async def decide_offer(
    campaign_id: str, need_id: str, offer_id: str, body: OfferDecision, store: Store, principal: PrincipalDep
) -> OfferOut:
    """Owner: accept or decline an offer (accepting never exceeds the quantity needed)."""
    return offer_out(await needs.decide(store, principal, campaign_id, need_id, offer_id, body.decision))


@router.post("/campaigns/{campaign_id}/needs/{need_id}/offers/{offer_id}/delivered", response_model=OfferOut)
async def confirm_delivered(
    campaign_id: str, need_id: str, offer_id: str, store: Store, principal: PrincipalDep
) -> OfferOut:
    """Owner: the accepted help was delivered; its declared value counts from now on (toward the
    goal where the need says so). Confirming again changes nothing."""
    return offer_out(await needs.delivered(store, principal, campaign_id, need_id, offer_id))
