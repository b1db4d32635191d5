"""Reverse proxy `/api/v1/<service>/<path>` -> `<upstream>/<path>` over pooled connections.

Straight ASGI on aiohttp's client: the request is built from the ASGI scope's raw headers and
the answer written back as ASGI messages, with no framework request/response objects in
between (httpx's models on top of aiohttp, then Starlette's, cost more than the proxying
itself; httpx's own pool collapses under concurrency, encode/httpx#3215). Bodies stream both
ways; hop-by-hop headers are stripped; `X-Request-ID` and `traceparent` travel on; the bearer
token is forwarded untouched (services verify it themselves). A down or slow upstream gives a
fast 503/504 JSON error.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import random
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from yarl import URL

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
_HOP_BY_HOP_B = {h.encode() for h in HOP_BY_HOP}
# Dropped from what goes upstream besides hop-by-hop: the gateway sets them itself.
_REPLACED_B = {b"x-request-id", b"x-forwarded-proto"}
# Dropped from the upstream's answer: the gateway sets X-Request-ID, and its own HTTP server
# writes Date and Server (the upstream's would make two Date headers, which HTTP forbids).
_UPSTREAM_DROPPED_B = {b"x-request-id", b"date", b"server"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
BODILESS_METHODS = {*SAFE_METHODS, "TRACE"}
BUFFER_MAX_BYTES = 256 * 1024
STREAM_CHUNK_BYTES = 64 * 1024
HEX32 = re.compile(r"[0-9a-f]{32}")


def _session(settings: Settings) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=settings.upstream_max_connections, limit_per_host=0, keepalive_timeout=30, ttl_dns_cache=60
    )
    # No cookie jar: a proxy must never keep one user's cookies for the next request.
    return aiohttp.ClientSession(
        connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
    )


def make_transport(settings: Settings) -> AiohttpTransport:
    return AiohttpTransport(client=lambda: _session(settings))


def make_client(settings: Settings, transport: AiohttpTransport) -> httpx.AsyncClient:
    """For the gateway's own calls to services (page parts, API documents); cookies refused."""
    timeout = httpx.Timeout(settings.upstream_timeout_s, connect=settings.upstream_connect_timeout_s)
    jar = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(transport=transport, timeout=timeout, cookies=jar)


