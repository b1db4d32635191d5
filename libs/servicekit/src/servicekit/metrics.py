"""Prometheus metrics shared by every service, and the HTTP metrics middleware."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter("events_published_total", "Events published to the broker", ["service", "type"])
EVENTS_CONSUMED = Counter(
    "events_consumed_total", "Events handled successfully", ["service", "queue", "type"]
)
EVENTS_DUPLICATE = Counter(
    "events_duplicate_total", "Redelivered events skipped by the inbox", ["service", "queue"]
)
EVENTS_RETRIED = Counter("events_retried_total", "Events sent to a retry queue", ["service", "queue", "type"])
EVENTS_DEAD = Counter(
    "events_dead_lettered_total", "Events parked in a .dead queue", ["service", "queue", "type"]
)
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet confirmed by the broker", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_pending_age_seconds", "Age of the oldest pending outbox row", ["service"]
)


def _route_template(scope: Scope) -> str:
    # The router records the route it matched in the scope; its path is the template
    # (`/campaigns/{campaign_id}`), so ids never become label values.
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class MetricsMiddleware:
    """Count and time requests by route template (not raw path: ids would explode cardinality)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_template(scope)
            HTTP_REQUESTS.labels(self.service, scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(self.service, scope["method"], route).observe(time.perf_counter() - start)


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
