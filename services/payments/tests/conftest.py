"""Payments under test: the real app over HTTP, its nx-27017 database, the session's RabbitMQ,
and a real localstripe process. `Browser` plays Stripe.js against localstripe; `signed` builds
webhook deliveries exactly the way Stripe signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import stripe

from payments.app import build
from payments.charging import Charger
from payments.settings import Settings
from payments.store import Store
from servicekit.app import ServiceContext
from servicekit.events import new_event
from servicekit.testing.plugin import TestEnv
from servicekit.testing.procs import free_port
from servicekit.testing.server import serve

SECRET_KEY = "sk_test_civicfund_tests"
WEBHOOK_SECRET = "whsec_test_payments"
PUBLISHABLE_KEY = "pk_test_civicfund"
GOOD_CARD = "4242424242424242"
# localstripe: attaching works, charging is declined (Stripe's "charge customer fail" card).
DECLINED_CARD = "4000000000000341"
# Saving the card asks for 3-D Secure, and so does every on-session payment with it.
THREE_DS_CARD = "4000002500003155"
# Declined as soon as it is saved.
UNSAVABLE_CARD = "4000000000009995"


def signature_header(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """Stripe's scheme: v1 = HMAC-SHA256(secret, "<t>.<raw body>"), header `t=<t>,v1=<hex>`."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def stripe_event(event_type: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
    """An Event object shaped like Stripe's (what its webhook endpoint posts)."""
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
            "data": {"object": obj},
        },
        indent=2,
    ).encode()


def campaign_data(
    campaign_id: str, owner: str, status: str, funding_model: str, version: int, currency: str = "EUR"
) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "owner_id": owner,
        "title": "Repair café in Bel-Air",
        "status": status,
        "municipality": "montreuil",
        "goal": 500_000,
        "currency": currency,
        "funding_model": funding_model,
        "version": version,
    }


@dataclass
class Browser:
    """What Stripe.js does in the backer's browser, done against localstripe."""

    base: str

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, timeout=10, auth=(SECRET_KEY, ""))

    async def payment_method(self, number: str) -> str:
        async with self._http() as http:
            response = await http.post(
                "/v1/payment_methods",
                data={
                    "type": "card",
                    "card[number]": number,
                    "card[exp_month]": "12",
                    "card[exp_year]": "2031",
                    "card[cvc]": "123",
                },
            )
            response.raise_for_status()
            return response.json()["id"]

    def _publishable(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            PUBLISHABLE_KEY, base_addresses={"api": self.base}, http_client=stripe.HTTPXClient()
        )

    async def confirm_setup(self, client_secret: str, number: str, authenticate: bool = True) -> str:
        """stripe.confirmCardSetup(client_secret, {payment_method: {card}}), as localstripe's
        Stripe.js does it: the publishable key, the client secret and the card data; a 3-D Secure
        card is confirmed a second time once the backer "authenticated". Returns the
        SetupIntent's status, or the decline's code."""
        seti = client_secret.split("_secret_")[0]
        card = {"number": number, "exp_month": 12, "exp_year": 2031, "cvc": "123"}
        client = self._publishable()
        base = {"key": PUBLISHABLE_KEY, "client_secret": client_secret}
        try:
            intent = await client.v1.setup_intents.confirm_async(
                seti,
                params={**base, "payment_method_data": {"type": "card", "card": card}},  # type: ignore[typeddict-unknown-key]
            )
            if intent.status == "requires_action" and authenticate:
                intent = await client.v1.setup_intents.confirm_async(seti, params=base)  # type: ignore[arg-type]
        except stripe.CardError as exc:
            return str(exc.code or "card_declined")
        return str(intent.status)

    async def authenticate(self, client_secret: str, success: bool = True) -> int:
        """stripe.confirmCardPayment(client_secret) on localstripe: the 3-D Secure dialog."""
        pi = client_secret.split("_secret_")[0]
        async with httpx.AsyncClient(base_url=self.base, timeout=10) as http:
            response = await http.post(
                f"/v1/payment_intents/{pi}/_authenticate",
                params={"success": "true" if success else "false"},
                data={"key": PUBLISHABLE_KEY, "client_secret": client_secret},
            )
            return response.status_code

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        async with self._http() as http:
            response = await http.get(path, params=params)
            response.raise_for_status()
            return response.json()

    async def post(self, path: str, **data: Any) -> dict[str, Any]:
        async with self._http() as http:
            response = await http.post(path, data=data)
            response.raise_for_status()
            return response.json()

    async def intents_of(self, pledge_id: str) -> list[dict[str, Any]]:
        listing = await self.get("/v1/payment_intents", limit=100)
        return [pi for pi in listing["data"] if pi["metadata"].get("pledge_id") == pledge_id]


