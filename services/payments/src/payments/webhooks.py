"""Stripe webhooks, the use cases: `receive` verifies the signature with Stripe's own code, stores
the event once (by Stripe event id) as a work item and answers at once; `process` (the
servicekit WorkQueue's worker, app.py) applies it, retried with backoff, `failed` after
MAX_PROCESSING_ATTEMPTS.

Processing never trusts the event's copy of the object: it re-fetches the PaymentIntent,
SetupIntent, refunds, subscription, connected account or transfer from Stripe and records its
current state, so duplicated, late and reordered deliveries all converge on the same outcome.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import stripe
from pymongo.errors import DuplicateKeyError

from servicekit.errors import DomainError
from servicekit.jobs import WorkQueue
from servicekit.mongo import Tx, utcnow

from .city_dues.usecases import CityDues
from .disputes import Disputes
from .metrics import WEBHOOKS
from .payouts import Payouts
from .pledges import PledgeBook
from .settings import Settings
from .store import STRIPE_EVENTS, Doc
from .subscriptions import CitySubscriptions

MAX_PROCESSING_ATTEMPTS = 10
MAX_BODY_BYTES = 512 * 1024
BACKOFF_S = (2, 4, 8, 16, 32, 64, 128, 256, 300)


class StripeWebhooks:
    def __init__(
        self,
        settings: Settings,
        book: PledgeBook,
        subscriptions: CitySubscriptions,
        payouts: Payouts,
        disputes: Disputes,
    ) -> None:
        self.settings = settings
        self.disputes = disputes
        self.book = book
        self.subscriptions = subscriptions
        self.payouts = payouts
        self.store = book.store
        self.mongo = book.mongo
        self.queue = WorkQueue(
            book.mongo,
            STRIPE_EVENTS,
            lease_s=60,
            backoff_s=BACKOFF_S,
            max_attempts=MAX_PROCESSING_ATTEMPTS,
            working_status="processing",
        )
        # Set when an event is stored: the queue's loop processes it at once, off the request.
        self.wake = asyncio.Event()

    async def receive(self, raw: bytes, signature: str | None) -> bool:
        """Verify and store one delivery; returns False for a duplicate (already stored)."""
        if len(raw) > MAX_BODY_BYTES:
            raise DomainError("payload_too_large", 413, "webhook body too large")
        if not signature:
            WEBHOOKS.labels("unknown", "unsigned").inc()
            raise DomainError("missing_signature", 400, "Stripe-Signature header is required")
        try:
            payload = raw.decode("utf-8")
            stripe.WebhookSignature.verify_header(
                payload,
                signature,
                self.settings.stripe_webhook_secret,
                self.settings.stripe_webhook_tolerance_s,
            )
            event = json.loads(payload)
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
            WEBHOOKS.labels("unknown", "bad_signature").inc()
            raise DomainError("bad_signature", 400, f"webhook signature rejected: {exc}") from exc
        if not (
            isinstance(event, dict)
            and isinstance(event.get("id"), str)
            and isinstance(event.get("type"), str)
            and isinstance((event.get("data") or {}).get("object"), dict)
        ):
            raise DomainError("bad_event", 400, "not a Stripe event")
        obj = event["data"]["object"]

        async def write(tx: Tx) -> None:
            await self.store.insert_stripe_event(
                tx,
                event["id"],
                type=event["type"],
                created=event.get("created"),
                object_id=obj.get("id"),
                object=obj,
                received_at=utcnow(),
            )

        try:
            await self.mongo.transact(write)
        except DuplicateKeyError:
            WEBHOOKS.labels(event["type"], "duplicate").inc()
            return False
        WEBHOOKS.labels(event["type"], "stored").inc()
        self.wake.set()
        return True

    async def run(self, stop: asyncio.Event) -> None:
        await self.queue.run(self.process, stop, poll_s=self.settings.worker_tick_s, wake=self.wake)

    async def process(self, item: Doc) -> None:
        """One stored event (raises to be retried with backoff)."""
        used = await self.apply(item["type"], item["object"])
        await self.queue.complete(
            item["_id"], {"status": "processed" if used else "ignored", "processed_at": utcnow()}
        )

    async def _pledge_for(self, obj: dict[str, Any], intent_field: str = "id") -> Doc | None:
        pledge_id = (obj.get("metadata") or {}).get("pledge_id")
        if isinstance(pledge_id, str):
            return await self.store.pledge(pledge_id)
        intent_id = obj.get(intent_field)
        if isinstance(intent_id, str):
            return await self.store.pledge_with_intent(intent_id)
        return None

    async def apply(self, event_type: str, obj: dict[str, Any]) -> bool:
        """Returns False for events payments has no use for (stored, marked ignored)."""
        if event_type.startswith("payment_intent."):
            pledge = await self._pledge_for(obj)
            if pledge is None:
                return False
            await self.book.record_payment_intent(
                pledge["_id"], await self.book.stripe.payment_intent(obj["id"])
            )
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
        # Disputes (disputes.py): created, funds_withdrawn, updated, funds_reinstated, closed.
        if event_type.startswith("charge.dispute.") and isinstance(obj.get("id"), str):
            return await self.disputes.changed(obj["id"])
        due_id = (obj.get("metadata") or {}).get("city_due_id")
        if event_type.startswith("invoice.") and isinstance(due_id, str) and isinstance(obj.get("id"), str):
            return await CityDues(self.book).invoice_changed(obj["id"], due_id)
        if event_type in ("invoice.paid", "invoice.payment_failed", "invoice.payment_succeeded"):
            subscription_id = obj.get("subscription")
            if not isinstance(subscription_id, str):
                return False
            return await self.subscriptions.refresh(subscription_id)
        if event_type.startswith("customer.subscription."):
            return await self.subscriptions.refresh(obj["id"])
        # Connect (payouts.py): Stripe names them account.updated and transfer.created /
        # transfer.updated / transfer.reversed.
        if event_type == "account.updated" and isinstance(obj.get("id"), str):
            return await self.payouts.account_updated(obj["id"])
        if event_type in ("transfer.created", "transfer.updated", "transfer.reversed"):
            return await self.payouts.transfer_changed(obj)
        return False
