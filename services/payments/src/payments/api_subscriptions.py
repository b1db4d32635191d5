"""A city official subscribes their municipality; officials and admins read its subscriptions."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from servicekit.auth import Principal, current_principal
from servicekit.errors import ApiError

from .subscriptions import CitySubscriptions, subscription_out

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


def _subs(request: Request) -> CitySubscriptions:
    return request.app.state.ctx.extras["subscriptions"]


@router.post("/subscriptions", status_code=201, response_model=SubscriptionOut)
async def subscribe_city(
    body: SubscriptionIn,
    request: Request,
    principal: Principal = Depends(current_principal),
    idempotency_key: str = Header(..., alias="Idempotency-Key", min_length=8, max_length=200),
) -> SubscriptionOut:
    if not principal.is_official_of(body.municipality, "manager"):
        raise ApiError(403, "forbidden", f"only a manager of {body.municipality} can subscribe it")
    doc = await _subs(request).subscribe(
        body.municipality, body.plan, body.payment_method, body.billing_email, idempotency_key
    )
    return SubscriptionOut(**subscription_out(doc))


@router.get("/subscriptions", response_model=SubscriptionPage)
async def list_subscriptions(
    request: Request,
    municipality: str = Query(pattern=SLUG),
    principal: Principal = Depends(current_principal),
) -> SubscriptionPage:
    if not (principal.is_admin or principal.is_official_of(municipality)):
        raise ApiError(403, "forbidden", f"only officials of {municipality} and admins see its subscription")
    docs = await _subs(request).store.subscriptions_of(municipality)
    return SubscriptionPage(items=[SubscriptionOut(**subscription_out(d)) for d in docs])
