"""Stripe webhooks: verify the signature with Stripe's own code, store the event once (by
Stripe event id), answer at once, process in the background.

Processing never trusts the event's copy of the object: it re-fetches the PaymentIntent,
SetupIntent, refunds or subscription from Stripe and records its current state, so duplicated,
late and reordered deliveries all converge on the same outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import stripe
from fastapi import APIRouter, Request
from pymongo.errors import DuplicateKeyError

from servicekit.errors import ApiError
from servicekit.logging import get_logger
from servicekit.mongo import Tx, utcnow

from .metrics import WEBHOOKS
from .pledges import PledgeBook
from .subscriptions import CitySubscriptions

log = get_logger(__name__)
router = APIRouter(tags=["stripe webhooks"])

MAX_PROCESSING_ATTEMPTS = 10
MAX_BODY_BYTES = 512 * 1024


@router.post("/webhooks/stripe", include_in_schema=False)
async def stripe_webhook(request: Request) -> dict[str, Any]:
    ctx = request.app.state.ctx
    settings = ctx.settings
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "webhook body too large")
    signature = request.headers.get("stripe-signature")
    if not signature:
        WEBHOOKS.labels("unknown", "unsigned").inc()
        raise ApiError(400, "missing_signature", "Stripe-Signature header is required")
    try:
        payload = raw.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            payload, signature, settings.stripe_webhook_secret, settings.stripe_webhook_tolerance_s
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        WEBHOOKS.labels("unknown", "bad_signature").inc()
        raise ApiError(400, "bad_signature", f"webhook signature rejected: {exc}") from exc
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance((event.get("data") or {}).get("object"), dict)
    ):
        raise ApiError(400, "bad_event", "not a Stripe event")
    obj = event["data"]["object"]
    doc = {
        "_id": event["id"],
        "type": event["type"],
        "created": event.get("created"),
        "object_id": obj.get("id"),
        "object": obj,
        "status": "pending",
        "attempts": 0,
        "received_at": utcnow(),
    }

    async def store(tx: Tx) -> None:
        await tx.db.stripe_events.insert_one(doc, session=tx.session)

    try:
        await ctx.mongo.transact(store)
    except DuplicateKeyError:
        WEBHOOKS.labels(event["type"], "duplicate").inc()
        return {"received": True, "duplicate": True}
    WEBHOOKS.labels(event["type"], "stored").inc()
    processor: WebhookProcessor = ctx.extras["webhooks"]
    processor.kick()
    return {"received": True, "duplicate": False}


class WebhookProcessor:
    def __init__(self, book: PledgeBook, subscriptions: CitySubscriptions) -> None:
        self.book = book
        self.subscriptions = subscriptions
        self.store = book.store
        self.mongo = book.mongo
        self._running: asyncio.Task | None = None
        self._lock = asyncio.Lock()  # the request path's kick and the worker never drain at once

    def kick(self) -> None:
        """Process stored events soon, off the request path."""
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self.drain())

    async def close(self) -> None:
        if self._running is not None and not self._running.done():
            self._running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._running

    async def drain(self) -> None:
        async with self._lock:
            await self._drain()

    async def _drain(self) -> None:
        while True:
            now_ms = int(time.time() * 1000)
            due = [e for e in await self.store.pending_stripe_events() if e.get("retry_at_ms", 0) <= now_ms]
            if not due:
                return
            for event in due:
                await self.process(event)

    async def process(self, event: dict[str, Any]) -> None:
        try:
            outcome = await self.apply(event["type"], event["object"])
            status, error = ("processed" if outcome else "ignored"), None
        except Exception as exc:
            attempts = int(event.get("attempts", 0)) + 1
            status = "failed" if attempts >= MAX_PROCESSING_ATTEMPTS else "pending"
            error = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning("stripe_event_failed", stripe_event=event["_id"], attempts=attempts, error=error)
            if status == "pending":
                # Stripe or the database hiccuped: back off, the worker picks it up again.
                backoff_ms = min(2**attempts, 300) * 1000
                await self._mark(event["_id"], status, error, attempts, int(time.time() * 1000) + backoff_ms)
                return

        await self._mark(event["_id"], status, error, int(event.get("attempts", 0)) + 1)

    async def _mark(
        self, event_id: str, status: str, error: str | None, attempts: int, retry_at_ms: int = 0
    ) -> None:
        async def write(tx: Tx) -> None:
            fields: dict[str, Any] = {
                "status": status,
                "attempts": attempts,
                "processed_at": utcnow(),
                "retry_at_ms": retry_at_ms,
            }
            if error:
                fields["error"] = error
            await tx.db.stripe_events.update_one({"_id": event_id}, {"$set": fields}, session=tx.session)

        await self.mongo.transact(write)

    async def _pledge_for(self, obj: dict[str, Any], intent_field: str = "id") -> dict[str, Any] | None:
        pledge_id = (obj.get("metadata") or {}).get("pledge_id")
        if isinstance(pledge_id, str):
            return await self.store.pledge(pledge_id)
        intent_id = obj.get(intent_field)
        if isinstance(intent_id, str):
            return await self.store.db.pledges.find_one({"intents": intent_id})
        return None

    async def apply(self, event_type: str, obj: dict[str, Any]) -> bool:
        """Returns False for events payments has no use for (stored, marked ignored)."""
        if event_type.startswith("payment_intent."):
            pledge = await self._pledge_for(obj)
            if pledge is None:
                return False
            state = await self.book.stripe.payment_intent(obj["id"])
            await self.book.record_payment_intent(pledge["_id"], state)
            return True
        if event_type.startswith("setup_intent."):
            pledge = await self._pledge_for(obj)
            if pledge is None:
                return False
            state, payment_method = await self.book.stripe.setup_intent(obj["id"])
            await self.book.apply_setup_intent(pledge["_id"], state, payment_method)
            return True
        if event_type in ("charge.refunded", "charge.refund.updated"):
            pledge = await self._pledge_for(obj, "payment_intent")
            if pledge is None:
                return False
            await self.book.record_refunds_of(pledge)
            return True
        if event_type in ("invoice.paid", "invoice.payment_failed", "invoice.payment_succeeded"):
            subscription_id = obj.get("subscription")
            if not isinstance(subscription_id, str):
                return False
            return await self.subscriptions.refresh(subscription_id)
        if event_type.startswith("customer.subscription."):
            return await self.subscriptions.refresh(obj["id"])
        return False
