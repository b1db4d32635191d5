"""The web site: wiring only. Page modules live in `web.pages` (one per feature, each with a
`router`); templates in `templates/<feature>/`; French catalogs in `translations/fr/<feature>.po`."""

from __future__ import annotations

import importlib
import mimetypes
import pkgutil
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.app import ServiceContext, create_service_app

from . import errors, pages
from .gateway import Gateway
from .rendering import StaticAssets, Templates
from .settings import Settings
from .site import Web
from .store import COLLECTIONS, INDEXES, SessionStore


def page_routers() -> list[APIRouter]:
    routers = []
    for module in sorted(pkgutil.iter_modules(pages.__path__), key=lambda m: m.name):
        loaded = importlib.import_module(f"{pages.__name__}.{module.name}")
        router = getattr(loaded, "router", None)
        if isinstance(router, APIRouter):
            routers.append(router)
    return routers


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class SiteHeaders:
    """A strict Content-Security-Policy (no inline script; Stripe.js's origin only where it is
    needed) and the usual hardening headers on every answer of the site."""

    def __init__(self, app: ASGIApp, stripe_origin: str) -> None:
        self.app = app
        extra = f" {stripe_origin}" if stripe_origin else ""
        frames = extra or " 'none'"
        self.csp = (
            f"default-src 'self'; script-src 'self'{extra}; style-src 'self'; img-src 'self' data:; "
            f"font-src 'self'; connect-src 'self'{extra}; frame-src{frames}; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for key, value in (
                    (b"content-security-policy", self.csp),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ):
                    if key not in present:
                        headers.append((key, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def build(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    assets = StaticAssets()
    static = APIRouter()

    @static.get("/static/{version}/{name:path}", include_in_schema=False)
    async def static_file(version: str, name: str) -> Response:
        body = assets.content(version, name)
        if body is None:
            return Response(status_code=404)
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Response(
            body,
            media_type=media_type,
            headers={"cache-control": f"public, max-age={settings.static_max_age_s}, immutable"},
        )

    async def start(ctx: ServiceContext) -> None:
        assert ctx.mongo is not None
        templates = Templates(settings.locales, assets, {"settings": settings}, settings.display_timezone)
        gateway = Gateway(settings.gateway_url, settings.gateway_timeout_s, settings.site_proxy_secret)
        ctx.provide(Web(settings, templates, assets, gateway, SessionStore(ctx.mongo)))

    async def stop(ctx: ServiceContext) -> None:
        await ctx.get(Web).gateway.close()

    app = create_service_app(
        settings,
        title="Civicfund web site",
        routers=[static, *page_routers()],
        indexes=INDEXES,
        collections=COLLECTIONS,
        on_startup=[start],
        on_shutdown=[stop],
        middleware=[
            Middleware(SiteHeaders, stripe_origin=_origin(settings.stripe_js_url)),
            Middleware(GZipMiddleware, minimum_size=600),
        ],
        own_openapi=True,  # a site, not an API: no /docs of its own
        use_bus=False,
    )
    errors.install(app)
    return app


app = build()
