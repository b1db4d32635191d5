"""City match-funding pools (named, yearly budget) and commitments on granted labels."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field
from pymongo.errors import DuplicateKeyError

from servicekit.auth import Principal, current_principal
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import store
from .access import ctx_of, db_of, require_active, require_official
from .fields import Id, Slug
from .matching_commit import MatchIn, commit_match, commitment_out, pool_state

router = APIRouter(tags=["match funding"])


class PoolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=3, max_length=120)
    year: int = Field(ge=2000, le=2100)
    budget: int = Field(ge=1, le=10_000_000_000, description="minor units")
    currency: str = Field(pattern=r"^[A-Z]{3}$")


async def _pool_out(tx: Tx, pool: dict[str, Any]) -> dict[str, Any]:
    state = await pool_state(tx, pool)
    return {
        "id": pool["_id"],
        "municipality": pool["municipality"],
        "name": pool["name"],
        "year": pool["year"],
        "currency": pool["currency"],
        **state,
    }


@router.post("/municipalities/{slug}/pools", status_code=201)
async def create_pool(
    slug: Slug,
    body: PoolIn,
    request: Request,
    principal: Principal = Depends(current_principal),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> dict[str, Any]:
    db = db_of(request)
    await store.municipality(db, slug)
    await require_official(db, principal, slug, "commit_funds")
    fingerprint = store.request_fingerprint({"slug": slug, **body.model_dump()})

    async def work(tx: Tx) -> dict[str, Any]:
        async def create() -> dict[str, Any]:
            doc = {"_id": f"pool_{uuid.uuid4().hex}", "municipality": slug, **body.model_dump(), "rev": 0}
            doc["created_at"] = utcnow()
            await tx.db.pools.insert_one(doc, session=tx.session)
            return await _pool_out(tx, doc)

        return await store.idempotent(tx, f"pool|{principal.sub}", idempotency_key, fingerprint, create)

    try:
        return await ctx_of(request).mongo.transact(work)  # type: ignore[union-attr]
    except DuplicateKeyError as exc:
        raise ApiError(
            409, "pool_exists", f"{slug} already has a pool {body.name!r} for {body.year}"
        ) from exc


@router.get("/municipalities/{slug}/pools")
async def list_pools(slug: Slug, request: Request, principal: Principal = Depends(current_principal)) -> dict:
    db = db_of(request)
    await store.municipality(db, slug)
    await require_official(db, principal, slug, "label")

    async def read(tx: Tx) -> list[dict[str, Any]]:
        pools = [p async for p in tx.db.pools.find({"municipality": slug}, session=tx.session).sort("_id", 1)]
        return [await _pool_out(tx, p) for p in pools]

    return {"items": await ctx_of(request).mongo.transact(read)}  # type: ignore[union-attr]


@router.post("/labels/{label_id}/commitments", status_code=201)
async def add_commitment(
    label_id: Id,
    body: MatchIn,
    request: Request,
    principal: Principal = Depends(current_principal),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> dict[str, Any]:
    """Commit match funds to an already granted label (manager of the label's city)."""
    db = db_of(request)
    label = await db.endorsements.find_one({"_id": label_id})
    if label is None:
        raise ApiError(404, "label_not_found", "no such label")
    muni = await store.municipality(db, label["municipality"])
    await require_official(db, principal, muni["slug"], "commit_funds")
    fingerprint = store.request_fingerprint({"label": label_id, **body.model_dump()})

    async def work(tx: Tx) -> dict[str, Any]:
        async def commit() -> dict[str, Any]:
            await require_active(tx.db, muni, session=tx.session)
            doc = await tx.db.endorsements.find_one({"_id": label_id}, session=tx.session)
            if doc is None:
                raise ApiError(404, "label_not_found", "no such label")
            campaign = await tx.db.campaigns.find_one({"_id": doc["campaign_id"]}, session=tx.session)
            if campaign is None:
                raise ApiError(404, "campaign_not_found", "the label's campaign is not known here")
            c = await commit_match(tx, body, doc, campaign)
            ids = [*doc.get("commitment_ids", []), c["_id"]]
            await store.patch(
                tx, "endorsements", label_id, {"commitment_ids": ids, "version": doc["version"] + 1}
            )
            return commitment_out(c)

        return await store.idempotent(tx, f"commit|{principal.sub}", idempotency_key, fingerprint, commit)

    return await ctx_of(request).mongo.transact(work)  # type: ignore[union-attr]


@router.get("/commitments/{commitment_id}")
async def get_commitment(commitment_id: Id, request: Request) -> dict[str, Any]:
    doc = await db_of(request).commitments.find_one({"_id": commitment_id})
    if doc is None:
        raise ApiError(404, "commitment_not_found", "no such commitment")
    return commitment_out(doc)
