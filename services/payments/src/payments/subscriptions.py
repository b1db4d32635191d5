"""City subscriptions (the Labelkoz model): a city official subscribes their municipality to a
monthly or yearly plan; Stripe bills it; the subscription's status (always re-fetched from
Stripe) drives `subscription.activated` / `subscription.lapsed`, which endorsements uses to
allow or stop labelling."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import stripe
from pymongo.errors import DuplicateKeyError

from servicekit.errors import DomainError
from servicekit.idempotency import Claim
from servicekit.jobs import wait_or_stop
from servicekit.logging import get_logger
from servicekit.mongo import Tx, utcnow

from . import domain
from .pledges import PledgeBook, stripe_unavailable
from .store import Doc, Store
from .stripe_api import plain

log = get_logger(__name__)


def _period_end(sub: Any) -> str | None:
    end = sub.get("current_period_end")
    if end is None:
        items = (sub.get("items") or {}).get("data") or []
        end = items[0].get("current_period_end") if items else None
    return datetime.fromtimestamp(int(end), UTC).isoformat() if end else None


async def municipality_registered(tx: Tx, data: dict[str, Any]) -> None:
    """`municipality.registered`: the cities that may subscribe."""
    fields = {"name": data["name"], "municipality_id": data["municipality_id"], "updated_at": utcnow()}
    await Store.of(tx).save_municipality(tx, data["slug"], fields)


class CitySubscriptions:
    def __init__(self, book: PledgeBook) -> None:
        self.book = book
        self.stripe = book.stripe
        self.mongo = book.mongo
        self.store = book.store
        self.idempotency = book.idempotency
        self.plans_ready = asyncio.Event()

    async def ensure_plans_forever(self, stop: asyncio.Event) -> None:
        """Plans are created at start-up; Stripe may be unreachable then, so keep trying."""
        delay = 0.5
        while not stop.is_set():
            try:
                await self.stripe.ensure_plans()
                self.plans_ready.set()
                log.info("stripe_plans_ready")
                return
            except stripe.StripeError as exc:
                log.warning("stripe_plans_not_ready", error=str(exc), retry_in_s=delay)
            await wait_or_stop(stop, delay)
            delay = min(delay * 2, 30)

    async def of_municipality(self, municipality: str) -> list[Doc]:
        return await self.store.subscriptions_of(municipality)

    async def card_setup(self, municipality: str, email: str | None, key: str) -> tuple[str, str]:
        """A SetupIntent for the city's card: Stripe.js saves the card with confirmCardSetup
        (3-D Secure included), then the subscription is made with it."""
        if await self.store.municipality(municipality) is None:
            raise DomainError(
                "municipality_not_found", 404, f"municipality {municipality!r} is not registered"
            )
        try:
            customer = await self.book.ensure_customer(
                f"municipality:{municipality}",
                {"municipality": municipality},
                **({"email": email} if email else {}),
            )
            intent = plain(
                await self.stripe.create_setup_intent(
                    customer, {"municipality": municipality}, f"city-card-{municipality}-{key}"
                )
            )
        except stripe.StripeError as exc:
            raise stripe_unavailable(exc) from exc
        return intent["id"], intent["client_secret"]

    async def _card_of(self, municipality: str, setup_intent: str) -> str:
        """The card a SetupIntent saved, if it is this city's and saved (Stripe says so)."""
        try:
            status, payment_method, customer = await self.stripe.saved_card(setup_intent)
        except stripe.InvalidRequestError as exc:
            raise DomainError("card_not_saved", 422, "no such card setup") from exc
        except stripe.StripeError as exc:
            raise stripe_unavailable(exc) from exc
        mine = await self.store.customer(f"municipality:{municipality}")
        if mine is None or customer != mine["stripe_customer_id"]:
            raise DomainError("card_not_saved", 422, "this card setup is not the city's")
        if status != "succeeded" or not payment_method:
            raise DomainError("card_not_saved", 422, f"the card is not saved yet ({status})")
        return payment_method

    async def subscribe(
        self, municipality: str, plan: str, payment_method: str | None, email: str | None, key: str,
        setup_intent: str | None = None,
    ) -> Doc:  # fmt: skip
        request = {"municipality": municipality, "plan": plan, "payment_method": payment_method,
                   "setup_intent": setup_intent}  # fmt: skip
        claim = await self.idempotency.begin(f"subscriptions.create|{municipality}", key, request)
        if claim.stored is not None:
            return claim.stored.value
        try:
            if setup_intent is not None:
                payment_method = await self._card_of(municipality, setup_intent)
            assert payment_method is not None
            doc = await self._subscribe(municipality, plan, payment_method, email, key, claim)
        except BaseException:
            await claim.release()  # nothing was recorded: the manager may retry with the same key
            raise
        return doc

    async def _subscribe(
        self, municipality: str, plan: str, payment_method: str, email: str | None, key: str, claim: Claim
    ) -> Doc:
        if await self.store.municipality(municipality) is None:
            raise DomainError(
                "municipality_not_found", 404, f"municipality {municipality!r} is not registered"
            )
        if any(bool(s.get("active")) for s in await self.store.subscriptions_of(municipality)):
            raise DomainError("already_subscribed", 409, f"{municipality} already has an active subscription")
        if not self.plans_ready.is_set():
            raise DomainError("unavailable", 503, "subscription plans are not ready yet; retry shortly")
        try:
            customer = await self.book.ensure_customer(
                f"municipality:{municipality}",
                {"municipality": municipality},
                **({"email": email} if email else {}),
            )
            await self.stripe.make_default_payment_method(customer, payment_method)
            sub = plain(
                await self.stripe.create_subscription(
                    customer, plan, {"municipality": municipality}, f"subscription-{municipality}-{key}"
                )
            )
        except stripe.CardError as exc:
            raise DomainError("card_declined", 402, exc.user_message or "the card was declined") from exc
        except stripe.InvalidRequestError as exc:
            raise DomainError("payment_method_rejected", 422, exc.user_message or str(exc)) from exc
        except stripe.StripeError as exc:
            raise stripe_unavailable(exc) from exc
        now = utcnow()
        active = domain.subscription_active(sub["status"])
        doc = {
            "_id": sub["id"],
            "municipality": municipality,
            "plan": plan,
            "status": sub["status"],
            "active": active,
            "customer_id": customer,
            "current_period_end": _period_end(sub),
            "cancel_at_period_end": bool(sub.get("cancel_at_period_end")),
            "created_at": now,
            "updated_at": now,
        }
        if not active:
            # A card that needs 3-D Secure leaves the first invoice's payment waiting for the
            # manager: Stripe.js finishes it in the browser with this client secret, then the
            # site asks for a refresh (or Stripe's webhook arrives) and the state is re-fetched.
            try:
                payment = await self.stripe.first_payment(sub)
            except stripe.StripeError as exc:
                raise stripe_unavailable(exc) from exc
            if payment is not None and payment.status == "requires_action":
                doc["client_secret"] = payment.client_secret

        async def write(tx: Tx) -> None:
            await self.store.insert_subscription(tx, doc)
            await claim.complete_in(tx, doc)
            if active:
                tx.emit("subscription.activated", sub["id"], self._event_data(doc))

        try:
            await self.mongo.transact(write)
        except DuplicateKeyError:
            # Stripe's webhook for it was recorded first (refresh): that record is the answer.
            again = await self.store.subscription(sub["id"])
            if again is None:
                raise
            if doc.get("client_secret") and again.get("status") == "incomplete":
                secret = doc["client_secret"]

                async def keep_secret(tx: Tx) -> None:
                    await self.store.set_subscription(tx, sub["id"], client_secret=secret)

                await self.mongo.transact(keep_secret)
                again = {**again, "client_secret": secret}
            await claim.complete(again)
            return again
        return doc

    @staticmethod
    def _event_data(doc: dict[str, Any]) -> dict[str, Any]:
        data = {
            "subscription_id": doc["_id"],
            "municipality": doc["municipality"],
            "plan": doc["plan"],
            "status": doc["status"],
        }
        if doc.get("current_period_end"):
            data["current_period_end"] = doc["current_period_end"]
        return data

    async def refresh(self, subscription_id: str) -> bool:
        """Re-fetch a subscription and record it; emits activated/lapsed when that changed."""
        try:
            sub = await self.stripe.subscription(subscription_id)
            status, period_end, metadata = sub["status"], _period_end(sub), dict(sub.get("metadata") or {})
            plan_ref = ((sub.get("plan") or {}).get("id")) or ""
            cancel_at_end = bool(sub.get("cancel_at_period_end"))
        except stripe.InvalidRequestError:
            # Deleted subscriptions are gone from some Stripe stores (localstripe): canceled.
            status, period_end, metadata, plan_ref, cancel_at_end = "canceled", None, {}, "", False

        async def write(tx: Tx) -> bool:
            doc = await self.store.subscription(subscription_id, tx)
            if doc is None:
                municipality = metadata.get("municipality")
                if not municipality:
                    return False  # not one of ours
                plan = plan_ref.removeprefix("civicfund-city-") or "monthly"
                doc = {
                    "_id": subscription_id,
                    "municipality": municipality,
                    "plan": plan,
                    "created_at": utcnow(),
                }
                await self.store.insert_subscription(tx, {**doc, "status": status, "active": False})
                was_active: bool | None = None
            else:
                was_active = bool(doc.get("active"))
            event = domain.subscription_event(was_active, status)
            plan_now = plan_ref.removeprefix("civicfund-city-")
            fields = {
                "status": status,
                "active": domain.subscription_active(status),
                "current_period_end": period_end or doc.get("current_period_end"),
                "cancel_at_period_end": cancel_at_end,
                "updated_at": utcnow(),
            }
            if status != "incomplete":
                fields["client_secret"] = None  # nothing left for the browser to finish
            if plan_now in ("monthly", "yearly"):
                fields["plan"] = plan_now
            await self.store.set_subscription(tx, subscription_id, **fields)
            if event:
                tx.emit(event, subscription_id, self._event_data({**doc, **fields}))
            return True

        return await self.mongo.transact(write)

    # -- what a manager does with the city's subscription ----------------------------------------

    async def owned(self, municipality: str, subscription_id: str) -> Doc:
        doc = await self.store.subscription(subscription_id)
        if doc is None or doc["municipality"] != municipality:
            raise DomainError("subscription_not_found", 404, f"no such subscription of {municipality}")
        return doc

    async def confirm(self, municipality: str, subscription_id: str) -> Doc:
        """After Stripe.js finished a 3-D Secure payment: the browser's word is not taken, the
        subscription is re-fetched from Stripe and recorded."""
        await self.owned(municipality, subscription_id)
        try:
            await self.refresh(subscription_id)
        except stripe.StripeError as exc:
            raise stripe_unavailable(exc) from exc
        return await self.owned(municipality, subscription_id)

    async def invoices(
        self, municipality: str, subscription_id: str, limit: int = 24
    ) -> list[dict[str, Any]]:
        await self.owned(municipality, subscription_id)
        try:
            found = await self.stripe.invoices_of(subscription_id, limit)
        except stripe.StripeError as exc:
            raise stripe_unavailable(exc) from exc
        return [_invoice(i) for i in found]

    async def change_plan(self, municipality: str, subscription_id: str, plan: str, key: str) -> Doc:
        doc = await self.owned(municipality, subscription_id)
        if not doc.get("active"):
            raise DomainError("subscription_not_active", 409, "only an active subscription changes plan")
        if doc["plan"] == plan:
            raise DomainError("same_plan", 409, f"the subscription is already {plan}")
        try:
            await self.stripe.change_plan(subscription_id, plan, f"plan-{subscription_id}-{plan}-{key}")
        except stripe.CardError as exc:
            raise DomainError("card_declined", 402, exc.user_message or "the card was declined") from exc
        except stripe.StripeError as exc:
            raise stripe_unavailable(exc) from exc
        return await self.confirm(municipality, subscription_id)

    async def cancel_at_period_end(self, municipality: str, subscription_id: str, cancel: bool) -> Doc:
        """Cancel at the end of the paid period (the city keeps labelling until then), or undo it."""
        doc = await self.owned(municipality, subscription_id)
        if not doc.get("active"):
            raise DomainError("subscription_not_active", 409, "the subscription is not active")
        try:
            await self.stripe.cancel_at_period_end(subscription_id, cancel)
        except stripe.StripeError as exc:
            raise stripe_unavailable(exc) from exc
        return await self.confirm(municipality, subscription_id)


def _invoice(data: dict[str, Any]) -> dict[str, Any]:
    created = data.get("created") or data.get("date")
    return {
        "id": data["id"],
        "number": data.get("number"),
        "status": data.get("status") or "open",
        "amount_due": int(data.get("amount_due", data.get("total")) or 0),
        "amount_paid": int(data.get("amount_paid") or 0),
        "currency": str(data.get("currency") or "eur").upper(),
        "created": datetime.fromtimestamp(int(created), UTC).isoformat() if created else None,
        "hosted_invoice_url": data.get("hosted_invoice_url"),
    }
