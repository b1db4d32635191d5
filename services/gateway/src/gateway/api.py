"""Gateway HTTP surface for routing: JWKS, the merged API document, `/api/v1/<service>/...`
to the services, and Stripe webhooks to payments."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from servicekit.errors import DomainError
from servicekit.openapi import allowed_methods
from servicekit.signing import jwks

from .domain import route_timeout
from .keys import KeyRing
from .openapi_merge import MergedOpenApi
from .proxy import Forwarded, UpstreamPool

router = APIRouter()


class Jwk(BaseModel):
    model_config = ConfigDict(extra="allow")
    kty: str
    crv: str
    x: str
    kid: str
    alg: str | None = None
    use: str | None = None


class Jwks(BaseModel):
    keys: list[Jwk]


@router.get("/.well-known/jwks.json", tags=["auth"], response_model=Jwks)
async def jwks_document(request: Request) -> dict:
    """The public keys of every token this gateway signs (during a rotation: old and new)."""
    return jwks(request.app.state.ctx.get(KeyRing).published)


@router.get("/openapi.json", include_in_schema=False)
async def merged_openapi(request: Request) -> JSONResponse:
    app = request.app
    return JSONResponse(await app.state.ctx.get(MergedOpenApi).document(app.openapi()))


# Swagger UI and ReDoc from the gateway itself (fastapi-offline ships their files): the
# document must open on a machine without internet.
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
DOCS_FILES = {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"}


@router.get("/docs", include_in_schema=False)
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Civicfund API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon.png",
    )


@router.get("/redoc", include_in_schema=False)
async def redoc() -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="Civicfund API",
        redoc_js_url="/docs/assets/redoc.standalone.js",
        redoc_favicon_url="/docs/assets/favicon.png",
        with_google_fonts=False,
    )


@router.get("/docs/assets/{name}", include_in_schema=False)
async def docs_asset(name: str) -> Response:
    if name not in DOCS_FILES:
        raise DomainError("not_found", 404, "no such file")
    return FileResponse(DOCS_ASSETS / name, headers={"cache-control": "public, max-age=86400"})


# Requests for known services are proxied by proxy.UpstreamRoutes before routing; this route
# answers the rest (unknown service names) and gives metrics a route template.
@router.api_route(
    "/api/v1/{service}/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def route_to_service(service: str, path: str, request: Request) -> Response:
    ctx = request.app.state.ctx
    upstream = ctx.settings.upstreams().get(service)
    if upstream is None:
        # `/api/v1/auth/login` with PUT lands here: the path is the gateway's own, the method is not.
        allowed = allowed_methods(request.app, request.scope)
        if allowed:
            raise DomainError(
                "method_not_allowed", 405, "method not allowed", headers={"Allow": ", ".join(allowed)}
            )
        raise DomainError("not_found", 404, f"no service named {service!r}")
    timeout = route_timeout(ctx.settings.route_timeouts, service, path, ctx.settings.upstream_timeout_s)
    return Forwarded(
        ctx.get(UpstreamPool),
        upstream,
        _raw_rest(request, service, path),
        timeout,
        ctx.settings.upstream_connect_timeout_s,
    )


def _raw_rest(request: Request, service: str, path: str) -> str:
    """The rest of the path exactly as the client encoded it: decoding and re-encoding would turn
    `%2F` into a separator and make control characters unsendable."""
    raw = request.scope.get("raw_path")
    prefix = f"/api/v1/{service}/".encode()
    if isinstance(raw, bytes) and raw.startswith(prefix):
        return raw[len(prefix) :].decode("ascii", errors="replace")
    return path


@router.post("/webhooks/stripe", include_in_schema=False)
async def stripe_webhook(request: Request) -> Response:
    # Raw body and Stripe-Signature untouched: payments verifies the signature over the bytes.
    ctx = request.app.state.ctx
    timeout = route_timeout(
        ctx.settings.route_timeouts, "payments", "webhooks/stripe", ctx.settings.upstream_timeout_s
    )
    return Forwarded(
        ctx.get(UpstreamPool),
        ctx.settings.upstream_payments,
        "/webhooks/stripe",
        timeout,
        ctx.settings.upstream_connect_timeout_s,
    )
