"""Stripe Connect for localstripe: connected accounts, account links (with a local onboarding
page), transfers and their reversals, the `Stripe-Account` header, `account.updated` and
`transfer.*` webhooks, and Stripe-like processing fees on charges.

localstripe has none of Connect, and no other fake Stripe does; payouts (payments/payouts.py)
need it in development and tests. This module adds it the way localstripe itself is written
(StripeObject subclasses kept in its store, routes on its aiohttp app, events through its
webhook scheduler), so the state file of `localstripe_state` keeps these objects too.

    python -m devstack.localstripe_connect --port 8420 --from-scratch   # what the tests run

LOCALSTRIPE_PUBLIC_URL (optional) is the address account links point the holder's browser at
(default: the address the API request came to).

What it does NOT do (the payments README lists it too): no Standard/Custom account
dashboards, no verification (onboarding is one button), no payouts from connected accounts to
banks, no destination charges or `on_behalf_of`, no application fees, and the `Stripe-Account`
header is accepted only on `GET /v1/account` and `GET /v1/balance` (anything else answers 400,
never silently acting on the platform instead).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import sys
import time
from typing import Any
from urllib.parse import urlparse

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError
from localstripe.resources import Event, StripeObject, random_id, store, try_convert_to_bool
from localstripe.webhooks import schedule_webhook

from devstack import localstripe_disputes, localstripe_invoices

ONBOARDING_PATH = "/connect/onboarding/"
ACCOUNT_LINK_TTL_S = 300  # Stripe's account links expire after five minutes
# Stripe's standard EEA card pricing, so that payouts have real fees to show apart.
FEE_PERCENT_BP = 150  # 1.5 %, in basis points
FEE_FIXED = 25
# Stripe-Account is honoured only where this fake knows what a connected account sees.
CONNECTED_ACCOUNT_PATHS = {("GET", "/v1/account"), ("GET", "/v1/balance")}


def _bad(message: str, code: str | None = None, param: str | None = None, status: int = 400) -> UserError:
    contents: dict[str, Any] = {}
    if code:
        contents["code"] = code
    if param:
        contents["param"] = param
    return UserError(status, message, contents)


def _url(value: Any, name: str) -> str:
    parsed = urlparse(value) if isinstance(value, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise _bad(f"Invalid URL: {name} must be an http(s) URL", "url_invalid", name)
    return str(value)


def _amount(value: Any) -> int:
    amount = resources.try_convert_to_int(value)
    if type(amount) is not int or amount <= 0:
        raise _bad("Invalid positive integer", "parameter_invalid_integer", "amount")
    return amount


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad("Invalid object", "parameter_invalid_object", "metadata")
    return {str(k): str(v) for k, v in value.items()}


# -- resources ----------------------------------------------------------------------------------


class Account(StripeObject):
    object = "account"
    _id_prefix = "acct_"

    def __init__(
        self,
        type: str | None = None,  # Stripe's parameter name
        country: str | None = None,
        email: str | None = None,
        business_type: str | None = None,
        business_profile: dict[str, Any] | None = None,
        capabilities: dict[str, Any] | None = None,
        default_currency: str | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise _bad("Received unknown parameters: " + ", ".join(kwargs), "parameter_unknown")
        if type not in ("express", "standard", "custom"):
            raise _bad("type must be express, standard or custom", "parameter_invalid_empty", "type")
        if country is not None and (not isinstance(country, str) or len(country) != 2):
            raise _bad("Invalid country", "parameter_invalid_string", "country")
        if business_type not in (None, "individual", "company", "non_profit", "government_entity"):
            raise _bad("Invalid business_type", "parameter_invalid_string", "business_type")
        requested = []
        for name, wanted in (capabilities or {}).items():
            if not isinstance(wanted, dict) or name not in ("transfers", "card_payments"):
                raise _bad(f"Invalid capability {name}", "parameter_invalid_object", "capabilities")
            if try_convert_to_bool(wanted.get("requested")) is True:
                requested.append(name)
        if type == "express" and "transfers" not in requested:
            # Stripe refuses an Express account that requests no capability.
            raise _bad(
                "Express accounts must request the transfers capability", "parameter_missing", "capabilities"
            )
        meta = _metadata(metadata)
        super().__init__()  # all checks are done: this stores the object
        self.type = type
        self.country = (country or "FR").upper()
        self.email = email
        self.business_type = business_type
        self.business_profile = business_profile or {}
        self.default_currency = (default_currency or "eur").lower()
        self.metadata = meta
        self.capabilities = {name: "inactive" for name in requested}
        self.charges_enabled = False
        self.payouts_enabled = False
        self.details_submitted = False
        self.requirements = {
            "currently_due": ["business_profile.url", "external_account", "tos_acceptance.date"],
            "eventually_due": [],
            "past_due": [],
            "pending_verification": [],
            "errors": [],
            "disabled_reason": "requirements.past_due",
            "current_deadline": None,
        }
        self.tos_acceptance = {"date": None}

    def _complete_onboarding(self) -> None:
        """What a holder finishing Stripe's hosted onboarding leads to."""
        self.details_submitted = True
        self.charges_enabled = "card_payments" in self.capabilities or self.type != "express"
        self.payouts_enabled = True
        self.capabilities = {name: "active" for name in self.capabilities}
        self.requirements = {**self.requirements, "currently_due": [], "disabled_reason": None}
        self.tos_acceptance = {"date": int(time.time())}
        _save(self)
        schedule_webhook(Event("account.updated", self))

    @classmethod
    def _api_update(cls, id: str, **data: Any) -> Account:
        obj = cls._api_retrieve(id)
        allowed = {"email", "business_profile", "metadata", "default_currency", "business_type"}
        unknown = set(data) - allowed
        if unknown:
            raise _bad("Received unknown parameters: " + ", ".join(sorted(unknown)), "parameter_unknown")
        obj._update(**data)
        _save(obj)
        schedule_webhook(Event("account.updated", obj))
        return obj  # type: ignore[return-value]

    @classmethod
    def _api_delete(cls, id: str) -> Any:
        obj = cls._api_retrieve(id)
        if _balance_of(obj.id) > 0:
            raise _bad("This account has a balance and cannot be deleted", "account_invalid")
        return super()._api_delete(id)

    @property
    def transfers_active(self) -> bool:
        return self.capabilities.get("transfers") == "active"