class UpstreamPool:
    """The proxy's keep-alive connections to every upstream (one aiohttp session, made on first
    use inside the running loop)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float, float], aiohttp.ClientTimeout] = {}

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = _session(self.settings)
        return self._session

    def timeout(self, read: float, connect: float) -> aiohttp.ClientTimeout:
        # `sock_read` bounds each wait for the upstream (as httpx's read timeout did), `connect`
        # the wait for a pooled connection plus connecting.
        found = self._timeouts.get((read, connect))
        if found is None:
            found = aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=connect)
            self._timeouts[(read, connect)] = found
        return found

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def new_traceparent(request_id: str | None) -> str:
    """A W3C trace context for requests that arrive without one; the trace id is the request id
    when that is already 32 hex digits (ours are), so logs and traces line up. (Trace and span
    ids must be unique, not secret: no system call for them.)"""
    trace_id = request_id if request_id and HEX32.fullmatch(request_id) else f"{random.getrandbits(128):032x}"
    return f"00-{trace_id}-{random.getrandbits(64):016x}-01"


def forward_headers(scope: Scope, with_body: bool) -> list[tuple[str, str]]:
    """The client's headers for the upstream, from the scope's raw list (several headers of one
    name stay several). Values as str (decoded as latin-1, as received); the client library
    writes them as UTF-8."""
    headers: list[tuple[str, str]] = []
    prior_xff = None
    has_traceparent = has_accept_encoding = False
    for key, value in scope["headers"]:
        if key in _HOP_BY_HOP_B or key in _REPLACED_B:
            continue
        if key == b"x-forwarded-for":
            if prior_xff is None:
                prior_xff = value.decode("latin-1")
            continue
        if key == b"content-length" and not with_body:
            # A body the client sent anyway is not forwarded, so neither is its length: an
            # upstream that answers before reading it would take those bytes as the next
            # request on the pooled connection.
            continue
        if key == b"traceparent":
            has_traceparent = True
        elif key == b"accept-encoding":
            has_accept_encoding = True
        headers.append((key.decode("latin-1"), value.decode("latin-1")))
    if not has_accept_encoding:
        # The client library would otherwise ask for gzip itself and pass a compressed body to a
        # client that never asked for one.
        headers.append(("accept-encoding", "identity"))
    request_id = scope.get("state", {}).get("request_id")
    if request_id:
        headers.append(("x-request-id", request_id))
    if not has_traceparent:
        headers.append(("traceparent", new_traceparent(request_id)))
    client = scope.get("client")
    host = client[0] if client else ""
    headers.append(("x-forwarded-for", f"{prior_xff}, {host}" if prior_xff else host))
    headers.append(("x-forwarded-proto", scope.get("scheme", "http")))
    return headers


def log_ids(scope: Scope) -> dict[str, Any]:
    """The request's ids for a log line: the fast path (fastpath.py) does not bind them in
    contextvars for every request, so lines written while proxying name them themselves."""
    request_id = scope.get("state", {}).get("request_id")
    return {"request_id": request_id, "correlation_id": request_id} if request_id else {}


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _error(scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str) -> None:
    await error_response(Request(scope), status, code, message)(scope, receive, send)


async def forward(
    scope: Scope,
    receive: Receive,
    send: Send,
    pool: UpstreamPool,
    upstream: str,
    path: str,
    timeout: float,
    connect_timeout: float,
) -> None:
    """Send the request in `scope` to `upstream`/`path` and its answer back to the client."""
    url = f"{upstream.rstrip('/')}/{path.lstrip('/')}"
    query = scope.get("query_string", b"")
    if query:
        url = f"{url}?{query.decode('latin-1')}"
    method = scope["method"]
    with_body = method not in BODILESS_METHODS
    headers = forward_headers(scope, with_body)
    # GETs are retried once on connection errors (safe); bodies are streamed, never retried.
    attempts = 2 if method in SAFE_METHODS else 1
    session = pool.session()
    client_timeout = pool.timeout(timeout, connect_timeout)
    for attempt in range(1, attempts + 1):
        try:
            # `encoded=True`: path and query go on exactly as the client encoded them (decoding
            # and re-encoding would turn `%2F` into a separator or change the query).
            upstream_response = await session.request(
                method,
                URL(url, encoded=True),
                headers=headers,
                data=_body(receive) if with_body else None,
                allow_redirects=False,
                compress=False,
                timeout=client_timeout,
            )
            break
        except aiohttp.ConnectionTimeoutError as exc:
            if attempt < attempts:
                await asyncio.sleep(0.05)
                continue
            log.warning("upstream_unavailable", url=url, error=str(exc), **log_ids(scope))
            await _error(
                scope, receive, send, 503, "unavailable", "the service is unavailable, try again shortly"
            )
            return
        except (aiohttp.ServerTimeoutError, TimeoutError):
            log.warning("upstream_timeout", url=url, **log_ids(scope))
            await _error(scope, receive, send, 504, "upstream_timeout", "the service did not answer in time")
            return
        except (aiohttp.ClientConnectionError, ConnectionError) as exc:
            # Refused, reset, or a pooled connection the upstream had closed.
            if attempt < attempts:
                await asyncio.sleep(0.05)
                continue
            log.warning("upstream_unavailable", url=url, error=str(exc), **log_ids(scope))
            await _error(
                scope, receive, send, 503, "unavailable", "the service is unavailable, try again shortly"
            )
            return
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("upstream_unavailable", url=url, error=str(exc), **log_ids(scope))
            await _error(
                scope, receive, send, 503, "unavailable", "the service is unavailable, try again shortly"
            )
            return
    # A list, not a dict: several Set-Cookie headers (the site's) must stay separate headers.
    # The gateway's own middleware sets X-Request-ID (the same id the upstream echoes).
    response_headers = [
        (k.lower(), v)
        for k, v in upstream_response.raw_headers
        if k.lower() not in _HOP_BY_HOP_B and k.lower() not in _UPSTREAM_DROPPED_B
    ]
    length = upstream_response.headers.get("content-length", "")
    try:
        if length.isdigit() and int(length) <= BUFFER_MAX_BYTES:
            # Small answers with a known length (nearly all API answers) are read whole and sent in
            # one message: streaming costs extra writes per request, several times the proxying.
            try:
                # Raw bytes (no decompression): Content-Length counts a gzipped body compressed.
                body = await upstream_response.read()
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("upstream_read_failed", url=url, error=str(exc), **log_ids(scope))
                await _error(
                    scope, receive, send, 503, "unavailable", "the service is unavailable, try again shortly"
                )
                return
            if method != "HEAD":
                response_headers = [
                    *(h for h in response_headers if h[0] != b"content-length"),
                    (b"content-length", str(len(body)).encode()),
                ]
            await send(
                {
                    "type": "http.response.start",
                    "status": upstream_response.status,
                    "headers": response_headers,
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await send(
            {"type": "http.response.start", "status": upstream_response.status, "headers": response_headers}
        )
        async for chunk in upstream_response.content.iter_chunked(STREAM_CHUNK_BYTES):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        upstream_response.release()


class Forwarded(Response):
    """A route's answer that is the upstream's: the route returns it, Starlette calls it with the
    request's own receive/send, and `forward` streams the body both ways."""

    def __init__(
        self, pool: UpstreamPool, upstream: str, path: str, timeout: float, connect_timeout: float
    ) -> None:
        super().__init__()
        self._target = (pool, upstream, path, timeout, connect_timeout)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await forward(scope, receive, send, *self._target)


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
        self._upstreams: dict[str, str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = scope["app"].state.ctx
        if self._upstreams is None:
            self._upstreams = ctx.settings.upstreams()
        target = upstream_target(scope, ctx.settings, self._upstreams)
        if target is None:
            await self.app(scope, receive, send)
            return
        await proxy(scope, receive, send, ctx, *target)


def upstream_target(
    scope: Scope, settings: Settings, upstreams: dict[str, str]
) -> tuple[str, str, float] | None:
    """Where a request goes (upstream base URL, path to send there, read timeout), or None when
    the gateway answers it itself."""
    path: str = scope.get("path", "")
    if is_site_path(path):
        if scope["method"] not in SITE_METHODS:
            return None
        raw = scope.get("raw_path")
        rest = raw.decode("ascii", errors="replace") if isinstance(raw, bytes) else path
        return settings.upstream_web, rest, settings.upstream_timeout_s
    if not path.startswith("/api/v1/"):
        return None
    service, _, rest = path[len("/api/v1/") :].partition("/")
    upstream = upstreams.get(service)
    if upstream is None:
        return None
    # Every method goes on: the service knows which ones its path takes (405 + Allow).
    raw = scope.get("raw_path")
    prefix = f"/api/v1/{service}/".encode()
    if isinstance(raw, bytes) and raw.startswith(prefix):
        rest = raw[len(prefix) :].decode("ascii", errors="replace")
    return upstream, rest, route_timeout(settings.route_timeouts, service, rest, settings.upstream_timeout_s)


async def proxy(
    scope: Scope, receive: Receive, send: Send, ctx: Any, upstream: str, rest: str, timeout: float
) -> None:
    try:
        await forward(
            scope,
            receive,
            send,
            ctx.get(UpstreamPool),
            upstream,
            rest,
            timeout,
            ctx.settings.upstream_connect_timeout_s,
        )
    except Exception:
        await internal_error(scope, receive, send)


async def internal_error(scope: Scope, receive: Receive, send: Send) -> None:
    """After an unexpected failure (logged with its stack): the platform's 500, if nothing was
    sent yet (after, the server closes the connection)."""
    log.exception("proxy_failed", path=scope.get("path", ""), **log_ids(scope))
    with contextlib.suppress(Exception):
        await _error(scope, receive, send, 500, "internal_error", "internal error")
