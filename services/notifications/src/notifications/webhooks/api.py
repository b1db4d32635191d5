"""Webhook endpoints for city systems: register, list, change, rotate the secret, delivery log,
replay. Only the city's managers (token claim municipalities {slug: "manager"}) and admins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from servicekit.auth import Principal, current_principal
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from .settings import Settings
from .store import as_utc
from .tokens import new_webhook_secret
from .webhook_rules import WEBHOOK_EVENT_TYPES, UrlRefused, check_event_types
from .webhook_sender import check_url
from .webhook_store import replay, rotated_secrets

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

Slug = Annotated[str, Field(pattern=r"^[a-z0-9-]{2,60}$")]
EventType = Annotated[str, Field(min_length=3, max_length=60)]
MAX_REPLAY = 1000


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    municipality: Slug
    url: str = Field(min_length=8, max_length=2000)
    event_types: list[EventType] = Field(min_length=1, max_length=len(WEBHOOK_EVENT_TYPES))
    description: str = Field("", max_length=200)


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    url: str | None = Field(None, min_length=8, max_length=2000)
    event_types: list[EventType] | None = Field(None, min_length=1, max_length=len(WEBHOOK_EVENT_TYPES))
    description: str | None = Field(None, max_length=200)


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int | None = Field(None, ge=0, le=7 * 24 * 3600)


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime
    until: datetime | None = None
    only_failed: bool = False


class SecretInfo(BaseModel):
    id: str
    created_at: datetime
    expires_at: datetime | None = None


class EndpointOut(BaseModel):
    id: str
    municipality: str
    url: str
    event_types: list[str]
    description: str
    status: Literal["active", "disabled"]
    created_at: datetime
    consecutive_failures: int
    failing_since: datetime | None = None
    last_success_at: datetime | None = None
    disabled_at: datetime | None = None
    secrets: list[SecretInfo]


class EndpointCreated(EndpointOut):
    secret: str = Field(description="shown once: store it now, it cannot be read again")


class EndpointList(BaseModel):
    items: list[EndpointOut]


class Attempt(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None
    error: str
    duration_ms: int


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_status_code: int | None
    replay_of: str | None = None
    log: list[Attempt]


class DeliveryList(BaseModel):
    items: list[DeliveryOut]


class Replayed(BaseModel):
    delivery_ids: list[str]
    truncated: bool = False


def _from_ms(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, tz=UTC) if value else None


def _settings(request: Request) -> Settings:
    return request.app.state.ctx.settings


def _require_manager(principal: Principal, slug: str) -> None:
    if not (principal.is_admin or principal.is_official_of(slug, "manager")):
        raise ApiError(403, "forbidden", f"only {slug}'s managers (or an admin) manage its webhooks")


async def _endpoint(request: Request, endpoint_id: str, principal: Principal) -> dict[str, Any]:
    doc = await request.app.state.ctx.mongo.db.webhook_endpoints.find_one({"_id": endpoint_id[:100]})
    if doc is None or doc["status"] == "deleted":
        raise ApiError(404, "not_found", "no such webhook endpoint")
    _require_manager(principal, doc["municipality"])
    return doc


def _out(doc: dict[str, Any]) -> EndpointOut:
    return EndpointOut(
        id=doc["_id"],
        municipality=doc["municipality"],
        url=doc["url"],
        event_types=list(doc["event_types"]),
        description=doc.get("description", ""),
        status=doc["status"],
        created_at=doc["created_at"],
        consecutive_failures=int(doc.get("consecutive_failures", 0)),
        failing_since=as_utc(doc.get("failing_since")),
        last_success_at=as_utc(doc.get("last_success_at")),
        disabled_at=as_utc(doc.get("disabled_at")),
        secrets=[
            SecretInfo(id=s["id"], created_at=s["created_at"], expires_at=as_utc(s.get("expires_at")))
            for s in doc.get("secrets", [])
        ],
    )


def _event_types(values: list[str]) -> list[str]:
    try:
        return check_event_types(values)
    except ValueError as exc:
        raise ApiError(
            422, "invalid_event_type", str(exc), details=[{"allowed": [*WEBHOOK_EVENT_TYPES, "<entity>.*"]}]
        ) from exc


async def _checked_url(request: Request, url: str) -> str:
    try:
        await check_url(url, _settings(request).environment)
    except UrlRefused as exc:
        raise ApiError(422, "url_refused", str(exc)) from exc
    return url


@router.get("/event-types")
async def event_types() -> dict[str, list[str]]:
    return {"event_types": list(WEBHOOK_EVENT_TYPES)}


@router.post("/endpoints", status_code=201, response_model=EndpointCreated)
async def register_endpoint(
    body: EndpointIn, request: Request, principal: Principal = Depends(current_principal)
) -> EndpointCreated:
    _require_manager(principal, body.municipality)
    types = _event_types(body.event_types)
    url = await _checked_url(request, body.url)
    now = utcnow()
    secret = new_webhook_secret()
    doc = {
        "_id": "whe_" + uuid.uuid4().hex[:20],
        "municipality": body.municipality,
        "url": url,
        "event_types": types,
        "description": body.description,
        "status": "active",
        "created_at": now,
        "created_by": principal.sub,
        "consecutive_failures": 0,
        "secrets": [{"id": "sec_" + uuid.uuid4().hex[:12], "secret": secret, "created_at": now}],
    }

    async def insert(tx: Tx) -> None:
        await tx.db.webhook_endpoints.insert_one(doc, session=tx.session)

    await request.app.state.ctx.mongo.transact(insert)
    return EndpointCreated(**_out(doc).model_dump(), secret=secret)


@router.get("/endpoints", response_model=EndpointList)
async def list_endpoints(
    request: Request, municipality: Slug = Query(...), principal: Principal = Depends(current_principal)
) -> EndpointList:
    _require_manager(principal, municipality)
    docs = (
        await request.app.state.ctx.mongo.db.webhook_endpoints.find(
            {"municipality": municipality, "status": {"$in": ["active", "disabled"]}}
        )
        .sort([("created_at", 1)])
        .to_list()
    )
    return EndpointList(items=[_out(d) for d in docs])


@router.get("/endpoints/{endpoint_id}", response_model=EndpointOut)
async def get_endpoint(
    endpoint_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> EndpointOut:
    return _out(await _endpoint(request, endpoint_id, principal))


@router.patch("/endpoints/{endpoint_id}", response_model=EndpointOut)
async def change_endpoint(
    endpoint_id: str, body: EndpointPatch, request: Request, principal: Principal = Depends(current_principal)
) -> EndpointOut:
    """`enabled: true` re-enables a disabled endpoint: held deliveries flow again."""
    doc = await _endpoint(request, endpoint_id, principal)
    update: dict[str, Any] = {}
    unset: dict[str, str] = {}
    if body.event_types is not None:
        update["event_types"] = _event_types(body.event_types)
    if body.url is not None:
        update["url"] = await _checked_url(request, body.url)
    if body.description is not None:
        update["description"] = body.description
    if body.enabled is True and doc["status"] != "active":
        update.update(status="active", consecutive_failures=0)
        unset["failing_since"] = ""
    elif body.enabled is False:
        update["status"] = "disabled"
        update["disabled_at"] = utcnow()

    async def save(tx: Tx) -> dict[str, Any]:
        change: dict[str, Any] = {"$set": {**update, "updated_at": utcnow()}}
        if unset:
            change["$unset"] = unset
        await tx.db.webhook_endpoints.update_one({"_id": doc["_id"]}, change, session=tx.session)
        return await tx.db.webhook_endpoints.find_one({"_id": doc["_id"]}, session=tx.session)

    return _out(await request.app.state.ctx.mongo.transact(save))


@router.delete("/endpoints/{endpoint_id}", status_code=204)
async def delete_endpoint(
    endpoint_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> None:
    """Stops deliveries; the endpoint and its log are kept for the record, secrets are dropped."""
    doc = await _endpoint(request, endpoint_id, principal)

    async def delete(tx: Tx) -> None:
        await tx.db.webhook_endpoints.update_one(
            {"_id": doc["_id"]},
            {"$set": {"status": "deleted", "secrets": [], "deleted_at": utcnow()}},
            session=tx.session,
        )

    await request.app.state.ctx.mongo.transact(delete)


@router.post("/endpoints/{endpoint_id}/rotate-secret", response_model=EndpointCreated)
async def rotate_secret(
    endpoint_id: str,
    request: Request,
    body: RotateIn | None = None,
    principal: Principal = Depends(current_principal),
) -> EndpointCreated:
    """A new secret (shown once); the previous one keeps signing for the grace period, so the
    receiver can switch without losing a delivery."""
    doc = await _endpoint(request, endpoint_id, principal)
    grace = (
        body.grace_seconds
        if body and body.grace_seconds is not None
        else _settings(request).webhook_secret_grace_s
    )
    secret = new_webhook_secret()

    async def save(tx: Tx) -> dict[str, Any]:
        current = await tx.db.webhook_endpoints.find_one({"_id": doc["_id"]}, session=tx.session)
        secrets = rotated_secrets(current, secret, grace, utcnow())
        await tx.db.webhook_endpoints.update_one(
            {"_id": doc["_id"]},
            {"$set": {"secrets": secrets, "secret_rotated_at": utcnow()}},
            session=tx.session,
        )
        return await tx.db.webhook_endpoints.find_one({"_id": doc["_id"]}, session=tx.session)

    saved = await request.app.state.ctx.mongo.transact(save)
    return EndpointCreated(**_out(saved).model_dump(), secret=secret)


@router.get("/endpoints/{endpoint_id}/deliveries", response_model=DeliveryList)
async def delivery_log(
    endpoint_id: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    status: Literal["pending", "sending", "delivered", "failed"] | None = None,
    before: datetime | None = None,
    limit: int = Query(50, ge=1, le=200),
) -> DeliveryList:
    doc = await _endpoint(request, endpoint_id, principal)
    db = request.app.state.ctx.mongo.db
    query: dict[str, Any] = {"endpoint_id": doc["_id"]}
    if status:
        query["status"] = status
    if before:
        query["created_at"] = {"$lt": before}
    deliveries = await db.webhook_deliveries.find(query).sort([("created_at", -1)]).limit(limit).to_list()
    attempts = (
        await db.webhook_attempts.find({"delivery_id": {"$in": [d["_id"] for d in deliveries]}})
        .sort([("at", 1)])
        .to_list()
    )
    by_delivery: dict[str, list[Attempt]] = {}
    for a in attempts:
        by_delivery.setdefault(a["delivery_id"], []).append(
            Attempt(
                attempt=a["attempt"],
                at=a["at"],
                status_code=a["status_code"] or None,
                error=a["error"],
                duration_ms=a["duration_ms"],
            )
        )
    return DeliveryList(
        items=[
            DeliveryOut(
                id=d["_id"],
                event_id=d["event_id"],
                event_type=d["event_type"],
                status=d["status"],
                attempts=int(d.get("attempts", 0)),
                created_at=d["created_at"],
                next_attempt_at=_from_ms(d.get("due_ms")) if d["status"] == "pending" else None,
                last_status_code=d.get("last_status_code") or None,
                replay_of=d.get("replay_of"),
                log=by_delivery.get(d["_id"], []),
            )
            for d in deliveries
        ]
    )


@router.post(
    "/endpoints/{endpoint_id}/deliveries/{delivery_id}/replay", status_code=202, response_model=Replayed
)
async def replay_one(
    endpoint_id: str, delivery_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> Replayed:
    doc = await _endpoint(request, endpoint_id, principal)

    async def again(tx: Tx) -> str:
        delivery = await tx.db.webhook_deliveries.find_one(
            {"_id": delivery_id[:100], "endpoint_id": doc["_id"]}, session=tx.session
        )
        if delivery is None:
            raise ApiError(404, "not_found", "no such delivery for this endpoint")
        return await replay(tx, delivery, doc)

    return Replayed(delivery_ids=[await request.app.state.ctx.mongo.transact(again)])


@router.post("/endpoints/{endpoint_id}/replay", status_code=202, response_model=Replayed)
async def replay_since(
    endpoint_id: str, body: ReplayIn, request: Request, principal: Principal = Depends(current_principal)
) -> Replayed:
    """Delivers again every event this endpoint was sent since `since` (optionally only the
    ones that finally failed), oldest first, at most 1000 per call (`truncated` says to call
    again from the last one's time)."""
    doc = await _endpoint(request, endpoint_id, principal)
    if body.since.tzinfo is None or (body.until is not None and body.until.tzinfo is None):
        raise ApiError(422, "naive_datetime", "give times with a timezone, e.g. 2026-11-22T03:00:00Z")
    query: dict[str, Any] = {
        "endpoint_id": doc["_id"],
        "created_at": {"$gte": body.since, **({"$lt": body.until} if body.until else {})},
        "replay_of": {"$exists": False},
    }
    if body.only_failed:
        query["status"] = "failed"

    async def again(tx: Tx) -> Replayed:
        originals = (
            await tx.db.webhook_deliveries.find(query, session=tx.session)
            .sort([("created_at", 1)])
            .limit(MAX_REPLAY + 1)
            .to_list()
        )
        ids = [await replay(tx, d, doc) for d in originals[:MAX_REPLAY]]
        return Replayed(delivery_ids=ids, truncated=len(originals) > MAX_REPLAY)

    return await request.app.state.ctx.mongo.transact(again)