class AccountLink(StripeObject):
    """Stripe's account links have no id; this one keeps its token as one, privately."""

    object = "account_link"
    _id_prefix = "acctlink_"

    def __init__(self, base_url: str, account: Any = None, refresh_url: Any = None,
                 return_url: Any = None, type: Any = None, collect: Any = None,
                 collection_options: Any = None, **kwargs: Any) -> None:  # fmt: skip
        if kwargs:
            raise _bad("Received unknown parameters: " + ", ".join(kwargs), "parameter_unknown")
        if type not in ("account_onboarding", "account_update"):
            raise _bad(
                "type must be account_onboarding or account_update", "parameter_invalid_string", "type"
            )
        if not isinstance(account, str) or not account.startswith("acct_"):
            raise _bad("Missing required param: account", "parameter_missing", "account")
        target = Account._api_retrieve(account)
        if type == "account_update" and target.type == "express":
            raise _bad("Express accounts cannot use account_update links", "parameter_invalid_string", "type")
        refresh, back = _url(refresh_url, "refresh_url"), _url(return_url, "return_url")
        super().__init__()
        self._account = account
        self._refresh_url = refresh
        self._return_url = back
        self._used = False
        self.type = type
        self.expires_at = self.created + ACCOUNT_LINK_TTL_S
        self.url = base_url.rstrip("/") + ONBOARDING_PATH + self.id

    def _export(self, expand: Any = None) -> dict[str, Any]:
        exported = super()._export(expand)
        exported.pop("id", None)
        return exported


