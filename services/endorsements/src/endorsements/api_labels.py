"""Labels: owners request, officials of the campaign's own city review, grant (with support
offers and optionally a match-funding commitment), decline, revoke with a public reason."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pymongo.errors import DuplicateKeyError

from servicekit.auth import Principal, current_principal, optional_principal
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import store
from .access import ctx_of, db_of, require_active, require_official
from .domain_labels import (
    TransitionError,
    needs_subscription,
    next_status,
    open_key,
    support_totals,
)
from .domain_territory import belongs_to
from .events_out import emit_label_event
from .fields import Currency, Id, Slug
from .matching_commit import MatchIn, cancel_commitment, commit_match, commitment_out

router = APIRouter(tags=["labels"])


class LabelRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: Id
    municipality: Slug | None = Field(default=None, description="defaults to the campaign's city")
    message: str = Field(default="", max_length=2000)


class CityReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: Id


class SupportOffer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["land", "venue", "equipment", "permits", "communication", "technical_help"]
    description: str = Field(min_length=3, max_length=500)
    address: str | None = Field(default=None, max_length=300)
    starts_on: date | None = None
    ends_on: date | None = None
    value: int | None = Field(default=None, ge=0, le=100_000_000, description="in-kind value, minor units")
    currency: Currency | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SupportOffer:
        if self.kind in ("land", "venue") and not self.address:
            raise ValueError(f"a {self.kind} offer needs an address")
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        if (self.value is None) != (self.currency is None):
            raise ValueError("a valued offer needs both value and currency")
        return self


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)
    support: list[SupportOffer] = Field(default_factory=list, max_length=20)
    match: MatchIn | None = None


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=2000)


def label_out(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "campaign_id": doc["campaign_id"],
        "municipality": doc["municipality"],
        "status": doc["status"],
        "reason": doc.get("reason"),
        "note": doc.get("note", ""),
        "support": doc.get("support", []),
        "in_kind_value": doc.get("in_kind_value", 0),
        "currency": doc.get("currency"),
        "commitment_ids": doc.get("commitment_ids", []),
        "requested_by": doc.get("owner_id") if doc.get("origin") == "owner" else None,
        "history": doc.get("history", []),
        "version": doc["version"],
    }


async def _campaign(db: Any, campaign_id: str, session: Any = None) -> dict[str, Any]:
    doc = await db.campaigns.find_one({"_id": campaign_id}, session=session)
    if doc is None:
        raise ApiError(404, "campaign_not_found", "no such campaign (or it is not known here yet)")
    return doc


async def _create(tx: Tx, campaign: dict[str, Any], slug: str, status: str, actor: str, origin: str) -> dict:
    doc = {
        "_id": f"end_{uuid.uuid4().hex}",
        "campaign_id": campaign["_id"],
        "municipality": slug,
        "owner_id": campaign["owner_id"],
        "status": status,
        "origin": origin,
        "open_key": open_key(campaign["_id"], slug),
        "currency": campaign.get("currency", "EUR"),
        "support": [],
        "in_kind_value": 0,
        "commitment_ids": [],
        "history": [{"status": status, "by": actor, "at": utcnow().isoformat()}],
        "version": 1,
        "created_at": utcnow(),
    }
    try:
        await tx.db.endorsements.insert_one(doc, session=tx.session)
    except DuplicateKeyError as exc:
        raise ApiError(409, "label_exists", f"{slug} already has an open label for this campaign") from exc
    emit_label_event(tx, doc)
    return doc


@router.post("/labels", status_code=201)
async def request_label(
    body: LabelRequestIn, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    """A campaign owner asks a city for its label."""
    db = db_of(request)
    campaign = await _campaign(db, body.campaign_id)
    if campaign["owner_id"] != principal.sub:
        raise ApiError(403, "forbidden", "only the campaign's owner can request a label")
    slug = body.municipality or campaign.get("municipality") or ""
    muni = await store.municipality(db, slug)
    if not belongs_to(campaign, slug, store.territory_of(muni)):
        raise ApiError(422, "outside_territory", f"the campaign is not located in {muni['name']}")
    if campaign.get("status") in ("failed", "canceled", "rejected", "completed"):
        raise ApiError(409, "campaign_closed", f"the campaign is {campaign['status']}")

    async def work(tx: Tx) -> dict[str, Any]:
        doc = await _create(tx, campaign, slug, "requested", principal.sub, "owner")
        if body.message:
            await store.patch(tx, "endorsements", doc["_id"], {"message": body.message})
        return doc

    return label_out(await ctx_of(request).mongo.transact(work))  # type: ignore[union-attr]


@router.get("/municipalities/{slug}/review-queue")
async def review_queue(
    slug: Slug, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    """Campaigns in the city's territory, with their label if any; unlabelled and requested first."""
    db = db_of(request)
    muni = await store.municipality(db, slug)
    await require_official(db, principal, slug, "label")
    campaigns = await store.campaigns_in_territory(
        db, muni, {"status": {"$in": ["draft", "submitted", "live", "succeeded"]}}
    )
    labels = {
        d["campaign_id"]: d
        async for d in db.endorsements.find(
            {"municipality": slug, "status": {"$in": ["requested", "under_review", "granted"]}}
        )
    }
    order = {"requested": 0, None: 1, "under_review": 2, "granted": 3}
    items = [
        {
            "campaign": _campaign_out(c),
            "label": label_out(labels[c["_id"]]) if c["_id"] in labels else None,
        }
        for c in campaigns
    ]
    items.sort(key=lambda i: (order[i["label"]["status"] if i["label"] else None], i["campaign"]["id"]))
    return {"items": items}


