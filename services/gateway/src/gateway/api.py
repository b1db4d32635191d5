"""Gateway HTTP surface: JWKS, routing to the services, Stripe webhooks."""

from __future__ import annotations

from fastapi import APIRouter, Request
from servicekit.errors import ApiError
from servicekit.signing import jwks
from starlette.responses import Response

from .proxy import proxy

router = APIRouter()


@router.get("/.well-known/jwks.json", tags=["auth"])
async def jwks_document(request: Request) -> dict:
    return jwks(request.app.state.ctx.extras["keys"].published)


@router.api_route(
    "/api/v1/{service}/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def route_to_service(service: str, path: str, request: Request) -> Response:
    ctx = request.app.state.ctx
    upstream = ctx.settings.upstreams().get(service)
    if upstream is None:
        raise ApiError(404, "not_found", f"no service named {service!r}")
    return await proxy(request, ctx.extras["http"], upstream, path)


@router.post("/webhooks/stripe", include_in_schema=False)
async def stripe_webhook(request: Request) -> Response:
    # Raw body and Stripe-Signature untouched: payments verifies the signature over the bytes.
    ctx = request.app.state.ctx
    return await proxy(request, ctx.extras["http"], ctx.settings.upstream_payments, "/webhooks/stripe")