class TransferReversal(StripeObject):
    object = "transfer_reversal"
    _id_prefix = "trr_"

    def __init__(self, transfer: Transfer, amount: int, metadata: dict[str, str]) -> None:
        super().__init__()
        self.amount = amount
        self.currency = transfer.currency
        self.transfer = transfer.id
        self.metadata = metadata
        self.balance_transaction = f"txn_{random_id(24)}"
        self.destination_payment_refund = f"pyr_{random_id(24)}"


class Transfer(StripeObject):
    object = "transfer"
    _id_prefix = "tr_"

    def __init__(
        self,
        amount: Any = None,
        currency: Any = None,
        destination: Any = None,
        transfer_group: Any = None,
        description: Any = None,
        metadata: Any = None,
        source_transaction: Any = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise _bad("Received unknown parameters: " + ", ".join(kwargs), "parameter_unknown")
        amount = _amount(amount)
        if not isinstance(currency, str) or len(currency) != 3:
            raise _bad("Missing required param: currency", "parameter_missing", "currency")
        if not isinstance(destination, str) or not destination.startswith("acct_"):
            raise _bad("Missing required param: destination", "parameter_missing", "destination")
        if store.get("account:" + destination) is None:
            raise _bad(f"No such destination: '{destination}'", "resource_missing", "destination")
        account = Account._api_retrieve(destination)
        if not account.transfers_active:
            raise _bad(
                "Your destination account needs to have at least one of the following capabilities "
                "enabled: transfers, crypto_transfers, legacy_payments",
                "insufficient_capabilities_for_transfer",
                "destination",
            )
        if transfer_group is not None and not isinstance(transfer_group, str):
            raise _bad("Invalid transfer_group", "parameter_invalid_string", "transfer_group")
        meta = _metadata(metadata)
        currency = currency.lower()
        if platform_available(currency) < amount:
            raise _bad(
                "You have insufficient available funds in your Stripe account.", "balance_insufficient"
            )
        super().__init__()
        self.amount = amount
        self.amount_reversed = 0
        self.currency = currency
        self.destination = destination
        self.destination_payment = f"py_{random_id(24)}"
        self.transfer_group = transfer_group
        self.description = description
        self.metadata = meta
        self.source_transaction = source_transaction
        self.source_type = "card"
        self.reversed = False
        self.balance_transaction = f"txn_{random_id(24)}"
        self._reversals: list[TransferReversal] = []
        schedule_webhook(Event("transfer.created", self))

    @property
    def reversals(self) -> dict[str, Any]:
        data = [r._export() for r in self._reversals]
        return {"object": "list", "data": data, "has_more": False, "total_count": len(data),
                "url": f"/v1/transfers/{self.id}/reversals"}  # fmt: skip

    @classmethod
    def _api_update(cls, id: str, **data: Any) -> Transfer:
        unknown = set(data) - {"description", "metadata"}
        if unknown:
            raise _bad("Received unknown parameters: " + ", ".join(sorted(unknown)), "parameter_unknown")
        obj = cls._api_retrieve(id)
        obj._update(**data)
        _save(obj)
        schedule_webhook(Event("transfer.updated", obj))
        return obj  # type: ignore[return-value]

    @classmethod
    def _api_delete(cls, id: str) -> Any:
        raise UserError(405, "Method Not Allowed")

    @classmethod
    def _api_list_all(cls, url: str, limit: Any = None, starting_after: Any = None,
                      destination: Any = None, transfer_group: Any = None, **kwargs: Any) -> Any:  # fmt: skip
        listing = super()._api_list_all(url, limit=limit, starting_after=starting_after, **kwargs)
        if destination is not None:
            listing._list = [t for t in listing._list if t.destination == destination]
        if transfer_group is not None:
            listing._list = [t for t in listing._list if t.transfer_group == transfer_group]
        listing._list.sort(key=lambda t: t.created, reverse=True)
        return listing

    def _reverse(self, amount: Any = None, metadata: Any = None, **kwargs: Any) -> TransferReversal:
        if kwargs:
            raise _bad("Received unknown parameters: " + ", ".join(kwargs), "parameter_unknown")
        left = self.amount - self.amount_reversed
        value = left if amount is None else _amount(amount)
        if left <= 0 or value > left:
            raise _bad("The transfer has already been fully reversed", "transfer_already_reversed")
        reversal = TransferReversal(self, value, _metadata(metadata))
        self._reversals.append(reversal)
        self.amount_reversed += value
        self.reversed = self.amount_reversed == self.amount
        _save(self)
        schedule_webhook(Event("transfer.reversed", self))
        return reversal


def _save(obj: StripeObject) -> None:
    """Write an object back, so the store's on-disk copy (localstripe_state) sees the change."""
    store[obj.object + ":" + obj.id] = obj


# -- balances -----------------------------------------------------------------------------------


def _objects(kind: str) -> list[Any]:
    return [v for k, v in store.items() if k.startswith(kind + ":")]


def _transferred_net(transfers: list[Transfer]) -> int:
    return sum(t.amount - t.amount_reversed for t in transfers)


def platform_available(currency: str) -> int:
    """What the platform may transfer: its charges net of fees and refunds, less what it has
    transferred and not got back."""
    cash = sum(t.net for t in _objects("balance_transaction") if t.currency == currency)
    return cash - _transferred_net([t for t in _objects("transfer") if t.currency == currency])


def _balance_of(account_id: str) -> int:
    return _transferred_net([t for t in _objects("transfer") if t.destination == account_id])


def _balance_export(account_id: str | None) -> dict[str, Any]:
    if account_id is None:
        currencies = {t.currency for t in _objects("balance_transaction")} or {"eur"}
        amounts = {c: platform_available(c) for c in sorted(currencies)}
    else:
        transfers = [t for t in _objects("transfer") if t.destination == account_id]
        currencies = {t.currency for t in transfers} or {"eur"}
        amounts = {c: _transferred_net([t for t in transfers if t.currency == c]) for c in sorted(currencies)}
    available = [{"amount": a, "currency": c, "source_types": {"card": a}} for c, a in amounts.items()]
    pending = [{"amount": 0, "currency": c, "source_types": {"card": 0}} for c in amounts]
    return {"object": "balance", "livemode": False, "available": available, "pending": pending}


# -- HTTP ---------------------------------------------------------------------------------------


def _idempotent(create: Any) -> Any:
    """Stripe's idempotency for the creating routes added here: the same key with the same
    parameters answers the first object again; with other parameters, 400 idempotency_error."""

    async def handler(request: web.Request) -> web.Response:
        data = await server.get_post_data(request) or {}
        key = request.headers.get("Idempotency-Key")
        if not key:
            return server.json_response(create(request, data)._export())
        fingerprint = hashlib.sha256(
            (request.path + json.dumps(data, sort_keys=True, default=str)).encode()
        ).hexdigest()
        slot = "idempotency_key:" + hashlib.sha256(key.encode()).hexdigest()
        seen = store.get(slot)
        if seen is not None:
            if seen["fingerprint"] != fingerprint:
                raise UserError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they "
                    "were first used with.",
                    {"type": "idempotency_error"},
                )
            return server.json_response(seen["answer"], headers={"Idempotent-Replayed": "true"})
        answer = create(request, data)._export()
        store[slot] = {"fingerprint": fingerprint, "answer": answer}
        return server.json_response(answer)

    return handler


