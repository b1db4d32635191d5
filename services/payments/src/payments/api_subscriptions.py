"""A city official subscribes their municipality; officials and admins read its subscriptions."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from servicekit.auth import PrincipalDep
from servicekit.errors import DomainError
from servicekit.idempotency import IdempotencyKey

from .deps import Subscriptions

router = APIRouter(tags=["city subscriptions"])

SLUG = r"^[a-z0-9-]{2,60}$"


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    municipality: str = Field(pattern=SLUG)
    plan: Literal["monthly", "yearly"]
    # The card: a PaymentMethod created by Stripe.js (stripe.createPaymentMethod), or a
    # SetupIntent from POST /subscriptions/card-setups that Stripe.js confirmed (confirmCardSetup).
    payment_method: str | None = Field(default=None, pattern=r"^pm_[A-Za-z0-9_]{1,200}$")
    setup_intent: str | None = Field(default=None, pattern=r"^seti_[A-Za-z0-9_]{1,200}$")
    billing_email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

    @model_validator(mode="after")
    def one_card(self) -> SubscriptionIn:
        if (self.payment_method is None) == (self.setup_intent is None):
            raise ValueError("give exactly one of payment_method and setup_intent")
        return self


class CardSetupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    municipality: str = Field(pattern=SLUG)
    billing_email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CardSetupOut(BaseModel):
    setup_intent: str
    client_secret: str = Field(description="for Stripe.js's confirmCardSetup")


class SubscriptionOut(BaseModel):
    id: str
    municipality: str
    plan: str
    status: str
    active: bool
    current_period_end: str | None = None
    cancel_at_period_end: bool = False
    client_secret: str | None = Field(
        default=None,
        description="while the first payment waits for 3-D Secure: Stripe.js's confirmCardPayment "
        "finishes it in the browser, then POST /subscriptions/{id}/refresh",
    )


class SubscriptionPage(BaseModel):
    items: list[SubscriptionOut]


def subscription_out(doc: dict[str, Any]) -> SubscriptionOut:
    return SubscriptionOut(
        id=doc["_id"],
        municipality=doc["municipality"],
        plan=doc["plan"],
        status=doc["status"],
        active=bool(doc.get("active")),
        current_period_end=doc.get("current_period_end"),
        cancel_at_period_end=bool(doc.get("cancel_at_period_end")),
        client_secret=doc.get("client_secret") if doc.get("status") == "incomplete" else None,
    )


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: Literal["monthly", "yearly"]


class CancellationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cancel_at_period_end: bool = Field(description="true: ends when the paid period ends; false: undo")


class InvoiceOut(BaseModel):
    id: str
    number: str | None = None
    status: str
    amount_due: int
    amount_paid: int
    currency: str
    created: str | None = None
    hosted_invoice_url: str | None = None


class InvoicePage(BaseModel):
    items: list[InvoiceOut]


def _manager(principal: Any, municipality: str) -> None:
    if not principal.is_official_of(municipality, "manager"):
        raise DomainError("forbidden", 403, f"only a manager of {municipality} manages its subscription")


def _reader(principal: Any, municipality: str) -> None:
    if not (principal.is_admin or principal.is_official_of(municipality)):
        raise DomainError(
            "forbidden", 403, f"only officials of {municipality} and admins see its subscription"
        )


@router.post("/subscriptions", status_code=201, response_model=SubscriptionOut)
async def subscribe_city(
    body: SubscriptionIn,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey,
    subscriptions: Subscriptions,
) -> SubscriptionOut:
    if not principal.is_official_of(body.municipality, "manager"):
        raise DomainError("forbidden", 403, f"only a manager of {body.municipality} can subscribe it")
    doc = await subscriptions.subscribe(
        body.municipality, body.plan, body.payment_method, body.billing_email, idempotency_key,
        setup_intent=body.setup_intent,
    )  # fmt: skip
    return subscription_out(doc)


@router.post("/subscriptions/card-setups", status_code=201, response_model=CardSetupOut)
async def card_setup(
    body: CardSetupIn, principal: PrincipalDep, idempotency_key: IdempotencyKey, subscriptions: Subscriptions
) -> CardSetupOut:
    """Save the city's card first (Stripe.js confirmCardSetup, 3-D Secure included), then
    subscribe with `setup_intent`."""
    _manager(principal, body.municipality)
    intent, secret = await subscriptions.card_setup(body.municipality, body.billing_email, idempotency_key)
    return CardSetupOut(setup_intent=intent, client_secret=secret)


@router.get("/subscriptions", response_model=SubscriptionPage)
async def list_subscriptions(
    principal: PrincipalDep, subscriptions: Subscriptions, municipality: str = Query(pattern=SLUG)
) -> SubscriptionPage:
    if not (principal.is_admin or principal.is_official_of(municipality)):
        raise DomainError(
            "forbidden", 403, f"only officials of {municipality} and admins see its subscription"
        )
    return SubscriptionPage(
        items=[subscription_out(d) for d in await subscriptions.of_municipality(municipality)]
    )


@router.post("/subscriptions/{subscription_id}/refresh", response_model=SubscriptionOut)
async def refresh_subscription(
    subscription_id: str, principal: PrincipalDep, subscriptions: Subscriptions,
    municipality: str = Query(pattern=SLUG),
) -> SubscriptionOut:  # fmt: skip
    """Re-fetch the subscription from Stripe (after Stripe.js finished a 3-D Secure payment)."""
    _reader(principal, municipality)
    return subscription_out(await subscriptions.confirm(municipality, subscription_id))


@router.get("/subscriptions/{subscription_id}/invoices", response_model=InvoicePage)
async def list_invoices(
    subscription_id: str, principal: PrincipalDep, subscriptions: Subscriptions,
    municipality: str = Query(pattern=SLUG),
) -> InvoicePage:  # fmt: skip
    _reader(principal, municipality)
    found = await subscriptions.invoices(municipality, subscription_id)
    return InvoicePage(items=[InvoiceOut(**i) for i in found])


@router.post("/subscriptions/{subscription_id}/plan", response_model=SubscriptionOut)
async def change_plan(
    subscription_id: str, body: PlanIn, principal: PrincipalDep, subscriptions: Subscriptions,
    idempotency_key: IdempotencyKey, municipality: str = Query(pattern=SLUG),
) -> SubscriptionOut:  # fmt: skip
    """Move to the other plan (money: Idempotency-Key); Stripe bills the new plan at once."""
    _manager(principal, municipality)
    doc = await subscriptions.change_plan(municipality, subscription_id, body.plan, idempotency_key)
    return subscription_out(doc)


@router.post("/subscriptions/{subscription_id}/cancellation", response_model=SubscriptionOut)
async def cancel_at_period_end(
    subscription_id: str, body: CancellationIn, principal: PrincipalDep, subscriptions: Subscriptions,
    municipality: str = Query(pattern=SLUG),
) -> SubscriptionOut:  # fmt: skip
    """Cancel at the end of the paid period (the city labels until then), or undo it."""
    _manager(principal, municipality)
    doc = await subscriptions.cancel_at_period_end(municipality, subscription_id, body.cancel_at_period_end)
    return subscription_out(doc)
