"""A city manager marks the pool that accepts residents' gifts (the pools' own resource)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ..access import Manager
from ..deps import MongoDep
from ..fields import Id
from ..matching.models import PoolOut
from . import usecases

router = APIRouter(tags=["match funding"])


class PoolChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accepts_gifts: bool = Field(
        description="residents may choose, when a project they back fails, to give their pledge to this pool"
    )


@router.patch("/municipalities/{slug}/pools/{pool_id}")
async def change_pool(pool_id: Id, body: PoolChange, manager: Manager, mongo: MongoDep) -> PoolOut:
    """Accept residents' gifts into the pool, or stop (a manager of the city; one pool per year
    and currency: 409 gifts_pool_exists). Setting the same value again changes nothing."""
    return await usecases.mark(mongo, manager, pool_id, body.accepts_gifts)
