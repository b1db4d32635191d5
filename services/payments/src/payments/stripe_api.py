"""The Stripe calls payments makes, through the official SDK's async API.

With `stripe_api_base` empty the SDK talks to api.stripe.com; the local stack and the tests
point it at localstripe. Calls are written in the subset both accept (explicit
`payment_method_types`, plans with explicit ids, no `expand`), so the same code runs on both.
Every creating call carries an idempotency key derived from our own ids.
"""

from __future__ import annotations

from typing import Any

import httpx
import stripe

from servicekit.logging import get_logger

from .domain import PLANS, IntentState, plan_id
from .settings import Settings

log = get_logger(__name__)

PRODUCT_ID = "civicfund-city-subscription"


class StripeApi:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        base = settings.stripe_api_base.rstrip("/")
        self.local = bool(base) and "stripe.com" not in base
        self.client = stripe.StripeClient(
            settings.stripe_secret_key,
            base_addresses={"api": base} if base else None,
            http_client=stripe.HTTPXClient(),
            max_network_retries=settings.stripe_max_network_retries,
        )
        self.v1 = self.client.v1

    @staticmethod
    def opts(idempotency_key: str | None) -> dict[str, Any]:
        return {"idempotency_key": idempotency_key} if idempotency_key else {}

    # -- customers and intents -------------------------------------------------------------------

    async def create_customer(self, metadata: dict[str, str], key: str, **extra: Any) -> str:
        customer = await self.v1.customers.create_async(
            params={"metadata": metadata, **extra}, options=self.opts(key)
        )
        return customer.id

    async def delete_customer(self, customer: str) -> bool:
        """Delete a backer's Stripe customer (and with it their saved cards); False when Stripe
        no longer knows it (deleted before: a retried erasure is not an error)."""
        try:
            await self.v1.customers.delete_async(customer)
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                return False
            raise
        return True

    async def create_setup_intent(
        self, customer: str, metadata: dict[str, str], key: str
    ) -> stripe.SetupIntent:
        return await self.v1.setup_intents.create_async(
            params={
                "customer": customer,
                "usage": "off_session",
                "metadata": metadata,
                "payment_method_types": ["card"],
            },
            options=self.opts(key),
        )

    async def charge_saved_card(
        self,
        amount: int,
        currency: str,
        customer: str,
        payment_method: str,
        metadata: dict[str, str],
        key: str,
        off_session: bool,
    ) -> IntentState:
        """Create and confirm a PaymentIntent on a saved card: off-session (the backer absent,
        after an all-or-nothing campaign succeeded) or on-session (checkout, right after the
        browser saved the card; Stripe may then answer `requires_action`). A decline comes back
        as a failed state: Stripe answers 402, the PaymentIntent exists and stays failed."""
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "customer": customer,
            "payment_method": payment_method,
            "payment_method_types": ["card"],
            "metadata": metadata,
            "confirm": True,
        }
        if off_session:
            params["off_session"] = True
        try:
            intent = await self.v1.payment_intents.create_async(params=params, options=self.opts(key))
        except stripe.CardError as exc:
            error = plain(exc.error) if exc.error is not None else {}
            reason = error.get("code") or exc.user_message or "card_declined"
            return IntentState(await self._declined_intent_id(error), "requires_payment_method", str(reason))
        return payment_intent_state(intent)

    async def _declined_intent_id(self, error: dict[str, Any]) -> str:
        """Stripe names the PaymentIntent in a decline; localstripe only names the charge."""
        intent = error.get("payment_intent")
        if isinstance(intent, dict):
            return str(intent.get("id") or "")
        if isinstance(intent, str):
            return intent
        charge_id = error.get("charge")
        if isinstance(charge_id, str):
            try:
                charge = plain(await self.v1.charges.retrieve_async(charge_id))
            except stripe.StripeError:
                return ""
            found = charge.get("payment_intent")
            return found if isinstance(found, str) else ""
        return ""

    async def cancel_payment_intent(self, intent_id: str) -> None:
        await self.v1.payment_intents.cancel_async(intent_id)

    async def payment_intent(self, intent_id: str) -> IntentState:
        return payment_intent_state(await self.v1.payment_intents.retrieve_async(intent_id))

    async def setup_intent(self, intent_id: str) -> tuple[IntentState, str | None]:
        intent = plain(await self.v1.setup_intents.retrieve_async(intent_id))
        state = IntentState(intent["id"], intent["status"], _error_text(intent.get("last_setup_error")))
        payment_method = intent.get("payment_method")
        if isinstance(payment_method, dict):
            payment_method = payment_method.get("id")
        return state, payment_method

    async def payment_intent_amount(self, intent_id: str) -> tuple[IntentState, int]:
        intent = await self.v1.payment_intents.retrieve_async(intent_id)
        return payment_intent_state(intent), int(intent.amount)

    async def refund(
        self, payment_intent: str, metadata: dict[str, str], key: str, amount: int | None = None
    ) -> tuple[str, int]:
        """Without `amount`: what is left of the payment (Stripe; localstripe refunds it all)."""
        params: dict[str, Any] = {"payment_intent": payment_intent, "metadata": metadata}
        if amount is not None:
            params["amount"] = amount
        refund = await self.v1.refunds.create_async(params=params, options=self.opts(key))  # type: ignore[arg-type]
        return refund.id, int(refund.amount)

    async def dispute(self, dispute_id: str) -> dict[str, Any]:
        return plain(await self.v1.disputes.retrieve_async(dispute_id))

    async def disputes_of(self, payment_intent: str) -> list[dict[str, Any]]:
        listing = await self.v1.disputes.list_async(params={"payment_intent": payment_intent, "limit": 100})
        return [plain(d) for d in listing.data]

    async def refunds_of(self, payment_intent: str) -> list[tuple[str, int]]:
        listing = await self.v1.refunds.list_async(params={"payment_intent": payment_intent, "limit": 100})
        refunds = [plain(r) for r in listing.data]
        return [(r["id"], int(r["amount"])) for r in refunds if r.get("status", "succeeded") == "succeeded"]

    # -- city subscriptions -----------------------------------------------------------------------

    async def ensure_plans(self) -> None:
        """Create the product and the city plans unless they exist (ids are ours: idempotent)."""
        try:
            await self.v1.products.retrieve_async(PRODUCT_ID)
        except stripe.InvalidRequestError:
            await self.v1.products.create_async(
                params={"id": PRODUCT_ID, "name": "Civicfund city subscription"},
                options=self.opts(f"product-{PRODUCT_ID}"),
            )
        amounts = {
            "monthly": self.settings.city_plan_monthly_amount,
            "yearly": self.settings.city_plan_yearly_amount,
        }
        for plan, interval in PLANS.items():
            try:
                await self.v1.plans.retrieve_async(plan_id(plan))
            except stripe.InvalidRequestError:
                await self.v1.plans.create_async(
                    params={
                        "id": plan_id(plan),
                        "product": PRODUCT_ID,
                        "amount": amounts[plan],
                        "currency": self.settings.city_plan_currency.lower(),
                        "interval": interval,
                        "nickname": f"City {plan}",
                    },
                    options=self.opts(f"plan-{plan_id(plan)}"),
                )

    async def make_default_payment_method(self, customer: str, payment_method: str) -> None:
        """Attach a card created by Stripe.js to the customer and bill its invoices to it."""
        await self.v1.payment_methods.attach_async(payment_method, params={"customer": customer})
        await self.v1.customers.update_async(
            customer, params={"invoice_settings": {"default_payment_method": payment_method}}
        )

    async def create_subscription(
        self, customer: str, plan: str, metadata: dict[str, str], key: str
    ) -> stripe.Subscription:
        return await self.v1.subscriptions.create_async(
            params={"customer": customer, "items": [{"plan": plan_id(plan)}], "metadata": metadata},
            options=self.opts(key),
        )

    async def subscription(self, subscription_id: str) -> dict[str, Any]:
        return plain(await self.v1.subscriptions.retrieve_async(subscription_id))

    async def saved_card(self, intent_id: str) -> tuple[str, str | None, str | None]:
        """A SetupIntent's status, card and customer (a city's card saved by Stripe.js)."""
        intent = plain(await self.v1.setup_intents.retrieve_async(intent_id))
        payment_method, customer = intent.get("payment_method"), intent.get("customer")
        if isinstance(payment_method, dict):
            payment_method = payment_method.get("id")
        if isinstance(customer, dict):
            customer = customer.get("id")
        return str(intent["status"]), payment_method, customer

    async def first_payment(self, sub: dict[str, Any]) -> IntentState | None:
        """The PaymentIntent of a subscription's latest invoice (its client secret lets Stripe.js
        finish a 3-D Secure payment); looked up without `expand`, which localstripe lacks."""
        invoice_id = sub.get("latest_invoice")
        if isinstance(invoice_id, dict):
            invoice_id = invoice_id.get("id")
        if not invoice_id:
            return None
        invoice = plain(await self.v1.invoices.retrieve_async(str(invoice_id)))
        intent_id = invoice.get("payment_intent")
        if isinstance(intent_id, dict):
            intent_id = intent_id.get("id")
        if not intent_id:
            return None
        return payment_intent_state(await self.v1.payment_intents.retrieve_async(str(intent_id)))

    async def invoices_of(self, subscription_id: str, limit: int) -> list[dict[str, Any]]:
        listing = await self.v1.invoices.list_async(params={"subscription": subscription_id, "limit": limit})
        return [plain(i) for i in listing.data]

    async def change_plan(self, subscription_id: str, plan: str, key: str) -> dict[str, Any]:
        sub = await self.subscription(subscription_id)
        item = ((sub.get("items") or {}).get("data") or [{}])[0]
        params: dict[str, Any] = {"items": [{"id": item["id"], "plan": plan_id(plan)}]}
        return plain(
            await self.v1.subscriptions.update_async(subscription_id, params=params, options=self.opts(key))
        )

    async def cancel_at_period_end(self, subscription_id: str, cancel: bool) -> dict[str, Any]:
        params: dict[str, Any] = {"cancel_at_period_end": cancel}
        return plain(await self.v1.subscriptions.update_async(subscription_id, params=params))

    # -- cities' match dues (city_dues/) ----------------------------------------------------------

    async def invoice_city_due(
        self, customer: str, amount: int, currency: str, description: str, metadata: dict[str, str], key: str
    ) -> str:
        """An invoice of one line on the city's customer (the one its subscription bills). The
        item is created first, pending, and the invoice takes it: localstripe gathers pending
        items itself; real Stripe is asked to (`pending_invoice_items_behavior`)."""
        await self.v1.invoice_items.create_async(
            params={"customer": customer, "amount": amount, "currency": currency.lower(),
                    "description": description, "metadata": metadata},
            options=self.opts(f"{key}-item"),
        )  # fmt: skip
        params: dict[str, Any] = {"customer": customer, "description": description, "metadata": metadata}
        if not self.local:
            params.update(pending_invoice_items_behavior="include", auto_advance=False)
        invoice = await self.v1.invoices.create_async(params=params, options=self.opts(f"{key}-invoice"))
        return invoice.id

    async def invoice(self, invoice_id: str) -> dict[str, Any]:
        return plain(await self.v1.invoices.retrieve_async(invoice_id))

    async def pay_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Finalise (real Stripe; localstripe pays a draft) and charge the customer's default card.
        A declined card or a customer without one leaves the invoice open (returned as is)."""
        invoice = await self.invoice(invoice_id)
        if invoice.get("status") == "paid":
            return invoice
        try:
            if not self.local and invoice.get("status") == "draft":
                await self.v1.invoices.finalize_invoice_async(invoice_id)
            return plain(await self.v1.invoices.pay_async(invoice_id))
        except (stripe.CardError, stripe.InvalidRequestError) as exc:
            log.info("city_invoice_not_paid", invoice=invoice_id, error=str(exc))
            return await self.invoice(invoice_id)

    async def void_invoice_if_open(self, invoice_id: str) -> None:
        invoice = await self.invoice(invoice_id)
        if invoice.get("status") in ("draft", "open"):
            await self.v1.invoices.void_invoice_async(invoice_id)

    # -- Connect: holders' accounts and payouts (payouts.py) --------------------------------------

    async def create_connected_account(self, user_id: str, email: str | None, key: str) -> str:
        """An Express account for a project holder, able to receive transfers."""
        params: dict[str, Any] = {
            "type": "express",
            "country": self.settings.connect_country,
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"user_id": user_id},
        }
        if email:
            params["email"] = email
        account = await self.v1.accounts.create_async(params=params, options=self.opts(key))
        return account.id

    async def connected_account(self, account_id: str) -> dict[str, Any]:
        return plain(await self.v1.accounts.retrieve_async(account_id))

    async def onboarding_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        """Stripe's hosted onboarding (single use, short-lived: never stored or replayed)."""
        link = await self.v1.account_links.create_async(
            params={
                "account": account_id,
                "refresh_url": refresh_url,
                "return_url": return_url,
                "type": "account_onboarding",
            }
        )
        return str(link.url)

    async def create_transfer(
        self, amount: int, currency: str, destination: str, group: str, metadata: dict[str, str], key: str
    ) -> dict[str, Any]:
        """Separate charges and transfers: the platform's balance to the connected account."""
        transfer = await self.v1.transfers.create_async(
            params={
                "amount": amount,
                "currency": currency.lower(),
                "destination": destination,
                "transfer_group": group,
                "metadata": metadata,
            },
            options=self.opts(key),
        )
        return plain(transfer)

    async def transfer(self, transfer_id: str) -> dict[str, Any]:
        return plain(await self.v1.transfers.retrieve_async(transfer_id))

    async def charge_fee(self, payment_intent_id: str) -> int:
        """Stripe's processing fee on a PaymentIntent's charge (its balance transaction)."""
        intent = plain(await self.v1.payment_intents.retrieve_async(payment_intent_id))
        charge = intent.get("latest_charge")
        if isinstance(charge, dict):
            charge = charge.get("id")
        if not isinstance(charge, str):
            return 0
        txn = plain(await self.v1.charges.retrieve_async(charge)).get("balance_transaction")
        if isinstance(txn, dict):
            txn = txn.get("id")
        if not isinstance(txn, str):
            return 0
        fee = plain(await self.v1.balance_transactions.retrieve_async(txn)).get("fee", 0)
        return int(fee) if isinstance(fee, int) else 0

    # -- localstripe only -------------------------------------------------------------------------

    async def register_local_webhook(self, url: str) -> None:
        """localstripe's own endpoint registration (`/_config/webhooks/<id>`); real Stripe
        endpoints are configured in the dashboard with the same secret."""
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.post(
                f"{self.settings.stripe_api_base.rstrip('/')}/_config/webhooks/civicfund-payments",
                data={"url": url, "secret": self.settings.stripe_webhook_secret},
            )
            response.raise_for_status()


def plain(obj: Any) -> dict[str, Any]:
    """A Stripe object as a plain dict (StripeObject refuses dict-style `.get`)."""
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _error_text(error: Any) -> str | None:
    if not error:
        return None
    error = plain(error) if not isinstance(error, dict) else error
    return str(error.get("code") or error.get("message") or "error")


def payment_intent_state(intent: Any) -> IntentState:
    data = plain(intent)
    return IntentState(
        data["id"], data["status"], _error_text(data.get("last_payment_error")), data.get("client_secret")
    )
