from __future__ import annotations

from fastapi import FastAPI
from servicekit.app import create_service_app

from . import api
from .handlers import handlers
from .settings import Settings
from .store import COLLECTIONS, INDEXES


def build(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or Settings(),
        title="Civicfund notifications",
        routers=[api.router],
        consumers=[handlers],
        indexes=INDEXES,
        collections=COLLECTIONS,
    )


app = build()
