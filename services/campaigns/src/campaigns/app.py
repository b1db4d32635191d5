"""Wiring only: settings, the store, routers, event handlers, the deadline job."""

from __future__ import annotations

from fastapi import FastAPI

from servicekit import parked
from servicekit.app import ServiceContext, create_service_app

from . import (
    api_accounts,
    api_campaigns,
    api_follow,
    api_lifecycle,
    api_listing,
    api_meetups,
    api_needs,
    api_record,
    api_reports,
    api_updates,
    handlers,
    metrics,
    scheduler,
)
from .settings import Settings
from .store import COLLECTIONS, INDEXES, CampaignStore


async def _start(ctx: ServiceContext) -> None:
    assert ctx.mongo is not None
    store = ctx.provide(CampaignStore(ctx.mongo.db, ctx.mongo))
    await store.ensure_text_index()
    await store.ensure_listing_keys()
    ctx.mongo.after_commit.append(metrics.count_committed)


def build(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or Settings(),
        title="Civicfund campaigns",
        routers=[
            api_listing.router,
            api_campaigns.router,
            api_lifecycle.router,
            api_needs.router,
            api_record.router,
            api_updates.router,
            api_meetups.router,
            api_follow.router,
            api_accounts.router,
            api_reports.router,
            parked.router,
        ],
        consumers=[handlers.handlers, handlers.tally_handlers],
        indexes=INDEXES,
        collections=COLLECTIONS,
        background=[scheduler.run],
        on_startup=[_start],
    )


app = build()
