"""Bootstrap: settings, store, consumers (events -> jobs, events -> webhook deliveries),
background workers (fan-out, mailer, webhook sender) and the HTTP routers."""

from __future__ import annotations

from fastapi import FastAPI

from servicekit import parked
from servicekit.app import ServiceContext, create_service_app
from servicekit.mongo import Mongo

from . import api_inbox, api_preferences, fanout, mailer, store
from .handlers import handlers
from .mailer import Mailer
from .settings import Settings
from .webhooks import api as api_webhooks
from .webhooks import sender as webhook_sender
from .webhooks import store as webhook_store
from .webhooks.handlers import webhook_handlers

DEVELOPMENT_SECRET = Settings.model_fields["unsubscribe_secret"].default


async def _start(ctx: ServiceContext) -> None:
    settings = ctx.get(Settings)
    if settings.environment == "production" and settings.unsubscribe_secret == DEVELOPMENT_SECRET:
        raise RuntimeError("UNSUBSCRIBE_SECRET must be set in production")
    if settings.environment == "production" and sum(settings.webhook_retry_schedule_s) < 24 * 3600:
        raise RuntimeError("WEBHOOK_RETRY_SCHEDULE_S must span at least 24 hours in production")
    mongo = ctx.get(Mongo)
    await store.schedule_unscheduled_jobs(mongo)
    ctx.provide(Mailer.create(mongo, settings))


def build(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or Settings(),
        title="Civicfund notifications",
        routers=[api_inbox.router, api_preferences.router, api_webhooks.router, parked.router],
        consumers=[handlers, webhook_handlers],
        indexes=[*store.INDEXES, *webhook_store.INDEXES],
        collections=[*store.COLLECTIONS, *webhook_store.COLLECTIONS],
        background=[fanout.run, mailer.run, webhook_sender.run],
        on_startup=[_start],
    )


app = build()