def _create_account(_request: web.Request, data: dict[str, Any]) -> StripeObject:
    return Account(**data)


def _create_account_link(request: web.Request, data: dict[str, Any]) -> StripeObject:
    # The holder's browser opens the link: where it reaches localstripe may differ from where
    # payments does (docker compose: `localstripe:8420` inside, `localhost:8420` outside).
    public = os.environ.get("LOCALSTRIPE_PUBLIC_URL") or f"{request.scheme}://{request.host}"
    return AccountLink(public, **data)


def _create_transfer(_request: web.Request, data: dict[str, Any]) -> StripeObject:
    return Transfer(**data)


def _create_reversal(request: web.Request, data: dict[str, Any]) -> StripeObject:
    transfer = Transfer._api_retrieve(request.match_info["id"])
    return transfer._reverse(**data)  # type: ignore[attr-defined]


async def _list_reversals(request: web.Request) -> web.Response:
    transfer = Transfer._api_retrieve(request.match_info["id"])
    return server.json_response(transfer.reversals)  # type: ignore[attr-defined]


def _platform_account() -> dict[str, Any]:
    return {"id": "acct_localstripe_platform", "object": "account", "type": "standard",
            "charges_enabled": True, "payouts_enabled": True, "details_submitted": True,
            "country": "FR", "default_currency": "eur", "capabilities": {}}  # fmt: skip


