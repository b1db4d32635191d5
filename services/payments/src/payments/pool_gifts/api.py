"""What checkout may offer a backer for the case their project fails (public), and each pool's
residents' gifts the platform holds for a city (its officials, admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from servicekit.app import component
from servicekit.auth import PrincipalDep

from ..deps import Pledges
from . import usecases
from .usecases import PoolGifts

router = APIRouter(tags=["pledges"])
Gifts = Annotated[PoolGifts, Depends(component(PoolGifts))]
SLUG = r"^[a-z0-9-]{2,60}$"


class GiftPoolOut(BaseModel):
    pool_id: str
    name: str
    year: int
    municipality: str
    currency: str


class FallbackOptionsOut(BaseModel):
    campaign_id: str
    offered: bool = Field(description="all-or-nothing: the backer may choose what happens if it fails")
    city_pool: GiftPoolOut | None = Field(
        default=None, description="the city's pool taking residents' gifts now (choice kind city_pool)"
    )


class PoolGiftsHeldOut(BaseModel):
    pool_id: str
    pool_name: str | None = None
    municipality: str
    currency: str
    received: int = Field(description="minor units: gifts charged for this pool")
    applied: int = Field(description="minor units: used to settle the city's match dues from this pool")
    held: int = Field(description="minor units: held by the platform for the city, received - applied")


class PoolGiftsHeldPage(BaseModel):
    items: list[PoolGiftsHeldOut]


@router.get("/campaigns/{campaign_id}/fallback-options", response_model=FallbackOptionsOut)
async def fallback_options(campaign_id: str, pledges: Pledges) -> FallbackOptionsOut:
    """Public: whether the campaign's backers may give to their city's pool if it fails."""
    offered, pool = await usecases.fallback_options(pledges.store, campaign_id)
    return FallbackOptionsOut(
        campaign_id=campaign_id,
        offered=offered,
        city_pool=GiftPoolOut(pool_id=pool.id, name=pool.name, year=pool.year,
                              municipality=pool.municipality, currency=pool.currency) if pool else None,
    )  # fmt: skip


@router.get("/city-pools/gifts", response_model=PoolGiftsHeldPage)
async def gifts_held(
    principal: PrincipalDep, gifts: Gifts, municipality: str = Query(pattern=SLUG)
) -> PoolGiftsHeldPage:
    """Each pool's residents' gifts the platform holds for the city (its officials, admins)."""
    docs = await gifts.held_by(principal, municipality)
    return PoolGiftsHeldPage(
        items=[
            PoolGiftsHeldOut(
                pool_id=d["_id"],
                pool_name=d.get("pool_name"),
                municipality=d["municipality"],
                currency=d["currency"],
                received=int(d.get("received", 0)),
                applied=int(d.get("applied", 0)),
                held=int(d.get("held", 0)),
            )
            for d in docs
        ]
    )
