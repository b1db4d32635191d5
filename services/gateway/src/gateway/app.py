from __future__ import annotations

from servicekit.app import ServiceContext, create_service_app

from . import api
from .keys import KeyRing
from .proxy import make_client
from .settings import Settings


async def _start(ctx: ServiceContext) -> None:
    ctx.extras["keys"] = KeyRing(ctx.settings.jwt_keys_dir, ctx.settings.jwt_active_key)
    ctx.extras["http"] = make_client(ctx.settings)
    # The gateway verifies tokens (rate limits per user) with its own keys, no HTTP round trip.
    from servicekit.signing import jwks

    ctx.verifier.set_jwks(jwks(ctx.extras["keys"].published))


async def _stop(ctx: ServiceContext) -> None:
    await ctx.extras["http"].aclose()


def build(settings: Settings | None = None):  # type: ignore[no-untyped-def]
    settings = settings or Settings()
    return create_service_app(
        settings,
        title="Civicfund gateway",
        routers=[api.router],
        on_startup=[_start],
        on_shutdown=[_stop],
    )


app = build()
