"""Officials routes: appointment, removal, invitations."""

from __future__ import annotations

from fastapi import APIRouter

from ..access import OfficialsManager, OfficialsReader
from ..deps import MongoDep, PrincipalDep
from ..fields import UserId
from . import usecases
from .models import AcceptIn, AppointByEmailIn, AppointIn, InvitationOut, InviteIn, OfficialOut, OfficialsOut

router = APIRouter(tags=["officials"])


@router.get("/municipalities/{slug}/officials")
async def list_officials(official: OfficialsReader, mongo: MongoDep) -> OfficialsOut:
    return await usecases.list_officials(mongo, official)


@router.put("/municipalities/{slug}/officials/{user_id}")
async def appoint_official(
    user_id: UserId, body: AppointIn, manager: OfficialsManager, mongo: MongoDep
) -> OfficialOut:
    """Direct appointment (or a role change); the gateway puts the role in the user's next token."""
    return await usecases.appoint(mongo, manager, user_id, body)


@router.post("/municipalities/{slug}/officials", status_code=201)
async def appoint_official_by_email(
    body: AppointByEmailIn, manager: OfficialsManager, mongo: MongoDep
) -> OfficialOut:
    """Appoint (or change the role of) the person whose account has this email; 404
    `account_not_found` when nobody has one (invite them instead)."""
    return await usecases.appoint_by_email(mongo, manager, body)


@router.delete("/municipalities/{slug}/officials/{user_id}", status_code=204)
async def remove_official(user_id: UserId, manager: OfficialsManager, mongo: MongoDep) -> None:
    """Access ends at once (this service's officials list is the authority)."""
    await usecases.remove(mongo, manager, user_id)


@router.post("/municipalities/{slug}/invitations", status_code=201)
async def invite_official(body: InviteIn, manager: OfficialsManager, mongo: MongoDep) -> InvitationOut:
    """The token travels only in `official.invited` (the notifications service emails it):
    the inviter never sees it, so only the mailbox owner can accept."""
    return await usecases.invite(mongo, manager, body)


@router.post("/invitations/accept")
async def accept_invitation(body: AcceptIn, principal: PrincipalDep, mongo: MongoDep) -> OfficialOut:
    return await usecases.accept(mongo, principal, body.token)