def _campaign_out(c: dict[str, Any]) -> dict[str, Any]:
    keys = ("title", "owner_id", "status", "municipality", "postcode", "category", "goal", "currency")
    return {"id": c["_id"], **{k: c.get(k) for k in keys}}


@router.post("/municipalities/{slug}/labels", status_code=201)
async def open_review(
    slug: Slug, body: CityReviewIn, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    """A city takes up a campaign from its queue without waiting for a request."""
    db = db_of(request)
    muni = await store.municipality(db, slug)
    await require_official(db, principal, slug, "label")
    campaign = await _campaign(db, body.campaign_id)
    if not belongs_to(campaign, slug, store.territory_of(muni)):
        raise ApiError(
            403, "forbidden", f"this campaign is not in {muni['name']}: only its own city labels it"
        )
    await require_active(db, muni)

    async def work(tx: Tx) -> dict[str, Any]:
        return await _create(tx, campaign, slug, "under_review", principal.sub, "city")

    return label_out(await ctx_of(request).mongo.transact(work))  # type: ignore[union-attr]


async def _act(
    request: Request,
    principal: Principal,
    label_id: str,
    action: str,
    apply: Any,
    idem: tuple[str, str | None, str] | None = None,
) -> dict[str, Any]:
    """Load the label, check the caller is an official of the label's city (and that the
    campaign is in that city), the subscription if the action needs it, then transition.
    With `idem` (scope, Idempotency-Key, fingerprint) a retry gets the first answer back."""
    db = db_of(request)
    label = await db.endorsements.find_one({"_id": label_id})
    if label is None:
        raise ApiError(404, "label_not_found", "no such label")
    slug = label["municipality"]
    muni = await store.municipality(db, slug)
    role = await require_official(db, principal, slug, "label")
    campaign = await _campaign(db, label["campaign_id"])
    if not belongs_to(campaign, slug, store.territory_of(muni)):
        raise ApiError(403, "forbidden", f"this campaign is not in {muni['name']}")

    async def transition(tx: Tx) -> dict[str, Any]:
        doc = await tx.db.endorsements.find_one({"_id": label_id}, session=tx.session)
        assert doc is not None
        try:
            status = next_status(action, doc["status"])
        except TransitionError as exc:
            raise ApiError(409, "bad_transition", str(exc)) from exc
        if needs_subscription(action):
            await require_active(tx.db, muni, session=tx.session)
        changes: dict[str, Any] = {"status": status}
        if status in ("declined", "revoked"):
            changes["open_key"] = doc["_id"]  # frees the campaign for a later request
        changes.update(await apply(tx, doc, role, muni))
        history = [
            *doc.get("history", []),
            {"status": status, "by": principal.sub, "at": utcnow().isoformat()},
        ]
        changes.update({"history": history, "version": doc["version"] + 1})
        await store.patch(tx, "endorsements", label_id, changes)
        doc = {**doc, **changes}
        emit_label_event(tx, doc)
        return label_out(doc)

    async def work(tx: Tx) -> dict[str, Any]:
        if idem is None:
            return await transition(tx)
        scope, key, fingerprint = idem
        return await store.idempotent(tx, scope, key, fingerprint, lambda: transition(tx))

    return await ctx_of(request).mongo.transact(work)  # type: ignore[union-attr]


async def _nothing(tx: Tx, doc: dict, role: str, muni: dict) -> dict[str, Any]:
    return {}


@router.post("/labels/{label_id}/review")
async def start_review(
    label_id: Id, request: Request, principal: Principal = Depends(current_principal)
) -> dict:
    return await _act(request, principal, label_id, "review", _nothing)


@router.post("/labels/{label_id}/grant")
async def grant_label(
    label_id: Id,
    body: GrantIn,
    request: Request,
    principal: Principal = Depends(current_principal),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> dict[str, Any]:
    """Grant the label with its support offers; with `match`, also commit city money from a
    pool (manager only, Idempotency-Key required)."""

    async def apply(tx: Tx, doc: dict, role: str, muni: dict) -> dict[str, Any]:
        support = [o.model_dump(mode="json", exclude_none=True) for o in body.support]
        totals = support_totals(support, doc["currency"])
        changes: dict[str, Any] = {
            "support": support,
            "in_kind_value": totals.in_kind_value,
            "note": body.note,
            "granted_at": utcnow(),
        }
        if body.match is not None:
            if role != "manager":
                raise ApiError(403, "forbidden", "only a manager commits match funds")
            campaign = await _campaign(tx.db, doc["campaign_id"], tx.session)
            commitment = await commit_match(tx, body.match, {**doc, **changes, "status": "granted"}, campaign)
            changes["commitment_ids"] = [*doc.get("commitment_ids", []), commitment["_id"]]
        return changes

    if body.match is None:
        return await _act(request, principal, label_id, "grant", apply)
    fingerprint = store.request_fingerprint({"label": label_id, **body.model_dump(mode="json")})
    idem = (f"grant|{principal.sub}", idempotency_key, fingerprint)
    return await _act(request, principal, label_id, "grant", apply, idem)


@router.post("/labels/{label_id}/decline")
async def decline_label(
    label_id: Id, body: ReasonIn, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    async def apply(tx: Tx, doc: dict, role: str, muni: dict) -> dict[str, Any]:
        return {"reason": body.reason}

    return await _act(request, principal, label_id, "decline", apply)


@router.post("/labels/{label_id}/revoke")
async def revoke_label(
    label_id: Id, body: ReasonIn, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    """Withdraw a granted label; the reason is public. Pending conditional match funds are
    canceled; what an instant match already gave stays with the campaign."""

    async def apply(tx: Tx, doc: dict, role: str, muni: dict) -> dict[str, Any]:
        for commitment_id in doc.get("commitment_ids", []):
            await cancel_commitment(tx, commitment_id, f"label revoked: {body.reason}")
        return {"reason": body.reason, "revoked_at": utcnow()}

    return await _act(request, principal, label_id, "revoke", apply)


@router.get("/labels/{label_id}")
async def get_label(
    label_id: Id, request: Request, principal: Principal | None = Depends(optional_principal)
) -> dict[str, Any]:
    """Granted and revoked labels are public; a pending one is visible to the campaign's owner
    and the city's officials."""
    db = db_of(request)
    doc = await db.endorsements.find_one({"_id": label_id})
    if doc is None:
        raise ApiError(404, "label_not_found", "no such label")
    if doc["status"] not in ("granted", "revoked"):
        allowed = principal is not None and (
            principal.sub == doc["owner_id"]
            or await store.official_role(db, doc["municipality"], principal.sub) is not None
        )
        if not allowed:
            raise ApiError(404, "label_not_found", "no such label")
    return label_out(doc)


@router.get("/campaigns/{campaign_id}/labels")
async def campaign_labels(campaign_id: Id, request: Request) -> dict[str, Any]:
    """What a campaign page shows: granted labels, their support offers and match commitments."""
    db = db_of(request)
    labels = [
        label_out(d) async for d in db.endorsements.find({"campaign_id": campaign_id, "status": "granted"})
    ]
    commitments = [
        commitment_out(c) async for c in db.commitments.find({"campaign_id": campaign_id}).sort("_id", 1)
    ]
    return {"labels": labels, "commitments": commitments}
