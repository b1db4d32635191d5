"""Create, read and edit one campaign (listing: api_listing.py)."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from pymongo.errors import DuplicateKeyError

from servicekit.auth import Principal, current_principal, optional_principal
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import domain
from .models import CampaignDetail, CampaignEdit, CampaignIn, CampaignOut, Label
from .store import (
    emit_snapshot,
    empty_totals,
    insert,
    ms,
    save,
)
from .views import campaign_out, meetup_out, need_out, refused, store_of, visible_campaign

router = APIRouter(tags=["campaigns"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=8, max_length=200)]


@router.post("/campaigns", status_code=201, response_model=CampaignOut)
async def create_campaign(
    body: CampaignIn,
    request: Request,
    idempotency_key: IdempotencyKey = None,
    principal: Principal = Depends(current_principal),
) -> CampaignOut:
    """Create a draft. With an Idempotency-Key, a retried request returns the same draft."""
    if principal.kind != "user":
        raise ApiError(403, "forbidden", "campaigns are created by people, not city systems")
    now = utcnow()
    doc: dict[str, Any] = {
        "_id": f"cmp_{uuid.uuid4().hex}",
        "owner_id": principal.sub,
        "status": "draft",
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "totals": empty_totals(),
        "followers_count": 0,
        "labelled_by": [],
        **body.to_doc(),
    }
    fingerprint = hashlib.sha256(
        json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()
    store = store_of(request)

    async def work(tx: Tx) -> dict[str, Any]:
        if idempotency_key is not None:
            key = f"{principal.sub}|create|{idempotency_key}"
            seen = await tx.db.idempotency.find_one({"_id": key}, session=tx.session)
            if seen is not None:
                if seen["fingerprint"] != fingerprint:
                    raise ApiError(
                        422, "idempotency_key_reused", "this Idempotency-Key was used for a different request"
                    )
                existing = await tx.db.campaigns.find_one({"_id": seen["campaign_id"]}, session=tx.session)
                if existing is not None:
                    return existing
            else:
                await tx.db.idempotency.insert_one(
                    {"_id": key, "fingerprint": fingerprint, "campaign_id": doc["_id"], "created_at": now},
                    session=tx.session,
                )
        saved = await insert(tx, "campaigns", doc)
        emit_snapshot(tx, "campaign.created", saved)
        return saved

    try:
        saved = await store.run(work)
    except DuplicateKeyError as exc:  # the same key raced itself: the other request created it
        raise ApiError(409, "conflict", "a request with this Idempotency-Key is in progress; retry") from exc
    return campaign_out(saved, principal)


@router.get("/campaigns/{campaign_id}", response_model=CampaignDetail)
async def get_campaign(
    campaign_id: str, request: Request, principal: Principal | None = Depends(optional_principal)
) -> CampaignDetail:
    """One campaign with its totals, labels, needs and the next meetups."""
    campaign = await visible_campaign(request, campaign_id, principal)
    store = store_of(request)
    labels = [
        Label(
            municipality=label["municipality"],
            endorsement_id=label["_id"],
            support=label.get("support") or [],
            in_kind_value=label.get("in_kind_value"),
            currency=label.get("currency"),
        )
        for label in await store.labels(campaign_id)
    ]
    needs = (
        await store.db.needs.find({"campaign_id": campaign_id})
        .sort([("created_ms", 1), ("_id", 1)])
        .to_list()
    )
    meetups = (
        await store.db.meetups.find({"campaign_id": campaign_id, "starts_ms": {"$gte": ms(utcnow())}})
        .sort([("starts_ms", 1)])
        .limit(3)
        .to_list()
    )
    return CampaignDetail(
        **campaign_out(campaign, principal).model_dump(),
        labels=labels,
        needs=[need_out(n) for n in needs],
        next_meetups=[meetup_out(m) for m in meetups],
    )


@router.patch("/campaigns/{campaign_id}", response_model=CampaignOut)
async def edit_campaign(
    campaign_id: str, body: CampaignEdit, request: Request, principal: Principal = Depends(current_principal)
) -> CampaignOut:
    """Owner edits. Draft: anything. Live: summary, description, media and place only."""
    changes = body.changes()
    await visible_campaign(request, campaign_id, principal)

    async def work(tx: Tx) -> dict[str, Any]:
        doc = await tx.db.campaigns.find_one({"_id": campaign_id}, session=tx.session)
        if doc is None:
            raise ApiError(404, "not_found", "campaign not found")
        if doc["owner_id"] != principal.sub:
            raise ApiError(403, "forbidden", "only the campaign's owner can edit it")
        try:
            domain.check_edit(doc["status"], set(changes))
        except domain.TransitionRefused as exc:
            raise refused(exc) from exc
        changed = {**doc, **changes, "version": doc["version"] + 1, "updated_at": utcnow()}
        saved = await save(tx, "campaigns", changed)
        emit_snapshot(tx, "campaign.edited", saved)
        return saved

    return campaign_out(await store_of(request).run(work), principal)
