from __future__ import annotations

from fastapi import FastAPI

from servicekit.app import create_service_app

from . import (
    api_call_results,
    api_calls,
    api_city_page,
    api_labels,
    api_municipalities,
    api_officials,
    api_pools,
    api_proposals,
    handlers,
)
from .settings import Settings
from .store import COLLECTIONS, INDEXES


def build(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or Settings(),
        title="Civicfund endorsements",
        routers=[
            api_municipalities.router,
            api_city_page.router,
            api_officials.router,
            api_labels.router,
            api_pools.router,
            api_calls.router,
            api_proposals.router,
            api_call_results.router,
        ],
        consumers=[handlers.handlers],
        indexes=INDEXES,
        collections=COLLECTIONS,
    )


app = build()
