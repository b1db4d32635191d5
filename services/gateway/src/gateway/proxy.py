"""Reverse proxy `/api/v1/<service>/<path>` -> `<upstream>/<path>` over pooled connections.

httpx's own pool collapses under concurrency (encode/httpx#3215), so the client keeps
httpx's API on the aiohttp transport. Bodies stream both ways; hop-by-hop headers are
stripped; `X-Request-ID` and `traceparent` travel on; the bearer token is forwarded untouched
(services verify it themselves). A down or slow upstream gives a fast 503/504 JSON error.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import re
import secrets

import aiohttp
import httpx
from fastapi import Request
from httpx_aiohttp import AiohttpTransport
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.errors import error_response
from servicekit.logging import get_logger

from .domain import route_timeout
from .settings import Settings

log = get_logger(__name__)

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
BODILESS_METHODS = {*SAFE_METHODS, "TRACE"}
BUFFER_MAX_BYTES = 256 * 1024
HEX32 = re.compile(r"[0-9a-f]{32}")


def make_transport(settings: Settings) -> AiohttpTransport:
    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=settings.upstream_max_connections, limit_per_host=0, keepalive_timeout=30, ttl_dns_cache=60
        )
        # No cookie jar: a proxy must never keep one user's cookies for the next request.
        return aiohttp.ClientSession(
            connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
        )

    return AiohttpTransport(client=session)


def make_client(settings: Settings, transport: AiohttpTransport) -> httpx.AsyncClient:
    """For the gateway's own calls to services (page parts, API documents); cookies refused."""
    timeout = httpx.Timeout(settings.upstream_timeout_s, connect=settings.upstream_connect_timeout_s)
    jar = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(transport=transport, timeout=timeout, cookies=jar)


def new_traceparent(request_id: str | None) -> str:
    """A W3C trace context for requests that arrive without one; the trace id is the request id
    when that is already 32 hex digits (ours are), so logs and traces line up."""
    trace_id = (
        request_id if request_id and re.fullmatch(r"[0-9a-f]{32}", request_id) else secrets.token_hex(16)
    )
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


def forward_headers(request: Request) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    # The transport would otherwise ask for gzip itself and pass a compressed body to a client
    # that never asked for one.
    headers.setdefault("accept-encoding", "identity")
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        headers["x-request-id"] = request_id
    if "traceparent" not in headers:
        headers["traceparent"] = new_traceparent(request_id)
    client = request.client.host if request.client else ""
    prior = request.headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{prior}, {client}" if prior else client
    headers["x-forwarded-proto"] = request.url.scheme
    return headers


