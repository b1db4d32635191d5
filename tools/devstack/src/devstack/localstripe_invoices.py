"""One-off invoices for localstripe: `POST /v1/invoices` without `subscription`.

localstripe's invoice creation is its subscriptions' "next invoice": without a subscription it
answers 404 "No upcoming invoices", with one it bills the next period and drops `metadata`.
Real Stripe creates a one-off draft invoice on the customer from its pending invoice items,
keeping `description` and `metadata`; that is what payments bills a city's match due with
(payments/city_dues/), so it is what this adds. With `subscription`, localstripe's own
behaviour is kept. Paying (`POST /v1/invoices/{id}/pay`), `invoice.*` webhooks and voiding
are localstripe's, unchanged.

Installed by the localstripe entry points of the stack and the tests (localstripe_connect,
localstripe_state) before the server starts.
"""

from __future__ import annotations

from typing import Any

from localstripe import resources
from localstripe.errors import UserError

_installed = False


def _one_off(cls: Any, customer: Any = None, subscription: Any = None, description: Any = None,
             metadata: Any = None, **rest: Any) -> Any:  # fmt: skip
    if subscription is not None or rest.get("subscription_items") is not None:
        return _original(customer=customer, subscription=subscription, description=description,
                         metadata=metadata, **rest)  # fmt: skip
    unknown = set(rest) - {"pending_invoice_items_behavior", "auto_advance", "collection_method"}
    if unknown:
        raise UserError(400, "Unexpected " + ", ".join(sorted(unknown)))
    if not (isinstance(customer, str) and customer.startswith("cus_")):
        raise UserError(400, "Bad request")
    if metadata is not None and not isinstance(metadata, dict):
        raise UserError(400, "Bad request")
    resources.Customer._api_retrieve(customer)  # 404 when unknown
    # The draft takes the customer's pending invoice items (Invoice.__init__ gathers them).
    return cls(customer=customer, description=description, metadata=metadata)


_original: Any = None


def install() -> None:
    """Replace POST /v1/invoices's handler (once; the server looks it up per request)."""
    global _installed, _original
    if _installed:
        return
    _installed = True
    _original = resources.Invoice._api_create
    resources.Invoice._api_create = classmethod(_one_off)  # type: ignore[method-assign,assignment]
