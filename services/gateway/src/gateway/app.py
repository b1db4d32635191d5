from __future__ import annotations

import httpx
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from servicekit.app import ServiceContext, create_service_app
from servicekit.signing import jwks

from . import api, api_accounts, api_clients, pages
from .accounts import Accounts
from .clients import CityClients
from .edge import BodyLimitMiddleware, SecurityHeadersMiddleware
from .fastpath import FastPath
from .handlers import handlers
from .keys import KeyRing, TokenIssuer
from .openapi_merge import MergedOpenApi
from .passwords import Passwords
from .proxy import UpstreamPool, UpstreamRoutes, make_client, make_transport
from .ratelimit import RateLimitMiddleware, RateLimits
from .settings import Settings
from .store import COLLECTIONS, INDEXES, AccountStore


async def _start(ctx: ServiceContext) -> None:
    """Wiring: every component is provided by its type (routes take them as typed dependencies,
    deps.py)."""
    settings: Settings = ctx.settings
    assert ctx.mongo is not None
    keys = ctx.provide(KeyRing(settings.jwt_keys_dir, settings.jwt_active_key))
    # The gateway verifies tokens on its own endpoints with its own keys, no HTTP round trip.
    ctx.verifier.set_jwks(jwks(keys.published))
    ctx.provide(UpstreamPool(settings))
    transport = ctx.provide(make_transport(settings))
    http = ctx.provide(make_client(settings, transport), as_type=httpx.AsyncClient)
    limits = ctx.provide(RateLimits(settings))
    store = ctx.provide(AccountStore(ctx.mongo.db))
    issuer = ctx.provide(TokenIssuer(keys, settings))
    passwords = Passwords(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)
    ctx.provide(Accounts(ctx.mongo, settings, store, passwords, keys, issuer, limits))
    ctx.provide(CityClients(ctx.mongo, settings, store, issuer))
    ctx.provide(MergedOpenApi(http, settings.upstreams(), settings.openapi_cache_s))


async def _stop(ctx: ServiceContext) -> None:
    await ctx.get(httpx.AsyncClient).aclose()
    await ctx.get(UpstreamPool).aclose()


def build(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(
        settings,
        title="Civicfund gateway",
        # Order matters: the gateway's own routes before the `/api/v1/{service}/...` catch-all.
        routers=[api_accounts.router, api_clients.router, pages.router, api.router],
        consumers=[handlers],
        indexes=INDEXES,
        collections=COLLECTIONS,
        on_startup=[_start],
        on_shutdown=[_stop],
        # Security headers, CORS, body limit, rate limit, then the fast path to upstreams.
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
                expose_headers=["X-Request-ID", "Retry-After"],
                max_age=600,
            ),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
            Middleware(RateLimitMiddleware),
            Middleware(UpstreamRoutes),
        ],
        own_openapi=True,  # one merged document for the whole platform (api.py)
    )
    app.state.service_name = settings.service_name
    return app


def build_asgi(settings: Settings | None = None) -> FastPath:
    """What the server runs: proxied requests skip the app's middleware stack and do the same
    work in one layer (fastpath.py); everything else goes to the app."""
    return FastPath(build(settings))


app = build()
asgi = FastPath(app)
