"""Municipalities: registration by an admin, trials, the public city page, city AMQP users."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from pymongo.errors import DuplicateKeyError

from servicekit.auth import Principal, current_principal, require_admin
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import store
from .access import ctx_of, db_of, require_official
from .city_amqp import RabbitAdminError, create_city_user
from .domain_territory import TerritoryError, parse_polygons
from .fields import Postcode, Slug

router = APIRouter(tags=["municipalities"])

MAX_POLYGON_JSON = 200_000


class MunicipalityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=120)
    slug: Slug
    official_code: str = Field(min_length=1, max_length=20, description="e.g. INSEE code 93048")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    postcodes: list[Postcode] = Field(default_factory=list, max_length=500)
    territory: dict[str, Any] | None = Field(default=None, description="GeoJSON Polygon or MultiPolygon")
    logo_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://")
    page_text: str = Field(default="", max_length=5000)


class MunicipalityPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    postcodes: list[Postcode] | None = Field(default=None, max_length=500)
    territory: dict[str, Any] | None = None
    logo_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://")
    page_text: str | None = Field(default=None, max_length=5000)


class TrialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(ge=1, le=365)


def municipality_out(doc: dict[str, Any], active: bool | None = None) -> dict[str, Any]:
    out = {
        "id": doc["_id"],
        "slug": doc["slug"],
        "name": doc["name"],
        "official_code": doc["official_code"],
        "country": doc["country"],
        "postcodes": list(doc.get("postcodes", [])),
        "territory": json.loads(doc["polygon_json"]) if doc.get("polygon_json") else None,
        "logo_url": doc.get("logo_url"),
        "page_text": doc.get("page_text", ""),
        "trial_until": doc.get("trial_until"),
    }
    if active is not None:
        out["subscription_active"] = active
    return out


def _polygon_json(territory: dict[str, Any] | None) -> str | None:
    if territory is None:
        return None
    try:
        parse_polygons(territory)
    except TerritoryError as exc:
        raise ApiError(422, "bad_territory", str(exc)) from exc
    # Stored as text: nx-27017 mangles deeply nested arrays, and the domain parses it anyway.
    text = json.dumps(territory, separators=(",", ":"))
    if len(text) > MAX_POLYGON_JSON:
        raise ApiError(413, "territory_too_large", f"the territory GeoJSON is over {MAX_POLYGON_JSON} bytes")
    return text


@router.post("/municipalities", status_code=201)
async def register_municipality(
    body: MunicipalityIn, request: Request, _admin: Principal = Depends(require_admin)
) -> dict[str, Any]:
    if not body.postcodes and body.territory is None:
        raise ApiError(422, "territory_required", "give the territory as postcodes and/or a GeoJSON polygon")
    doc = {
        "_id": f"mun_{uuid.uuid4().hex}",
        **body.model_dump(exclude={"territory", "postcodes"}),
        "postcodes": sorted({p.strip().upper() for p in body.postcodes}),
        "polygon_json": _polygon_json(body.territory),
        "created_at": utcnow(),
    }

    async def work(tx: Tx) -> None:
        await tx.db.municipalities.insert_one(doc, session=tx.session)
        tx.emit(
            "municipality.registered",
            doc["_id"],
            {
                "municipality_id": doc["_id"],
                "slug": doc["slug"],
                "name": doc["name"],
                "country": doc["country"],
                "official_code": doc["official_code"],
                "postcodes": doc["postcodes"],
            },
        )

    try:
        await ctx_of(request).mongo.transact(work)  # type: ignore[union-attr]
    except DuplicateKeyError as exc:
        raise ApiError(409, "slug_taken", f"a municipality {body.slug!r} already exists") from exc
    return municipality_out(doc, active=False)


@router.get("/municipalities")
async def list_municipalities(request: Request) -> dict[str, Any]:
    docs = db_of(request).municipalities.find({}).sort("slug", 1).limit(500)
    return {"items": [municipality_out(d) async for d in docs]}


@router.get("/municipalities/{slug}")
async def get_municipality(slug: Slug, request: Request) -> dict[str, Any]:
    db = db_of(request)
    doc = await store.municipality(db, slug)
    return municipality_out(doc, active=await store.city_active(db, doc, utcnow()))


@router.patch("/municipalities/{slug}")
async def edit_municipality(
    slug: Slug, body: MunicipalityPatch, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    db = db_of(request)
    await require_official(db, principal, slug, "manage_officials", allow_admin=True)
    changes: dict[str, Any] = {}
    if body.postcodes is not None:
        changes["postcodes"] = sorted({p.strip().upper() for p in body.postcodes})
    if "territory" in body.model_fields_set:
        changes["polygon_json"] = _polygon_json(body.territory)
    for field in ("logo_url", "page_text"):
        if getattr(body, field) is not None:
            changes[field] = getattr(body, field)
    if not changes:
        raise ApiError(422, "nothing_to_change", "give at least one field to change")

    async def work(tx: Tx) -> dict[str, Any]:
        current = await store.municipality(tx.db, slug, tx.session)
        doc = await store.patch(tx, "municipalities", current["_id"], changes)
        if not doc.get("postcodes") and not doc.get("polygon_json"):
            raise ApiError(422, "territory_required", "a municipality keeps postcodes or a polygon")
        return doc

    doc = await ctx_of(request).mongo.transact(work)  # type: ignore[union-attr]
    return municipality_out(doc)


@router.post("/municipalities/{slug}/trial")
async def grant_trial(
    slug: Slug, body: TrialIn, request: Request, _admin: Principal = Depends(require_admin)
) -> dict[str, Any]:
    until = utcnow() + timedelta(days=body.days)

    async def work(tx: Tx) -> dict[str, Any]:
        current = await store.municipality(tx.db, slug, tx.session)
        return await store.patch(tx, "municipalities", current["_id"], {"trial_until": until})

    doc = await ctx_of(request).mongo.transact(work)  # type: ignore[union-attr]
    return municipality_out(doc, active=True)


@router.post("/municipalities/{slug}/amqp-user", status_code=201)
async def create_amqp_user(
    slug: Slug, request: Request, _admin: Principal = Depends(require_admin)
) -> dict[str, Any]:
    """Credentials are shown once; calling again resets the password."""
    await store.municipality(db_of(request), slug)
    try:
        user = await create_city_user(ctx_of(request).settings, slug)
    except RabbitAdminError as exc:
        raise ApiError(503, "broker_admin_unavailable", str(exc)) from exc
    return {
        "username": user.username,
        "password": user.password,
        "vhost": user.vhost,
        "exchange": user.exchange,
        "binding_pattern": user.binding_pattern,
    }
