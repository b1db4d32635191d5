"""Wiring: settings, the database (with its start-up migration), routers, handlers."""

from __future__ import annotations

from fastapi import FastAPI

from servicekit import parked
from servicekit.app import ServiceContext, create_service_app

from . import handlers, store
from .calls import api as calls_api
from .feed import api as feed_api
from .feed import store as feed_store
from .labels import api as labels_api
from .matching import api as matching_api
from .municipalities import api as municipalities_api
from .officials import api as officials_api
from .pool_gifts import api as pool_gifts_api
from .pool_gifts import handlers as pool_gifts_handlers
from .pool_gifts import store as pool_gifts_store
from .residency import api as residency_api
from .residency import store as residency_store
from .settings import Settings


async def _migrate(ctx: ServiceContext) -> None:
    assert ctx.mongo is not None
    await store.migrate(ctx.mongo.db)


def build(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or Settings(),
        title="Civicfund endorsements",
        routers=[
            municipalities_api.router,
            officials_api.router,
            labels_api.router,
            matching_api.router,
            pool_gifts_api.router,
            calls_api.router,
            feed_api.router,
            residency_api.router,
            parked.router,
        ],
        consumers=[handlers.handlers, pool_gifts_handlers.handlers],
        indexes=[*store.INDEXES, *feed_store.INDEXES, *residency_store.INDEXES],
        collections=[
            *store.COLLECTIONS,
            *feed_store.COLLECTIONS,
            *residency_store.COLLECTIONS,
            *pool_gifts_store.COLLECTIONS,
        ],
        on_startup=[_migrate],
    )


app = build()