async def proxy(
    request: Request,
    transport: httpx.AsyncBaseTransport,
    upstream: str,
    path: str,
    timeout: float,
    connect_timeout: float,
) -> Response:
    """Straight to the transport with httpx's Request/Response: the client's redirect, auth and
    cookie handling are not wanted in a proxy and cost a third of its time."""
    url = f"{upstream.rstrip('/')}/{path.lstrip('/')}"
    query = request.scope.get("query_string", b"")
    if query:
        # Forwarded as received (parsing and re-encoding costs time and can change it).
        url = f"{url}?{query.decode('latin-1')}"
    method = request.method
    headers = forward_headers(request)
    # GETs are retried once on connection errors (safe); bodies are streamed, never retried.
    attempts = 2 if method in SAFE_METHODS else 1
    content = None if method in BODILESS_METHODS else request.stream()
    if content is None:
        # A body the client sent anyway is not forwarded, so neither is its length: an upstream
        # that answers before reading it would take those bytes as the next request on the
        # pooled connection.
        headers.pop("content-length", None)
    # As bytes (Starlette decoded them as latin-1): httpx would encode str values as ASCII and
    # fail with a 500 on any other byte a client may send.
    raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    for attempt in range(1, attempts + 1):
        try:
            upstream_request = httpx.Request(
                method,
                url,
                headers=raw_headers,
                content=content,
                extensions={
                    "timeout": {
                        "connect": connect_timeout,
                        "read": timeout,
                        "write": timeout,
                        "pool": connect_timeout,
                    }
                },
            )
            upstream_response = await transport.handle_async_request(upstream_request)
            break
        except (
            httpx.ConnectError,
            httpx.ConnectTimeout,
            aiohttp.ClientConnectionError,
            ConnectionError,
        ) as exc:
            # (httpx-aiohttp reports a refused or dropped connection as ConnectTimeout.)
            if attempt < attempts:
                await asyncio.sleep(0.05)
                continue
            log.warning("upstream_unavailable", url=url, error=str(exc))
            return error_response(
                request, 503, "unavailable", "the service is unavailable, try again shortly"
            )
        except httpx.TimeoutException:
            log.warning("upstream_timeout", url=url)
            return error_response(request, 504, "upstream_timeout", "the service did not answer in time")
        except (httpx.TransportError, aiohttp.ClientError, OSError) as exc:
            log.warning("upstream_unavailable", url=url, error=str(exc))
            return error_response(
                request, 503, "unavailable", "the service is unavailable, try again shortly"
            )
    # The gateway's own middleware sets X-Request-ID (the same id the upstream echoes).
    # A list, not a dict: several Set-Cookie headers (the site's) must stay separate headers.
    response_headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in upstream_response.headers.multi_items()
        if k.lower() not in HOP_BY_HOP and k.lower() != "x-request-id"
    ]
    length = upstream_response.headers.get("content-length", "")
    if length.isdigit() and int(length) <= BUFFER_MAX_BYTES:
        # Small answers with a known length (nearly all API answers) are read whole: a streaming
        # response costs a task group and extra writes per request, several times the proxying.
        try:
            # Raw bytes: `aread()` would decode a gzip body while Content-Length still counts it
            # compressed (the site's pages are gzipped).
            body = b"".join([chunk async for chunk in upstream_response.aiter_raw()])
        except (httpx.HTTPError, aiohttp.ClientError, OSError) as exc:
            log.warning("upstream_read_failed", url=url, error=str(exc))
            return error_response(
                request, 503, "unavailable", "the service is unavailable, try again shortly"
            )
        finally:
            await upstream_response.aclose()
        response = Response(body, status_code=upstream_response.status_code)
        response.raw_headers = [
            *(h for h in response.raw_headers if h[0] == b"content-length"),
            *(h for h in response_headers if h[0] != b"content-length"),
        ]
        return response
    streaming = StreamingResponse(
        upstream_response.aiter_raw(),
        status_code=upstream_response.status_code,
        background=BackgroundTask(upstream_response.aclose),
    )
    streaming.raw_headers = response_headers
    return streaming


# The gateway's own paths; every other path is a page of the web site.
GATEWAY_PATHS = {"/oauth/token", "/webhooks/stripe", "/openapi.json", "/docs", "/redoc", "/livez", "/readyz",
                 "/metrics"}  # fmt: skip
GATEWAY_PREFIXES = ("/api/", "/.well-known/", "/docs/", "/oauth/")
SITE_METHODS = {"GET", "HEAD", "POST"}


def is_site_path(path: str) -> bool:
    return path not in GATEWAY_PATHS and not path.startswith(GATEWAY_PREFIXES)


class UpstreamRoutes:
    """`/api/v1/<service>/...` for a known service goes straight to `proxy`, ahead of FastAPI's
    router: matching every route of every router costs about half a millisecond per request,
    as much as the proxying itself. The gateway's own `/api/v1/auth|pages/...` and unknown names
    fall through to the app (its catch-all route answers 404 for unknown services). Every path
    that is not the gateway's (`/`, `/campaigns/...`, `/static/...`) is the web site's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = scope["app"].state.ctx
        if is_site_path(path):
            if scope["method"] not in SITE_METHODS:
                await self.app(scope, receive, send)
                return
            upstream, rest, timeout = ctx.settings.upstream_web, path, ctx.settings.upstream_timeout_s
            raw = scope.get("raw_path")
            if isinstance(raw, bytes):
                rest = raw.decode("ascii", errors="replace")
        elif path.startswith("/api/v1/"):
            service, _, rest = path[len("/api/v1/") :].partition("/")
            upstream = ctx.settings.upstreams().get(service)
            if upstream is None:
                await self.app(scope, receive, send)
                return
            # Every method goes on: the service knows which ones its path takes (405 + Allow).
            raw = scope.get("raw_path")
            prefix = f"/api/v1/{service}/".encode()
            if isinstance(raw, bytes) and raw.startswith(prefix):
                rest = raw[len(prefix) :].decode("ascii", errors="replace")
            timeout = route_timeout(
                ctx.settings.route_timeouts, service, rest, ctx.settings.upstream_timeout_s
            )
        else:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await proxy(
                request,
                ctx.get(AiohttpTransport),
                upstream,
                rest,
                timeout,
                ctx.settings.upstream_connect_timeout_s,
            )
        except Exception:
            log.exception("proxy_failed", path=path)
            response = error_response(request, 500, "internal_error", "internal error")
        await response(scope, receive, send)
