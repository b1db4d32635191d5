"""Officials of a city: direct appointment (admin or manager), removal, invitations by email
token. The gateway hears `official.*` and puts the municipal role in the person's next token."""

from __future__ import annotations

import uuid
from typing import Any

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.mongo import Mongo, Tx, utcnow

from .. import store
from ..access import CityOfficial
from ..store import Doc
from .domain import INVITATION_TTL, invitation_usable, new_invitation_token, token_digest
from .models import AppointByEmailIn, AppointIn, InvitationOut, InviteIn, OfficialOut, OfficialsOut


def _event_data(doc: Doc) -> dict[str, Any]:
    data = {"user_id": doc["user_id"], "municipality": doc["municipality"], "role": doc["role"]}
    if doc.get("email"):
        data["email"] = doc["email"]
    return data


async def _appoint(tx: Tx, slug: str, user_id: str, role: str, email: str | None, by: str) -> Doc:
    """Make `user_id` an official (or change their role); nothing is emitted if nothing changes."""
    existing = await store.official(tx, slug, user_id)
    doc = {
        "_id": f"{slug}|{user_id}",
        "municipality": slug,
        "user_id": user_id,
        "role": role,
        "email": email or (existing or {}).get("email"),
        "appointed_at": (existing or {}).get("appointed_at") or utcnow(),
        "appointed_by": by,
    }
    if existing is not None and existing["role"] == role and existing.get("email") == doc["email"]:
        return existing
    await store.officials.put(tx, doc)
    tx.emit("official.appointed", user_id, _event_data(doc))
    return doc


async def list_officials(mongo: Mongo, official: CityOfficial) -> OfficialsOut:
    return OfficialsOut(items=[OfficialOut.of(d) for d in await store.officials_of(mongo.db, official.slug)])


async def appoint(mongo: Mongo, manager: CityOfficial, user_id: str, body: AppointIn) -> OfficialOut:
    async def work(tx: Tx) -> Doc:
        return await _appoint(tx, manager.slug, user_id, body.role, body.email, manager.principal.sub)

    return OfficialOut.of(await mongo.transact(work))


async def appoint_by_email(mongo: Mongo, manager: CityOfficial, body: AppointByEmailIn) -> OfficialOut:
    """Appoint someone who already has an account, named by its email (the users projection
    from the gateway's events); without an account, the manager invites them instead."""

    async def work(tx: Tx) -> Doc:
        user = await store.user_by_email(tx, body.email)
        if user is None or user.get("deleted"):
            raise DomainError(
                "account_not_found", 404, "no account has this email: send an invitation instead"
            )
        return await _appoint(tx, manager.slug, user["_id"], body.role, body.email, manager.principal.sub)

    return OfficialOut.of(await mongo.transact(work))


async def _remove(tx: Tx, doc: Doc) -> None:
    await store.officials.delete(tx, doc["_id"])
    tx.emit("official.removed", doc["user_id"], _event_data(doc))


async def remove(mongo: Mongo, manager: CityOfficial, user_id: str) -> None:
    async def work(tx: Tx) -> None:
        doc = await store.official(tx, manager.slug, user_id)
        if doc is None:
            raise DomainError("official_not_found", 404, f"{user_id} is not an official of {manager.slug}")
        await _remove(tx, doc)

    await mongo.transact(work)


async def remove_every_role(tx: Tx, user_id: str) -> None:
    """The person's account is gone: they stop being an official anywhere."""
    for doc in await store.roles_of_user(tx, user_id):
        await store.officials.delete(tx, doc["_id"])
        # Without the email: the account and its address are deleted.
        data = {"user_id": user_id, "municipality": doc["municipality"], "role": doc["role"]}
        tx.emit("official.removed", user_id, data)


async def invite(mongo: Mongo, manager: CityOfficial, body: InviteIn) -> InvitationOut:
    """The token travels only in `official.invited` (the notifications service emails it):
    the inviter never sees it, so only the mailbox owner can accept."""
    assert manager.municipality is not None
    token, digest = new_invitation_token()
    now = utcnow()
    doc = {
        "_id": f"inv_{uuid.uuid4().hex}",
        "municipality": manager.slug,
        "email": body.email,
        "role": body.role,
        "digest": digest,
        "invited_by": manager.principal.sub,
        "created_at": now,
        "expires_at": now + INVITATION_TTL,
        "accepted_by": "",
    }

    async def work(tx: Tx) -> None:
        await store.invitations.insert(tx, doc)
        tx.emit(
            "official.invited",
            doc["_id"],
            {
                "invitation_id": doc["_id"],
                "municipality": manager.slug,
                "municipality_name": manager.municipality["name"],  # type: ignore[index]
                "email": body.email,
                "role": body.role,
                "token": token,
                "expires_at": doc["expires_at"].isoformat(),
            },
        )

    await mongo.transact(work)
    return InvitationOut(id=doc["_id"], email=body.email, role=body.role, expires_at=doc["expires_at"])


async def accept(mongo: Mongo, principal: Principal, token: str) -> OfficialOut:
    if principal.kind != "user":
        raise DomainError("forbidden", 403, "only a person can accept an invitation")
    digest = token_digest(token)

    async def work(tx: Tx) -> Doc:
        inv = await store.invitation_by_digest(tx, digest)
        if inv is None:
            raise DomainError("invitation_not_found", 404, "no invitation has this token")
        refusal = invitation_usable(inv["expires_at"], bool(inv.get("accepted_by")), utcnow())
        if refusal:
            raise DomainError("invitation_unusable", 410, refusal)
        # A forwarded token is not enough: the account's email (when known here) must match.
        user = await store.user(tx, principal.sub) or {}
        if user.get("email") and user["email"] != inv["email"].strip().lower():
            raise DomainError("wrong_invitee", 403, "this invitation was sent to another email address")
        await store.invitations.patch(tx, inv["_id"], {"accepted_by": principal.sub, "accepted_at": utcnow()})
        return await _appoint(
            tx, inv["municipality"], principal.sub, inv["role"], inv["email"], inv["invited_by"]
        )

    return OfficialOut.of(await mongo.transact(work))
