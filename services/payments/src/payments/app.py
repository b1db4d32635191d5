from __future__ import annotations

import asyncio
import contextlib

from fastapi import FastAPI

from servicekit.app import ServiceContext, create_service_app
from servicekit.logging import get_logger

from . import api_ledger, api_pledges, api_subscriptions, handlers, webhooks
from .charging import Charger
from .pledges import PledgeBook
from .settings import Settings
from .store import COLLECTIONS, INDEXES, Store
from .stripe_api import StripeApi
from .subscriptions import CitySubscriptions

log = get_logger(__name__)


async def _start(ctx: ServiceContext) -> None:
    assert ctx.mongo is not None
    settings: Settings = ctx.settings
    store = Store(ctx.mongo)
    book = PledgeBook(settings, ctx.mongo, store, StripeApi(settings))
    subscriptions = CitySubscriptions(book)
    ctx.extras.update(
        store=store,
        pledges=book,
        subscriptions=subscriptions,
        charger=Charger(book),
        webhooks=webhooks.WebhookProcessor(book, subscriptions),
    )


async def _stop(ctx: ServiceContext) -> None:
    await ctx.extras["webhooks"].close()


async def _stripe_setup(ctx: ServiceContext, stop: asyncio.Event) -> None:
    """Plans (idempotent, retried until Stripe answers) and, on localstripe only, webhook
    registration: real Stripe endpoints are configured in the dashboard."""
    settings: Settings = ctx.settings
    book: PledgeBook = ctx.extras["pledges"]
    if book.stripe.local and settings.stripe_local_webhook:
        url = (
            settings.stripe_local_webhook_url
            or f"http://{settings.http_host}:{settings.http_port}/webhooks/stripe"
        )
        try:
            await book.stripe.register_local_webhook(url)
        except Exception as exc:
            log.warning("localstripe_webhook_registration_failed", error=str(exc))
    await ctx.extras["subscriptions"].ensure_plans_forever(stop)


async def _worker(ctx: ServiceContext, stop: asyncio.Event) -> None:
    """Charges, refunds, grace periods, the sweeper and stored webhooks, every tick."""
    settings: Settings = ctx.settings
    charger: Charger = ctx.extras["charger"]
    processor: webhooks.WebhookProcessor = ctx.extras["webhooks"]
    while not stop.is_set():
        try:
            await processor.drain()
            await charger.run_once()
        except Exception:
            log.exception("payments_worker_error")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.worker_tick_s)


def build(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or Settings(),
        title="Civicfund payments",
        routers=[api_pledges.router, api_ledger.router, api_subscriptions.router, webhooks.router],
        consumers=[handlers.campaign_handlers, handlers.municipality_handlers, handlers.match_handlers],
        indexes=INDEXES,
        collections=COLLECTIONS,
        on_startup=[_start],
        on_shutdown=[_stop],
        background=[_stripe_setup, _worker],
    )


app = build()
