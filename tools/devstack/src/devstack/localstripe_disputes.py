"""Disputes for localstripe: Dispute objects on charges, `GET /v1/disputes[/{id}]`, and the
`charge.dispute.created` / `charge.dispute.funds_withdrawn` / `charge.dispute.closed` /
`charge.dispute.funds_reinstated` webhooks Stripe sends.

localstripe has no disputes. On Stripe a dispute is opened by the card's bank (test card
4000000000000259 disputes on its own); here a test opens one through a test-only route, and
closes it the way the bank's decision would:

    POST /_test/charges/{charge id}/dispute   [reason=fraudulent]   -> the Dispute (needs_response)
    POST /_test/disputes/{dispute id}/close   outcome=won|lost      -> the Dispute (won / lost)

Both need the secret key, like the API. The whole charge is disputed (Stripe's usual case);
no balance transactions, no evidence submission, no `POST /v1/disputes/{id}/close` (accepting
the loss), no partial disputes: the payments README lists it too.

Installed by the localstripe entry points of the stack and the tests (localstripe_connect,
localstripe_state) before the server starts.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError
from localstripe.resources import Event, StripeObject, store
from localstripe.webhooks import schedule_webhook

OPEN = ("warning_needs_response", "needs_response", "under_review", "warning_under_review")
_installed = False


class Dispute(StripeObject):
    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge: Any = None, reason: Any = None, **kwargs: Any) -> None:
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        if not isinstance(charge, str) or not charge.startswith("ch_"):
            raise UserError(400, "Bad request")
        charge_obj = resources.Charge._api_retrieve(charge)
        if charge_obj.status != "succeeded":
            raise UserError(400, "Only a succeeded charge can be disputed.")
        for other in _disputes():
            if other.charge == charge:
                raise UserError(400, f"Charge {charge} has already been disputed.")
        super().__init__()
        self.amount = charge_obj.amount
        self.currency = charge_obj.currency
        self.charge = charge
        self.payment_intent = charge_obj.payment_intent
        self.reason = str(reason or "fraudulent")
        self.status = "needs_response"
        self.metadata: dict[str, str] = {}
        self.is_charge_refundable = False
        self.evidence: dict[str, Any] = {}
        # localstripe's balance transactions only know charges and refunds: none here.
        self.balance_transactions: list[str] = []
        charge_obj.disputed = True
        schedule_webhook(Event("charge.dispute.created", self))
        schedule_webhook(Event("charge.dispute.funds_withdrawn", self))

    def _close(self, outcome: str) -> Dispute:
        if outcome not in ("won", "lost"):
            raise UserError(400, "outcome must be won or lost", {"param": "outcome"})
        if self.status not in OPEN:
            raise UserError(400, f"Dispute {self.id} is already closed ({self.status}).")
        self.status = outcome
        if outcome == "won":
            schedule_webhook(Event("charge.dispute.funds_reinstated", self))
        schedule_webhook(Event("charge.dispute.closed", self))
        return self

    @classmethod
    def _api_list_all(  # type: ignore[override]
        cls, url: Any, charge: Any = None, payment_intent: Any = None, limit: Any = None,
        starting_after: Any = None,
    ) -> Any:  # fmt: skip
        li = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        if charge is not None:
            li._list = [d for d in li._list if d.charge == charge]
        if payment_intent is not None:
            li._list = [d for d in li._list if d.payment_intent == payment_intent]
        li._list.sort(key=lambda d: d.created, reverse=True)
        return li


def _disputes() -> list[Dispute]:
    return [v for k, v in store.items() if k.startswith("dispute:")]


async def _open(request: web.Request) -> web.Response:
    data = await server.get_post_data(request) or {}
    dispute = Dispute(charge=request.match_info["id"], reason=data.get("reason"))
    return server.json_response(dispute._export())


async def _close(request: web.Request) -> web.Response:
    data = await server.get_post_data(request) or {}
    dispute = Dispute._api_retrieve(request.match_info["id"])
    return server.json_response(dispute._close(str(data.get("outcome")))._export())  # type: ignore[attr-defined]


def install() -> None:
    """Add disputes to localstripe's app; call before `server.start()` (once)."""
    global _installed
    if _installed:
        return
    _installed = True
    router = server.app.router
    router.add_post("/_test/charges/{id}/dispute", _open)
    router.add_post("/_test/disputes/{id}/close", _close)
    router.add_get("/v1/disputes/{id}", server.api_retrieve(Dispute, "/v1/disputes"))
    router.add_get("/v1/disputes", server.api_list_all(Dispute, "/v1/disputes"))
