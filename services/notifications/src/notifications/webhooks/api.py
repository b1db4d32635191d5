"""Webhook endpoints for city systems: register, list, change, rotate the secret, delivery log,
replay. The city's managers (token claim municipalities {slug: "manager"}), admins, and the
city's own systems with their client token (city-system routes: `CallerDep`, the use cases
check the client's municipality)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from servicekit.auth import CallerDep
from servicekit.mongo import as_utc

from ..deps import MongoDep, SettingsDep
from ..store import Doc
from . import endpoints
from .rules import WEBHOOK_EVENT_TYPES, signature_scheme

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

Slug = Annotated[str, Field(pattern=r"^[a-z0-9-]{2,60}$")]
EventType = Annotated[str, Field(min_length=3, max_length=60)]


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
    signature_scheme: Literal["standard", "legacy"] | None = Field(
        None,
        description="`standard` (Standard Webhooks, every new endpoint) or `legacy` (`v1=<hex>` over "
        "`<timestamp>.<body>`, endpoints registered before); the secrets stay the same",
    )


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
    signature_scheme: Literal["standard", "legacy"]


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


class EventTypes(BaseModel):
    event_types: list[str]


def _from_ms(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, tz=UTC) if value else None


def _out(doc: Doc) -> EndpointOut:
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
        signature_scheme=signature_scheme(doc),
    )


def _created(got: endpoints.WithSecret) -> EndpointCreated:
    return EndpointCreated(**_out(got.endpoint).model_dump(), secret=got.secret)


def _attempt(doc: Doc) -> Attempt:
    return Attempt(
        attempt=doc["attempt"],
        at=doc["at"],
        status_code=doc["status_code"] or None,
        error=doc["error"],
        duration_ms=doc["duration_ms"],
    )


def _delivery(doc: Doc, attempts: list[Doc]) -> DeliveryOut:
    return DeliveryOut(
        id=doc["_id"],
        event_id=doc["event_id"],
        event_type=doc["event_type"],
        status=doc["status"],
        attempts=int(doc.get("attempts", 0)),
        created_at=doc["created_at"],
        next_attempt_at=_from_ms(doc.get("due_ms")) if doc["status"] == "pending" else None,
        last_status_code=doc.get("last_status_code") or None,
        replay_of=doc.get("replay_of"),
        log=[_attempt(a) for a in attempts],
    )


def _replayed(got: endpoints.Replayed) -> Replayed:
    return Replayed(delivery_ids=got.delivery_ids, truncated=got.truncated)


@router.get("/event-types", response_model=EventTypes)
async def event_types() -> EventTypes:
    return EventTypes(event_types=list(WEBHOOK_EVENT_TYPES))


@router.post("/endpoints", status_code=201, response_model=EndpointCreated)
async def register_endpoint(
    body: EndpointIn, principal: CallerDep, mongo: MongoDep, settings: SettingsDep
) -> EndpointCreated:
    got = await endpoints.register(
        mongo, settings, principal, body.municipality, body.url, body.event_types, body.description
    )
    return _created(got)


@router.get("/endpoints", response_model=EndpointList)
async def list_endpoints(
    principal: CallerDep, mongo: MongoDep, municipality: Slug = Query(...)
) -> EndpointList:
    return EndpointList(
        items=[_out(d) for d in await endpoints.list_for_city(mongo, principal, municipality)]
    )


@router.get("/endpoints/{endpoint_id}", response_model=EndpointOut)
async def get_endpoint(endpoint_id: str, principal: CallerDep, mongo: MongoDep) -> EndpointOut:
    return _out(await endpoints.get(mongo, principal, endpoint_id))


@router.patch("/endpoints/{endpoint_id}", response_model=EndpointOut)
async def change_endpoint(
    endpoint_id: str, body: EndpointPatch, principal: CallerDep, mongo: MongoDep, settings: SettingsDep
) -> EndpointOut:
    """`enabled: true` re-enables a disabled endpoint: held deliveries flow again."""
    saved = await endpoints.change(
        mongo,
        settings,
        principal,
        endpoint_id,
        enabled=body.enabled,
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        signature_scheme=body.signature_scheme,
    )
    return _out(saved)


@router.delete("/endpoints/{endpoint_id}", status_code=204)
async def delete_endpoint(endpoint_id: str, principal: CallerDep, mongo: MongoDep) -> None:
    """Stops deliveries; the endpoint and its log are kept for the record, secrets are dropped."""
    await endpoints.delete(mongo, principal, endpoint_id)


@router.post("/endpoints/{endpoint_id}/rotate-secret", response_model=EndpointCreated)
async def rotate_secret(
    endpoint_id: str,
    principal: CallerDep,
    mongo: MongoDep,
    settings: SettingsDep,
    body: RotateIn | None = None,
) -> EndpointCreated:
    """A new secret (shown once); the previous one keeps signing for the grace period, so the
    receiver can switch without losing a delivery."""
    grace = body.grace_seconds if body else None
    return _created(await endpoints.rotate_secret(mongo, settings, principal, endpoint_id, grace))


@router.get("/endpoints/{endpoint_id}/deliveries", response_model=DeliveryList)
async def delivery_log(
    endpoint_id: str,
    principal: CallerDep,
    mongo: MongoDep,
    status: Literal["pending", "sending", "delivered", "failed"] | None = None,
    before: datetime | None = None,
    limit: int = Query(50, ge=1, le=200),
) -> DeliveryList:
    log = await endpoints.delivery_log(mongo, principal, endpoint_id, status, before, limit)
    return DeliveryList(items=[_delivery(d, attempts) for d, attempts in log])


@router.post(
    "/endpoints/{endpoint_id}/deliveries/{delivery_id}/replay", status_code=202, response_model=Replayed
)
async def replay_one(endpoint_id: str, delivery_id: str, principal: CallerDep, mongo: MongoDep) -> Replayed:
    return _replayed(await endpoints.replay_one(mongo, principal, endpoint_id, delivery_id))


@router.post("/endpoints/{endpoint_id}/replay", status_code=202, response_model=Replayed)
async def replay_since(endpoint_id: str, body: ReplayIn, principal: CallerDep, mongo: MongoDep) -> Replayed:
    """Delivers again every event this endpoint was sent since `since` (optionally only the
    ones that finally failed), oldest first, at most 1000 per call (`truncated` says to call
    again from the last one's time)."""
    got = await endpoints.replay_since(
        mongo, principal, endpoint_id, body.since, body.until, body.only_failed
    )
    return _replayed(got)