async def _this_account(request: web.Request) -> web.Response:
    connected = request.headers.get("Stripe-Account")
    if connected:
        return server.json_response(Account._api_retrieve(connected)._export())
    return server.json_response(_platform_account())


async def _balance(request: web.Request) -> web.Response:
    return server.json_response(_balance_export(request.headers.get("Stripe-Account")))


def _link(token: str) -> AccountLink:
    link = store.get("account_link:" + token)
    if link is None:
        raise web.HTTPNotFound(text="This onboarding link does not exist.")
    return link  # type: ignore[no-any-return]


def _stale(link: AccountLink) -> bool:
    return link._used or time.time() > link.expires_at


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stripe Express onboarding (localstripe)</title>
<style>body{{font-family:sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}}
button{{font-size:1rem;padding:.6rem 1.2rem;background:#3c2fa8;color:#fff;border:0;border-radius:4px}}
button:focus,a:focus{{outline:3px solid #f0a500;outline-offset:2px}} a{{color:#3c2fa8}}</style>
</head><body><main>
<h1>Set up payouts for {email}</h1>
<p>This is localstripe's stand-in for Stripe's hosted Express onboarding of account
<code>{account}</code>. No identity or bank details are asked for here.</p>
<form method="post" action="{action}">
<button type="submit" name="decision" value="complete">Complete onboarding</button>
</form>
<p><a href="{leave}">Leave without finishing</a></p>
</main></body></html>
"""


async def _onboarding_page(request: web.Request) -> web.StreamResponse:
    link = _link(request.match_info["token"])
    if _stale(link):
        raise web.HTTPFound(link._refresh_url)  # Stripe: a used or expired link goes to refresh_url
    account = Account._api_retrieve(link._account)
    page = _PAGE.format(
        email=html.escape(account.email or "your organisation"),
        account=html.escape(account.id),
        action=html.escape(ONBOARDING_PATH + request.match_info["token"]),
        leave=html.escape(link._return_url),
    )
    return web.Response(text=page, content_type="text/html")


async def _onboarding_done(request: web.Request) -> web.StreamResponse:
    link = _link(request.match_info["token"])
    if _stale(link):
        raise web.HTTPSeeOther(link._refresh_url)
    link._used = True
    _save(link)
    Account._api_retrieve(link._account)._complete_onboarding()  # type: ignore[attr-defined]
    raise web.HTTPSeeOther(link._return_url)


@web.middleware
async def connect_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """The onboarding page is the holder's browser, with no API key; `Stripe-Account` is refused
    where this fake would otherwise act on the platform's own objects."""
    if request.path.startswith(ONBOARDING_PATH):
        return await handler(request)
    connected = request.headers.get("Stripe-Account")
    if connected:
        if store.get("account:" + connected) is None:
            raise UserError(
                403,
                f"The provided key does not have access to account '{connected}' (or that account "
                "does not exist).",
                {"type": "permission_error"},
            )
        if (request.method, request.path) not in CONNECTED_ACCOUNT_PATHS:
            raise _bad(f"localstripe: Stripe-Account is not supported on {request.method} {request.path}")
    if (
        request.method == "POST"
        and request.path in IDEMPOTENT_CORE_PATHS
        and request.headers.get("Idempotency-Key")
    ):
        return await _auth(request, lambda r: _replay_or_create(r, handler))
    if request.method == "GET" and request.path == "/v1/balance":
        # localstripe's own answers a constant; this one is the platform's (or the connected
        # account's) real balance, so it replaces that route.
        return await _auth(request, _balance)
    return await _auth(request, handler)


_auth = server.auth_middleware

# Stripe's idempotency on localstripe's own money-moving routes too. payments takes up a charge or
# a refund cut short (its process killed mid-call) with the same key and must get the first
# PaymentIntent or refund back, as Stripe answers, not a second charge (found by bench/chaos.py:
# localstripe created a second PaymentIntent). Only successful answers are kept.
IDEMPOTENT_CORE_PATHS = {"/v1/payment_intents", "/v1/refunds"}


async def _replay_or_create(request: web.Request, handler: Any) -> web.StreamResponse:
    data = await server.get_post_data(request) or {}
    key = request.headers["Idempotency-Key"]
    fingerprint = hashlib.sha256(
        (request.path + json.dumps(data, sort_keys=True, default=str)).encode()
    ).hexdigest()
    slot = "idempotency_key:" + hashlib.sha256(key.encode()).hexdigest()
    seen = store.get(slot)
    if seen is not None:
        if seen["fingerprint"] != fingerprint:
            raise UserError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                {"type": "idempotency_error"},
            )
        return server.json_response(seen["answer"], headers={"Idempotent-Replayed": "true"})
    response = await handler(request)
    if response.status == 200 and isinstance(response, web.Response) and response.body:
        store[slot] = {"fingerprint": fingerprint, "answer": json.loads(bytes(response.body))}
    return response


def _charge_fee(amount: int) -> int:
    return FEE_FIXED + (amount * FEE_PERCENT_BP + 5_000) // 10_000


def _install_fees() -> None:
    original = resources.BalanceTransaction.__init__

    def with_fee(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.type == "charge" and self.amount > 0:
            self.fee = _charge_fee(self.amount)
            self.fee_details = [
                {"amount": self.fee, "currency": self.currency, "type": "stripe_fee",
                 "description": "Stripe processing fees", "application": None}
            ]  # fmt: skip
            _save(self)

    resources.BalanceTransaction.__init__ = with_fee  # type: ignore[method-assign]


_installed = False


def install() -> None:
    """Add Connect to localstripe's app; call before `server.start()` (once)."""
    global _installed
    if _installed:
        return
    _installed = True
    _install_fees()
    app = server.app
    # Replace localstripe's auth middleware by ours, which calls it for every API route.
    app._middlewares = type(app._middlewares)(  # the app is not frozen yet
        connect_middleware if m is server.auth_middleware else m for m in app._middlewares
    )
    router = app.router
    router.add_get(ONBOARDING_PATH + "{token}", _onboarding_page)
    router.add_post(ONBOARDING_PATH + "{token}", _onboarding_done)
    router.add_get("/v1/account", _this_account)
    router.add_post("/v1/accounts", _idempotent(_create_account))
    router.add_post("/v1/account_links", _idempotent(_create_account_link))
    router.add_post("/v1/transfers", _idempotent(_create_transfer))
    router.add_post("/v1/transfers/{id}/reversals", _idempotent(_create_reversal))
    router.add_get("/v1/transfers/{id}/reversals", _list_reversals)
    for cls in (Account, Transfer):
        base = "/v1/" + cls.object + "s"
        router.add_get(base + "/{id}", server.api_retrieve(cls, base))
        router.add_post(base + "/{id}", server.api_update(cls, base))
        router.add_delete(base + "/{id}", server.api_delete(cls, base))
        router.add_get(base, server.api_list_all(cls, base))


def main() -> None:
    """The same command line as `localstripe` (`--port`, `--from-scratch`), with Connect."""
    install()
    localstripe_invoices.install()  # one-off invoices (cities' match dues)
    localstripe_disputes.install()  # disputes on charges (refunds and disputes)
    sys.argv[0] = "localstripe"
    server.start()


if __name__ == "__main__":
    # Run the importable module, not this `__main__` copy: the classes pickled into
    # localstripe's store must be `devstack.localstripe_connect.*`.
    from devstack.localstripe_connect import main as run

    run()
