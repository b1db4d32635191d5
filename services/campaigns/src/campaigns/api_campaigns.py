"""Create, read, list and edit campaigns."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from pymongo.errors import DuplicateKeyError

from servicekit.auth import Principal, current_principal, optional_principal
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import domain, geo
from .models import CampaignDetail, CampaignEdit, CampaignIn, CampaignOut, CampaignPage, Label, Status
from .store import (
    after_cursor,
    decode_cursor,
    emit_snapshot,
    empty_totals,
    encode_cursor,
    insert,
    ms,
    save,
    sort_value,
)
from .views import campaign_out, can_see, meetup_out, need_out, refused, store_of, visible_campaign

router = APIRouter(tags=["campaigns"])

SORTS: dict[str, tuple[str, int]] = {
    "newest": ("listed_ms", -1),
    "ending_soon": ("deadline_ms", 1),
    "most_funded": ("totals.funded", -1),
    "closest_to_goal": ("closeness", -1),
}
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


@router.get("/campaigns", response_model=CampaignPage)
async def list_campaigns(
    request: Request,
    principal: Principal | None = Depends(optional_principal),
    status: Annotated[list[Status] | None, Query()] = None,
    municipality: Annotated[str | None, Query(pattern=r"^[a-z0-9-]{2,60}$")] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    funding_model: Literal["keep_it_all", "all_or_nothing"] | None = None,
    labelled_by: Annotated[str | None, Query(pattern=r"^[a-z0-9-]{2,60}$")] = None,
    q: Annotated[str | None, Query(min_length=2, max_length=100, description="text search")] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    within_km: Annotated[float, Query(gt=0, le=200)] = 5.0,
    mine: bool = False,
    sort: Literal["newest", "ending_soon", "most_funded", "closest_to_goal"] = "newest",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> CampaignPage:
    """Public listing (live by default). `mine=true`: the caller's own campaigns in any status;
    admins may list any status (the moderation queue is `status=submitted`)."""
    clauses: list[dict[str, Any]] = []
    statuses = list(status or [])
    if mine:
        if principal is None:
            raise ApiError(401, "unauthenticated", "mine=true needs a bearer token")
        clauses.append({"owner_id": principal.sub})
    elif not statuses:
        statuses = ["live"]
    hidden = [s for s in statuses if s not in domain.PUBLIC_STATUSES]
    if hidden and not mine and not (principal and principal.is_admin):
        raise ApiError(403, "forbidden", f"only admins list {', '.join(hidden)} campaigns; use mine=true")
    if statuses:
        clauses.append({"status": {"$in": statuses}})
    for field, value in (
        ("municipality", municipality),
        ("category", category),
        ("funding_model", funding_model),
    ):
        if value is not None:
            clauses.append({field: value})
    if labelled_by is not None:
        clauses.append({"labelled_by": labelled_by})
    if (lat is None) != (lon is None):
        raise ApiError(422, "validation_error", "near a point needs both lat and lon")
    if lat is not None and lon is not None:
        min_lat, max_lat, min_lon, max_lon = geo.bounding_box(lat, lon, within_km)
        clauses.append({"lat": {"$gte": min_lat, "$lte": max_lat}, "lon": {"$gte": min_lon, "$lte": max_lon}})
    key, direction = SORTS[sort]
    after: dict[str, Any] | None = None
    if cursor:
        try:
            after = after_cursor(key, direction, *decode_cursor(cursor))
        except ValueError as exc:
            raise ApiError(422, "invalid_cursor", "cursor is not valid for this listing") from exc
    base: dict[str, Any] = {"$text": {"$search": q}} if q else {}
    store = store_of(request)
    batch_size = limit + 1 if lat is None else max(50, limit * 3)
    found: list[tuple[dict[str, Any], float | None]] = []
    while len(found) <= limit:
        conditions = [*clauses, after] if after else clauses
        query = {**base, **({"$and": conditions} if conditions else {})}
        batch = await store.find_page(query, [(key, direction), ("_id", direction)], batch_size)
        for doc in batch:
            distance = None
            if lat is not None and lon is not None:
                distance = geo.distance_km(lat, lon, float(doc["lat"]), float(doc["lon"]))
                if distance > within_km:
                    continue  # inside the box, outside the circle
            if can_see(doc, principal):
                found.append((doc, distance))
        if len(batch) < batch_size:
            break
        last = batch[-1]
        after = after_cursor(key, direction, sort_value(last, key), last["_id"])
    page = found[:limit]
    next_cursor = None
    if len(found) > limit:
        last_doc = page[-1][0]
        next_cursor = encode_cursor(sort_value(last_doc, key), last_doc["_id"])
    return CampaignPage(items=[campaign_out(d, principal, dist) for d, dist in page], next_cursor=next_cursor)


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
