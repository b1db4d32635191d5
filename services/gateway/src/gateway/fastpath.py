"""The proxied request's path through the gateway in one layer, ahead of the app's middleware.

A request that only goes on to a service (`/api/v1/<service>/...`, the web site's pages) needs
from the gateway: a request id (accepted or made, bound to its log lines, returned), the rate
limits, the security headers, a metrics sample and an access-log line. As a stack of ASGI
middleware (request id, metrics, security headers, CORS, body limit, rate limit, each with its
own `send` wrapper, plus Starlette's and FastAPI's own layers) that cost as much CPU as the
proxying itself. Here it is one function with one `send` wrapper, doing the same things.

Whatever needs more goes through the full stack unchanged: cross-origin requests (CORS answers
depend on `Origin`), `OPTIONS`, bodies without a declared length within the limit (the body
limit must read them), requests the gateway answers itself, and every request when the limit
counters live in Redis (an await per check, and the store may be down: RateLimitMiddleware
handles both).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from fastapi import FastAPI
from prometheus_client.metrics import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.metrics import HTTP_LATENCY, HTTP_REQUESTS

from .edge import API_CSP, SECURITY_HEADERS
from .proxy import internal_error, proxy, upstream_target
from .ratelimit import EXEMPT_PATHS, RateLimits, client_ip, rate_limited, request_checks

_access_log = structlog.get_logger("access")
_QUIET_PATHS = {"/livez", "/readyz", "/metrics"}
_EDGE_HEADERS = [*SECURITY_HEADERS, (b"content-security-policy", API_CSP)]
_EDGE_NAMES = {k for k, _ in _EDGE_HEADERS}
# The proxied paths never reach FastAPI's router, so they carry no route template (as before).
_ROUTE = "unmatched"
# The methods BodyLimitMiddleware lets through unread.
_NO_BODY_CHECK = {"GET", "HEAD"}


class FastPath:
    """The gateway's ASGI entry (`gateway.app:asgi`): proxied requests are handled here, the
    rest (and the lifespan) goes to the FastAPI app. In front of the app object rather than
    inside its middleware, because FastAPI's own `__call__` (a telemetry check reading the
    environment, the Starlette layers) costs a twentieth of a proxied request by itself."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.stack: ASGIApp = app
        self.service: str = app.state.service_name
        self._upstreams: dict[str, str] | None = None
        # Metric children by (method, status): `labels()` costs a lock and a tuple per call.
        self._counters: dict[tuple[str, int], Any] = {}
        self._latencies: dict[str, Histogram] = {}
        self._access: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.stack(scope, receive, send)
            return
        ctx = self.app.state.ctx
        settings = ctx.settings
        if self._upstreams is None:
            self._upstreams = settings.upstreams()
        method = scope["method"]
        target = upstream_target(scope, settings, self._upstreams) if method != "OPTIONS" else None
        if target is None:
            await self.stack(scope, receive, send)
            return
        request_id = token = length = None
        for key, value in scope["headers"]:
            if key == b"origin":
                await self.stack(scope, receive, send)
                return
            if key == b"x-request-id" and request_id is None:
                request_id = value.decode("latin-1")[:128]
            elif key == b"authorization" and token is None:
                scheme, _, rest = value.decode("latin-1").partition(" ")
                token = rest.strip() if scheme.lower() == "bearer" and rest.strip() else ""
            elif key == b"content-length":
                length = value
        if method not in _NO_BODY_CHECK and (
            length is None or not length.isdigit() or int(length) > settings.max_body_bytes
        ):
            await self.stack(scope, receive, send)
            return
        limits: RateLimits = ctx.get(RateLimits)
        if limits.enabled and limits.local is None:
            await self.stack(scope, receive, send)
            return
        # What Starlette would set: client_ip and the error answers read the app from it.
        scope["app"] = self.app
        if not request_id or not request_id.isprintable():
            request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        start = time.perf_counter()
        status = 500
        rid = request_id.encode("latin-1")

        async def send_edge(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # The upstream's Server and Date are dropped by `proxy.forward` already.
                headers = list(message.get("headers", []))
                present = {k for k, _ in headers if k in _EDGE_NAMES}
                headers.append((b"x-request-id", rid))
                if present:
                    headers.extend(h for h in _EDGE_HEADERS if h[0] not in present)
                else:
                    headers.extend(_EDGE_HEADERS)
                message["headers"] = headers
            await send(message)

        try:
            if limits.enabled and scope["path"] not in EXEMPT_PATHS:
                local = limits.local
                assert local is not None
                try:
                    checks = request_checks(scope, limits, ctx, client_ip(scope), token or None)
                    retry_after = next(
                        (r for item, b, k in checks if (r := local.hit(item, b, k)) is not None), None
                    )
                except Exception:
                    await internal_error(scope, receive, send_edge)
                    return
                if retry_after is not None:
                    await rate_limited(retry_after, request_id)(scope, receive, send_edge)
                    return
            await proxy(scope, receive, send_edge, ctx, *target)
        finally:
            elapsed = time.perf_counter() - start
            self._count(method, status, elapsed)
            path = scope["path"]
            if path not in _QUIET_PATHS:
                if self._access is None:
                    # Resolved once, after the lifespan configured logging: the lazy proxy
                    # builds a new bound logger on every call otherwise.
                    self._access = _access_log.bind()
                # The ids are named here rather than bound in contextvars for every request
                # (the same keys RequestIdMiddleware binds, so the line is the same).
                self._access.info(
                    "request",
                    service=self.service,
                    request_id=request_id,
                    correlation_id=request_id,
                    method=method,
                    path=path,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )

    def _count(self, method: str, status: int, elapsed: float) -> None:
        counter = self._counters.get((method, status))
        if counter is None:
            counter = HTTP_REQUESTS.labels(self.service, method, _ROUTE, str(status))
            self._counters[(method, status)] = counter
        counter.inc()
        latency = self._latencies.get(method)
        if latency is None:
            latency = HTTP_LATENCY.labels(self.service, method, _ROUTE)
            self._latencies[method] = latency
        latency.observe(elapsed)
