"""Campaigns HTTP API (walking skeleton)."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from servicekit.auth import Principal, current_principal
from servicekit.errors import ApiError
from servicekit.mongo import utcnow

from .store import CampaignStore

router = APIRouter(tags=["campaigns"])


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=3, max_length=140)
    municipality: str = Field(pattern=r"^[a-z0-9-]{2,60}$")
    goal: int = Field(gt=0, le=100_000_000, description="minor units")
    currency: Literal["EUR", "GBP", "USD", "CHF"] = "EUR"
    funding_model: Literal["keep_it_all", "all_or_nothing"] = "keep_it_all"


class CampaignOut(BaseModel):
    id: str
    owner_id: str
    title: str
    municipality: str
    goal: int
    currency: str
    funding_model: str
    status: str


def _store(request: Request) -> CampaignStore:
    return request.app.state.ctx.extras["store"]


def _out(doc: dict) -> CampaignOut:
    return CampaignOut(id=doc["_id"], **{k: doc[k] for k in CampaignOut.model_fields if k != "id"})


@router.post("/campaigns", status_code=201, response_model=CampaignOut)
async def create_campaign(
    body: CampaignIn, request: Request, principal: Principal = Depends(current_principal)
) -> CampaignOut:
    doc = {
        "_id": f"cmp_{uuid.uuid4().hex}",
        "owner_id": principal.sub,
        "status": "live",
        "version": 1,
        "created_at": utcnow(),
        **body.model_dump(),
    }
    return _out(await _store(request).create_published(doc))


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
async def get_campaign(campaign_id: str, request: Request) -> CampaignOut:
    doc = await _store(request).get(campaign_id)
    if doc is None:
        raise ApiError(404, "not_found", "campaign not found")
    return _out(doc)
