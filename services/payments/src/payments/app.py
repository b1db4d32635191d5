"""Wiring only: settings, the store, the use cases (as typed components), routers, event
handlers and the background jobs."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from servicekit import parked
from servicekit.app import ServiceContext, create_service_app
from servicekit.idempotency import Idempotency
from servicekit.jobs import every
from servicekit.logging import get_logger

from . import (
    api_ledger,
    api_payouts,
    api_pledges,
    api_receipts,
    api_refunds,
    api_subscriptions,
    api_tranches,
    api_webhooks,
    handlers,
)
from .accounts import AccountErasures
from .charging import Charger
from .city_dues import api as api_city_dues
from .city_dues import handlers as city_dues_handlers
from .city_dues.store import COLLECTIONS as DUE_COLLECTIONS
from .city_dues.store import INDEXES as DUE_INDEXES
from .city_dues.usecases import CityDues
from .disputes import Disputes
from .ledger import LedgerBook
from .payouts import Payouts
from .pledges import PledgeBook
from .pool_gifts import api as api_pool_gifts
from .pool_gifts import handlers as pool_gift_handlers
from .pool_gifts.store import COLLECTIONS as GIFT_COLLECTIONS
from .pool_gifts.store import INDEXES as GIFT_INDEXES
from .pool_gifts.usecases import PoolGifts
from .receipts import Receipts
from .receipts_store import COLLECTIONS as RECEIPT_COLLECTIONS
from .receipts_store import INDEXES as RECEIPT_INDEXES
from .refunds import Refunds
from .settings import Settings
from .store import COLLECTIONS, INDEXES, Store
from .stripe_api import StripeApi
from .subscriptions import CitySubscriptions
from .tranches import Tranches
from .tranches_store import COLLECTIONS as TRANCHE_COLLECTIONS
from .tranches_store import INDEXES as TRANCHE_INDEXES
from .webhooks import StripeWebhooks

log = get_logger(__name__)


async def _start(ctx: ServiceContext) -> None:
    assert ctx.mongo is not None
    settings = ctx.get(Settings)
    store = ctx.provide(Store(ctx.mongo.db))
    book = ctx.provide(PledgeBook(settings, ctx.mongo, store, StripeApi(settings), ctx.get(Idempotency)))
    subscriptions = ctx.provide(CitySubscriptions(book))
    ctx.provide(LedgerBook(book))
    ctx.provide(Charger(book))
    ctx.provide(PoolGifts(book))
    payouts = ctx.provide(Payouts(book))
    disputes = ctx.provide(Disputes(book, payouts))
    ctx.provide(Refunds(book))
    ctx.provide(StripeWebhooks(settings, book, subscriptions, payouts, disputes))
    ctx.provide(AccountErasures(book))
    ctx.provide(CityDues(book))
    ctx.provide(Receipts(book))
    ctx.provide(Tranches(book))


async def _stripe_setup(ctx: ServiceContext, stop: asyncio.Event) -> None:
    """Plans (idempotent, retried until Stripe answers) and, on localstripe only, webhook
    registration: real Stripe endpoints are configured in the dashboard."""
    settings = ctx.get(Settings)
    stripe_api = ctx.get(PledgeBook).stripe
    if stripe_api.local and settings.stripe_local_webhook:
        url = (
            settings.stripe_local_webhook_url
            or f"http://{settings.http_host}:{settings.http_port}/webhooks/stripe"
        )
        try:
            await stripe_api.register_local_webhook(url)
        except Exception as exc:
            log.warning("localstripe_webhook_registration_failed", error=str(exc))
    await ctx.get(CitySubscriptions).ensure_plans_forever(stop)


async def _stripe_events(ctx: ServiceContext, stop: asyncio.Event) -> None:
    """Stored webhook deliveries, processed as they arrive (a servicekit WorkQueue)."""
    await ctx.get(StripeWebhooks).run(stop)


async def _erasures(ctx: ServiceContext, stop: asyncio.Event) -> None:
    """Stripe customers of deleted accounts, deleted at Stripe (a servicekit WorkQueue)."""
    await ctx.get(AccountErasures).run(stop)


async def _charging(ctx: ServiceContext, stop: asyncio.Event) -> None:
    """Charges, refunds, grace periods and the sweeper, each every WORKER_TICK_S."""
    tick = ctx.get(Settings).worker_tick_s
    # Gifts to a city's pool are charged like the charger's off-session charges (pool_gifts/).
    jobs = {**ctx.get(Charger).jobs(), **ctx.get(PoolGifts).jobs()}
    await asyncio.gather(*(every(tick, job, stop, name=f"payments-{name}") for name, job in jobs.items()))


async def _payouts(ctx: ServiceContext, stop: asyncio.Event) -> None:
    """Campaigns whose charges settled get their payout; unsettled transfers are re-checked."""
    tick = ctx.get(Settings).worker_tick_s
    # Milestones whose objection window ended release their tranche (tranches.py).
    jobs = {**ctx.get(Payouts).jobs(), **ctx.get(Tranches).jobs()}
    await asyncio.gather(*(every(tick, job, stop, name=f"payments-{name}") for name, job in jobs.items()))


async def _city_dues(ctx: ServiceContext, stop: asyncio.Event) -> None:
    """Cities' dues billed on their Stripe customer (a servicekit WorkQueue)."""
    await ctx.get(CityDues).run(stop, ctx.get(Settings).worker_tick_s)


def build(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or Settings(),
        title="Civicfund payments",
        routers=[
            api_pledges.router,
            api_ledger.router,
            api_subscriptions.router,
            api_payouts.router,
            api_refunds.router,
            api_receipts.router,
            api_city_dues.router,
            api_tranches.router,
            api_pool_gifts.router,
            api_webhooks.router,
            parked.router,
        ],
        consumers=[
            handlers.campaign_handlers,
            handlers.municipality_handlers,
            handlers.match_handlers,
            handlers.account_handlers,
            city_dues_handlers.handlers,
            handlers.tranche_handlers,
            pool_gift_handlers.handlers,
        ],
        indexes=[*INDEXES, *RECEIPT_INDEXES, *DUE_INDEXES, *TRANCHE_INDEXES, *GIFT_INDEXES],
        collections=[
            *COLLECTIONS,
            *RECEIPT_COLLECTIONS,
            *DUE_COLLECTIONS,
            *TRANCHE_COLLECTIONS,
            *GIFT_COLLECTIONS,
        ],
        background=[_stripe_setup, _stripe_events, _charging, _erasures, _city_dues, _payouts],
        on_startup=[_start],
    )


app = build()
