"""Officials of a city: direct appointment (admin or manager), invitations by email token."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from servicekit.auth import Principal, current_principal
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import store
from .access import ctx_of, db_of, require_official
from .domain_officials import INVITATION_TTL, invitation_usable, new_invitation_token, token_digest
from .fields import Email, Slug, UserId

router = APIRouter(tags=["officials"])


class AppointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["reviewer", "manager"]
    email: Email | None = None


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    role: Literal["reviewer", "manager"]


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=20, max_length=200)


def _official_out(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "user_id": doc["user_id"],
        "municipality": doc["municipality"],
        "role": doc["role"],
        "email": doc.get("email"),
        "appointed_at": doc["appointed_at"],
        "appointed_by": doc.get("appointed_by"),
    }


async def appoint(tx: Tx, slug: str, user_id: str, role: str, email: str | None, by: str) -> dict[str, Any]:
    """Make `user_id` an official (or change their role); the gateway hears it and puts the
    municipal role in their next token."""
    oid = f"{slug}|{user_id}"
    existing = await tx.db.officials.find_one({"_id": oid}, session=tx.session)
    doc = {
        "_id": oid,
        "municipality": slug,
        "user_id": user_id,
        "role": role,
        "email": email or (existing or {}).get("email"),
        "appointed_at": (existing or {}).get("appointed_at") or utcnow(),
        "appointed_by": by,
    }
    if existing is not None and existing["role"] == role and existing.get("email") == doc["email"]:
        return existing
    if existing is None:
        await tx.db.officials.insert_one(doc, session=tx.session)
    else:
        await tx.db.officials.replace_one({"_id": oid}, doc, session=tx.session)
    data = {"user_id": user_id, "municipality": slug, "role": role}
    if doc["email"]:
        data["email"] = doc["email"]
    tx.emit("official.appointed", user_id, data)
    return doc


@router.get("/municipalities/{slug}/officials")
async def list_officials(
    slug: Slug, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    db = db_of(request)
    await store.municipality(db, slug)
    await require_official(db, principal, slug, "label", allow_admin=True)
    docs = db.officials.find({"municipality": slug}).sort("_id", 1)
    return {"items": [_official_out(d) async for d in docs]}


@router.put("/municipalities/{slug}/officials/{user_id}")
async def appoint_official(
    slug: Slug,
    user_id: UserId,
    body: AppointIn,
    request: Request,
    principal: Principal = Depends(current_principal),
) -> dict[str, Any]:
    db = db_of(request)
    await store.municipality(db, slug)
    await require_official(db, principal, slug, "manage_officials", allow_admin=True)

    async def work(tx: Tx) -> dict[str, Any]:
        return await appoint(tx, slug, user_id, body.role, body.email, principal.sub)

    return _official_out(await ctx_of(request).mongo.transact(work))  # type: ignore[union-attr]


@router.delete("/municipalities/{slug}/officials/{user_id}", status_code=204)
async def remove_official(
    slug: Slug, user_id: UserId, request: Request, principal: Principal = Depends(current_principal)
) -> None:
    db = db_of(request)
    await store.municipality(db, slug)
    await require_official(db, principal, slug, "manage_officials", allow_admin=True)

    async def work(tx: Tx) -> None:
        doc = await tx.db.officials.find_one({"_id": f"{slug}|{user_id}"}, session=tx.session)
        if doc is None:
            raise ApiError(404, "official_not_found", f"{user_id} is not an official of {slug}")
        await tx.db.officials.delete_one({"_id": doc["_id"]}, session=tx.session)
        data = {"user_id": user_id, "municipality": slug, "role": doc["role"]}
        if doc.get("email"):
            data["email"] = doc["email"]
        tx.emit("official.removed", user_id, data)

    await ctx_of(request).mongo.transact(work)  # type: ignore[union-attr]


@router.post("/municipalities/{slug}/invitations", status_code=201)
async def invite_official(
    slug: Slug, body: InviteIn, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    """The token travels only in `official.invited` (the notifications service emails it):
    the inviter never sees it, so only the mailbox owner can accept."""
    db = db_of(request)
    muni = await store.municipality(db, slug)
    await require_official(db, principal, slug, "manage_officials", allow_admin=True)
    token, digest = new_invitation_token()
    now = utcnow()
    doc = {
        "_id": f"inv_{uuid.uuid4().hex}",
        "municipality": slug,
        "email": body.email,
        "role": body.role,
        "digest": digest,
        "invited_by": principal.sub,
        "created_at": now,
        "expires_at": now + INVITATION_TTL,
        "accepted_by": "",
    }

    async def work(tx: Tx) -> None:
        await tx.db.invitations.insert_one(doc, session=tx.session)
        tx.emit(
            "official.invited",
            doc["_id"],
            {
                "invitation_id": doc["_id"],
                "municipality": slug,
                "municipality_name": muni["name"],
                "email": body.email,
                "role": body.role,
                "token": token,
                "expires_at": doc["expires_at"].isoformat(),
            },
        )

    await ctx_of(request).mongo.transact(work)  # type: ignore[union-attr]
    return {"id": doc["_id"], "email": body.email, "role": body.role, "expires_at": doc["expires_at"]}


@router.post("/invitations/accept")
async def accept_invitation(
    body: AcceptIn, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    if principal.kind != "user":
        raise ApiError(403, "forbidden", "only a person can accept an invitation")
    digest = token_digest(body.token)

    async def work(tx: Tx) -> dict[str, Any]:
        inv = await tx.db.invitations.find_one({"digest": digest}, session=tx.session)
        if inv is None:
            raise ApiError(404, "invitation_not_found", "no invitation has this token")
        refusal = invitation_usable(inv["expires_at"], bool(inv.get("accepted_by")), utcnow())
        if refusal:
            raise ApiError(410, "invitation_unusable", refusal)
        # A forwarded token is not enough: the account's email (when known here) must match.
        user = await tx.db.users.find_one({"_id": principal.sub}, session=tx.session) or {}
        if user.get("email") and user["email"] != inv["email"].strip().lower():
            raise ApiError(403, "wrong_invitee", "this invitation was sent to another email address")
        await store.patch(
            tx, "invitations", inv["_id"], {"accepted_by": principal.sub, "accepted_at": utcnow()}
        )
        return await appoint(
            tx, inv["municipality"], principal.sub, inv["role"], inv["email"], inv["invited_by"]
        )

    return _official_out(await ctx_of(request).mongo.transact(work))  # type: ignore[union-attr]
