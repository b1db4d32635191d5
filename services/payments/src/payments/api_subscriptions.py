"""A city official subscribes their municipality; officials and admins read its subscriptions."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

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
    # A PaymentMethod created in the browser by Stripe.js (stripe.createPaymentMethod).
    payment_method: str = Field(pattern=r"^pm_[A-Za-z0-9_]{1,200}$")
    billing_email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SubscriptionOut(BaseModel):
    id: str
    municipality: str
    plan: str
    status: str
    active: bool
    current_period_end: str | None = None
    client_secret: str | None = None


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
        client_secret=doc.get("client_secret"),
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
        body.municipality, body.plan, body.payment_method, body.billing_email, idempotency_key
    )
    return subscription_out(doc)


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