@dataclass
class Running:
    url: str
    ctx: ServiceContext
    env: TestEnv
    browser: Browser
    # Helpers for tests (test modules share code through fixtures, not imports).
    sign = staticmethod(signature_header)
    stripe_event = staticmethod(stripe_event)
    campaign_data = staticmethod(campaign_data)
    good_card = GOOD_CARD
    declined_card = DECLINED_CARD
    three_ds_card = THREE_DS_CARD
    unsavable_card = UNSAVABLE_CARD

    @property
    def store(self) -> Store:
        return self.ctx.get(Store)

    async def charger_tick(self) -> None:
        """One pass of the background jobs, now (instead of waiting for their tick)."""
        await self.ctx.get(Charger).run_once()

    async def checkout(self, pledge: dict[str, Any], card: str, backer: dict[str, str]) -> dict[str, Any]:
        """What the web page does: confirmCardSetup, then POST /pledges/{id}/confirm."""
        assert pledge["next_action"] == "confirm_card_setup", pledge
        await self.browser.confirm_setup(pledge["client_secret"], card)
        async with self.client() as client:
            confirmed = await client.post(f"/pledges/{pledge['id']}/confirm", headers=backer)
        assert confirmed.status_code == 200, confirmed.text
        return confirmed.json()

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=15)

    def auth(self, sub: str, **kwargs: Any) -> dict[str, str]:
        assert self.env.issuer is not None
        return self.env.issuer.headers(sub, **kwargs)

    async def publish(self, routing_key: str, subject: str, data: dict[str, Any]) -> None:
        """Another service's event, put on the bus the way it would be."""
        assert self.ctx.bus is not None
        await self.ctx.bus.wait_ready()
        source = "campaigns" if routing_key.startswith("campaign.") else "endorsements"
        await self.ctx.bus.publish(new_event(source, routing_key, subject, data))

    async def webhook(self, body: bytes, header: str | None = None) -> httpx.Response:
        async with self.client() as client:
            return await client.post(
                "/webhooks/stripe",
                content=body,
                headers={
                    "Stripe-Signature": header or signature_header(body),
                    "Content-Type": "application/json",
                },
            )


def _settings(env: TestEnv, localstripe_url: str, **overrides: Any) -> Settings:
    # Each app under test gets its own broker namespace: its queues never hold another test's
    # leftovers, and never clash with the queues the whole-platform `stack` (same session,
    # other consumer settings) declares under the session's namespace.
    return env.settings(
        Settings,
        "payments",
        bus_namespace=f"{env.namespace}p{uuid.uuid4().hex[:6]}.",
        stripe_api_base=localstripe_url,
        stripe_secret_key=SECRET_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        worker_tick_s=0.2,
        charge_concurrency=2,
        # A campaign whose charges have not settled is looked at again soon (payouts).
        payout_recheck_s=1.0,
        **overrides,
    )


@pytest.fixture
async def payments(env: TestEnv, localstripe_url: str) -> AsyncIterator[Running]:
    # Deliveries are built and signed by the tests themselves.
    app = build(_settings(env, localstripe_url, stripe_local_webhook=False))
    async with serve(app) as url:
        yield Running(url, app.state.ctx, env, Browser(localstripe_url))


@pytest.fixture
async def payments_hearing_localstripe(env: TestEnv, localstripe_url: str) -> AsyncIterator[Running]:
    """Payments registered as localstripe's webhook endpoint: localstripe itself signs and
    delivers what it sends (payment_intent.*, invoice.*, customer.subscription.*)."""
    port = free_port()
    app = build(_settings(env, localstripe_url, http_port=port, stripe_local_webhook=True))
    async with serve(app, port=port) as url:
        yield Running(url, app.state.ctx, env, Browser(localstripe_url))
