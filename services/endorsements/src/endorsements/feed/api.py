"""The city's public events feed: what `civicfund.public` carried for the city, in order,
paginated, so a city system that was down catches up over HTTPS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..access import ManagerOrSystem
from ..deps import MongoDep
from . import usecases
from .models import FeedOut

router = APIRouter(tags=["city systems"])


@router.get("/municipalities/{slug}/events", response_model=FeedOut)
async def city_events(
    reader: ManagerOrSystem,
    mongo: MongoDep,
    after: Annotated[
        str,
        Query(pattern=r"^[0-9]{1,18}$", description="a cursor from an earlier answer; 0 = from the start"),
    ] = "0",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> FeedOut:
    """The city's public events after `after`, oldest first (managers of the city and the
    city's own systems with their client token)."""
    return await usecases.read(mongo, reader, int(after), limit)
