from __future__ import annotations

from fastapi import FastAPI
from servicekit.app import create_service_app

from .settings import Settings


def build(settings: Settings | None = None) -> FastAPI:
    # Walking skeleton: plumbing only (health, metrics, outbox relay); the real service
    # arrives with its own issue.
    return create_service_app(settings or Settings(), title="Civicfund payments")


app = build()
