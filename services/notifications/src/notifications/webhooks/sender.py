"""Webhook delivery worker: signed POSTs of CloudEvents to city systems, retried on the
configured schedule; a delivery that exhausts it (>= 24 h of failures by default) disables its
endpoint and tells the city's managers.

Headers sent with every attempt:
  Content-Type: application/cloudevents+json
  Webhook-Id: <delivery id>          Webhook-Event-Id: <CloudEvent id, same across replays>
  Webhook-Timestamp: <unix seconds>  Webhook-Signature: see below

The signature follows Standard Webhooks (`v1,<base64 HMAC-SHA256(key, "<Webhook-Id>.<timestamp>.
<body>")>`, space-separated during a rotation), so cities verify with the official libraries;
endpoints registered before keep the legacy `v1=<hex>` over `<timestamp>.<body>` until their
managers switch (rules.signature).
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from datetime import datetime
from typing import Any

import httpx

from servicekit.app import ServiceContext
from servicekit.events import CONTENT_TYPE
from servicekit.jobs import WorkQueue, every
from servicekit.logging import get_logger
from servicekit.mongo import Mongo, Tx, as_utc, utcnow
from servicekit.mongo import epoch_ms as ms

from .. import notices
from ..domain import to_officials
from ..links import action_path
from ..notices import NameOf
from ..settings import Settings
from ..store import Doc
from . import store
from .rules import UrlRefused, check_addresses, check_url_shape, signature

log = get_logger(__name__)
USER_AGENT = "Civicfund-Webhooks/1.0"


async def resolve(host: str, port: int) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in infos})


async def check_url(url: str, environment: str) -> None:
    """Raises UrlRefused for URLs we must not call (shape, and in production private targets)."""
    host, port = check_url_shape(url, environment)
    check_addresses(await resolve(host, port), environment)


async def _record(
    queue: WorkQueue,
    delivery: Doc,
    status_code: int | None,
    error: str,
    duration_ms: int,
) -> str:
    """Log the attempt and move the delivery and its endpoint on, in one transaction (so the
    outcome is recorded here rather than by `queue.retry`)."""
    ok = status_code is not None and 200 <= status_code < 300
    attempts = int(delivery["attempts"])  # the claim counted this attempt
    now = utcnow()

    async def record(tx: Tx) -> str:
        await store.add_attempt(
            tx,
            {
                "delivery_id": delivery["_id"],
                "endpoint_id": delivery["endpoint_id"],
                "attempt": attempts,
                "at": now,
                "status_code": status_code if status_code is not None else 0,
                "error": error,
                "duration_ms": duration_ms,
            },
        )
        endpoint = await store.find_endpoint(tx, delivery["endpoint_id"])
        d_update: dict[str, Any] = {
            "attempts": attempts,
            "last_status_code": status_code or 0,
            "last_error": error,
        }
        if ok:
            d_update.update(status="delivered", delivered_at=now)
            if endpoint is not None:
                await store.update_endpoint(
                    tx,
                    endpoint["_id"],
                    {"consecutive_failures": 0, "last_success_at": now},
                    unset=("failing_since",),
                )
            outcome = "delivered"
        else:
            delay = queue.next_delay_s(attempts)
            if delay is None:
                d_update.update(status="failed", failed_at=now)
                outcome = "failed"
            else:
                d_update.update(status="pending", due_ms=ms(now) + int(delay * 1000))
                outcome = "pending"
            if endpoint is not None:
                e_update: dict[str, Any] = {
                    "consecutive_failures": int(endpoint.get("consecutive_failures", 0)) + 1,
                    "last_error": error,
                    "failing_since": as_utc(endpoint.get("failing_since")) or now,
                }
                if outcome == "failed" and endpoint["status"] == "active":
                    await _disable(tx, endpoint, e_update, now)
                await store.update_endpoint(tx, endpoint["_id"], e_update)
        await store.set_delivery(tx, delivery["_id"], d_update, only_if="sending")
        return outcome

    return await queue.mongo.transact(record)


async def _disable(tx: Tx, endpoint: Doc, e_update: dict[str, Any], now: datetime) -> None:
    """The endpoint exhausted the schedule: disable it and tell the city's managers."""
    disabled_count = int(endpoint.get("disabled_count", 0)) + 1
    e_update.update(status="disabled", disabled_at=now, disabled_count=disabled_count)
    slug = endpoint["municipality"]
    await notices.notify(
        tx,
        f"webhook-disabled-{endpoint['_id']}-{disabled_count}",
        "webhook.disabled",
        {
            "endpoint_id": endpoint["_id"],
            "url": endpoint["url"],
            "failing_since": e_update["failing_since"].isoformat(),
            "last_error": e_update["last_error"],
        },
        [to_officials(slug, ["manager"])],
        action_path("webhook.disabled", {"municipality": slug}),
        job_id=f"webhook-disabled|{endpoint['_id']}|{disabled_count}",
        municipality_name=NameOf(slug),
    )
    log.warning("webhook_endpoint_disabled", endpoint_id=endpoint["_id"], municipality=slug)


async def attempt(settings: Settings, queue: WorkQueue, client: httpx.AsyncClient, delivery: Doc) -> str:
    """One attempt of a claimed delivery; returns the outcome."""
    delivery_id = delivery["_id"]
    endpoint = await store.find_endpoint(queue.mongo, delivery["endpoint_id"])
    if endpoint is None or endpoint["status"] != "active":
        # Disabled since it was found due: held, and this was not an attempt.
        await queue.release(delivery_id)
        return "held"
    body = delivery["body"].encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": CONTENT_TYPE,
        "User-Agent": USER_AGENT,
        "Webhook-Id": delivery_id,
        "Webhook-Event-Id": delivery["event_id"],
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": signature(endpoint, delivery_id, timestamp, body, utcnow()),
    }
    started = time.monotonic()
    status_code: int | None = None
    error = ""
    try:
        # Checked at every attempt, not only at registration: DNS answers change.
        await check_url(endpoint["url"], settings.environment)
        response = await client.post(endpoint["url"], content=body, headers=headers)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except UrlRefused as exc:
        error = f"refused: {exc}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
    duration_ms = int((time.monotonic() - started) * 1000)
    outcome = await _record(queue, delivery, status_code, error, duration_ms)
    log.info("webhook_attempt", delivery_id=delivery_id, status_code=status_code, outcome=outcome)
    return outcome


async def run(ctx: ServiceContext, stop: asyncio.Event) -> None:
    """Background task: attempt due deliveries, `webhook_concurrency` at a time, until `stop`."""
    mongo = ctx.get(Mongo)
    settings = ctx.get(Settings)
    owner = uuid.uuid4().hex
    # No redirects: a 3xx to an internal address would sidestep the SSRF check.
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_s, follow_redirects=False) as client:

        async def tick() -> int:
            # Only active endpoints' deliveries are claimable, and which are active changes.
            active = await store.active_endpoint_ids(mongo)
            if not active:
                return 0
            queue = store.delivery_queue(
                mongo, settings.claim_lease_s, settings.webhook_retry_schedule_s, active, owner
            )

            async def worker(delivery: Doc) -> None:
                await attempt(settings, queue, client, delivery)

            return await queue.run_once(worker, settings.webhook_concurrency)

        await every(settings.worker_poll_s, tick, stop, name="webhook-sender", again_when_busy=True)
