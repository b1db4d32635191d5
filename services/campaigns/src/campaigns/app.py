from __future__ import annotations

from fastapi import FastAPI
from servicekit.app import ServiceContext, create_service_app

from . import api
from .settings import Settings
from .store import COLLECTIONS, INDEXES, CampaignStore


async def _start(ctx: ServiceContext) -> None:
    assert ctx.mongo is not None
    ctx.extras["store"] = CampaignStore(ctx.mongo)


def build(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or Settings(),
        title="Civicfund campaigns",
        routers=[api.router],
        indexes=INDEXES,
        collections=COLLECTIONS,
        on_startup=[_start],
    )


app = build()
