"""Match-funding routes: city pools (named, yearly budget) and commitments on granted labels."""

from __future__ import annotations

from fastapi import APIRouter

from ..access import Manager, ReviewerOrSystem
from ..deps import IdempotencyDep, IdempotencyKey, MongoDep, PrincipalDep
from ..fields import Id
from . import usecases
from .models import CommitmentOut, MatchIn, MatchPreviewOut, PoolIn, PoolOut, PoolsOut

router = APIRouter(tags=["match funding"])


@router.post("/municipalities/{slug}/pools", status_code=201)
async def create_pool(
    body: PoolIn, manager: Manager, mongo: MongoDep, idem: IdempotencyDep, idempotency_key: IdempotencyKey
) -> PoolOut:
    return await usecases.create_pool(mongo, idem, manager, body, idempotency_key)


@router.get("/municipalities/{slug}/pools")
async def list_pools(official: ReviewerOrSystem, mongo: MongoDep) -> PoolsOut:
    """The city's pools with what is committed and given (officials, the city's own systems)."""
    return await usecases.list_pools(mongo, official)


@router.post("/labels/{label_id}/commitments", status_code=201)
async def add_commitment(
    label_id: Id,
    body: MatchIn,
    principal: PrincipalDep,
    mongo: MongoDep,
    idem: IdempotencyDep,
    idempotency_key: IdempotencyKey,
) -> CommitmentOut:
    """Commit match funds to an already granted label (manager of the label's city)."""
    return await usecases.add_commitment(mongo, idem, principal, label_id, body, idempotency_key)


@router.post("/labels/{label_id}/match-preview")
async def preview_match(
    label_id: Id, body: MatchIn, principal: PrincipalDep, mongo: MongoDep
) -> MatchPreviewOut:
    """What a match rule would cost for the label's campaign at its current totals, before
    committing it (manager of the label's city; reserves nothing). Refused like a commitment
    would be for an unknown pool, another currency or an inconsistent rule."""
    return await usecases.preview_match(mongo, principal, label_id, body)


@router.get("/commitments/{commitment_id}")
async def get_commitment(commitment_id: Id, mongo: MongoDep) -> CommitmentOut:
    return await usecases.get_commitment(mongo, commitment_id)
