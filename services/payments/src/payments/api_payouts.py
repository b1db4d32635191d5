"""Payouts: a holder's connected account (Stripe Connect onboarding), their campaigns' payouts
(tips, Stripe fees and the cities' match apart), and the admins' queue (approve, retry a failure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from servicekit.auth import AdminDep, PrincipalDep
from servicekit.errors import DomainError
from servicekit.idempotency import IdempotencyKey
from servicekit.mongo import as_utc as when

from .deps import PayoutsDep

router = APIRouter(tags=["payouts"])

STRIPE_DOWN = {502: {"description": "Stripe did not answer or refused the request (payment_provider_error)"}}
PayoutStatus = Literal["pending", "approved", "transferring", "paid", "failed"]


class OnboardingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(
        default=None, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$",
        description="prefills Stripe's onboarding form",
    )  # fmt: skip


class AccountOut(BaseModel):
    status: Literal["none", "onboarding", "ready", "restricted"]
    stripe_account_id: str | None = None
    payouts_enabled: bool = False
    details_submitted: bool = False
    requirements_due: list[str] = []


class OnboardingOut(BaseModel):
    url: str = Field(description="Stripe's hosted onboarding (single use, expires within minutes)")
    account: AccountOut


class PayoutOut(BaseModel):
    id: str
    campaign_id: str
    owner_id: str
    sequence: int = Field(description="1, 2, ... per campaign (a later tranche is one more payout)")
    status: PayoutStatus
    amount: int = Field(description="transferred to the holder, minor units")
    currency: str
    raised: int = Field(description="the backers' money for the project this payout covers")
    stripe_fees: int = Field(description="Stripe's processing fees on those charges, deducted")
    tips: int = Field(description="the backers' tips to the platform: shown apart, never paid out")
    match: int = Field(
        default=0,
        description="the cities' match money this payout carries: what a city paid (received), "
        "not what it promised or still owes",
    )
    follows_plan: bool = Field(
        default=False,
        description="a match paid after the payout plan split the release: approved once every "
        "milestone is released (409 milestone_pending before)",
    )
    attempt: int
    transfer_id: str | None = None
    transfer_group: str
    failure_reason: str | None = None
    hold_reason: str | None = Field(
        default=None, description="why a pending payout cannot be approved yet: permit_pending"
    )
    created_at: datetime
    updated_at: datetime


class PayoutPage(BaseModel):
    items: list[PayoutOut]


def account_out(doc: dict[str, Any] | None) -> AccountOut:
    if doc is None:
        return AccountOut(status="none")
    return AccountOut(
        status=doc["status"],
        stripe_account_id=doc["stripe_account_id"],
        payouts_enabled=bool(doc.get("payouts_enabled")),
        details_submitted=bool(doc.get("details_submitted")),
        requirements_due=list(doc.get("requirements_due") or []),
    )


def payout_out(doc: dict[str, Any]) -> PayoutOut:
    return PayoutOut(
        id=doc["_id"],
        **{k: doc[k] for k in ("campaign_id", "owner_id", "sequence", "status", "amount", "currency")},
        raised=doc.get("raised", doc["amount"]),
        stripe_fees=doc.get("stripe_fees", 0),
        tips=doc.get("tips", 0),
        match=doc.get("match", 0),
        follows_plan=bool(doc.get("follows_plan")),
        attempt=doc.get("attempt", 1),
        transfer_id=doc.get("transfer_id"),
        transfer_group=doc["transfer_group"],
        failure_reason=doc.get("failure_reason"),
        hold_reason=doc.get("hold_reason"),
        created_at=when(doc["created_at"]),
        updated_at=when(doc["updated_at"]),
    )


def _person(principal: Any) -> None:
    if principal.kind != "user":
        raise DomainError("forbidden", 403, "only people have payout accounts")


@router.get("/payouts/account", response_model=AccountOut)
async def my_account(principal: PrincipalDep, payouts: PayoutsDep) -> AccountOut:
    """The caller's connected account as payments last recorded it (`none`: not started)."""
    _person(principal)
    return account_out(await payouts.account(principal))


@router.post("/payouts/account/onboarding", response_model=OnboardingOut, responses=STRIPE_DOWN)
async def start_onboarding(
    body: OnboardingIn, principal: PrincipalDep, idempotency_key: IdempotencyKey, payouts: PayoutsDep
) -> OnboardingOut:
    """Create the caller's Express account (once) and a link to Stripe's hosted onboarding,
    which comes back to the site's return page (or its refresh page for a stale link)."""
    _person(principal)
    doc, url = await payouts.start_onboarding(principal, body.email, idempotency_key)
    return OnboardingOut(url=url, account=account_out(doc))


@router.post("/payouts/account/refresh", response_model=AccountOut, responses=STRIPE_DOWN)
async def refresh_account(principal: PrincipalDep, payouts: PayoutsDep) -> AccountOut:
    """After onboarding (the return page): Stripe's current word on the account."""
    _person(principal)
    return account_out(await payouts.refresh_account(principal))


@router.get("/me/payouts", response_model=PayoutPage)
async def my_payouts(
    principal: PrincipalDep, payouts: PayoutsDep, limit: int = Query(50, ge=1, le=200)
) -> PayoutPage:
    return PayoutPage(items=[payout_out(d) for d in await payouts.mine(principal, limit)])


@router.get("/campaigns/{campaign_id}/payouts", response_model=PayoutPage)
async def campaign_payouts(campaign_id: str, principal: PrincipalDep, payouts: PayoutsDep) -> PayoutPage:
    """The campaign's owner and admins (404 for anyone else)."""
    return PayoutPage(items=[payout_out(d) for d in await payouts.of_campaign(campaign_id, principal)])


@router.get("/payouts", response_model=PayoutPage)
async def payouts_by_status(
    principal: AdminDep,
    payouts: PayoutsDep,
    status: PayoutStatus = Query("pending"),
    limit: int = Query(50, ge=1, le=200),
) -> PayoutPage:
    """Admins: payouts waiting for approval (`pending`, oldest first), failures (`failed`), ..."""
    return PayoutPage(items=[payout_out(d) for d in await payouts.listing(status, limit)])


@router.get("/payouts/{payout_id}", response_model=PayoutOut)
async def get_payout(payout_id: str, principal: PrincipalDep, payouts: PayoutsDep) -> PayoutOut:
    return payout_out(await payouts.one(payout_id, principal))


@router.post("/payouts/{payout_id}/approve", response_model=PayoutOut, responses=STRIPE_DOWN)
async def approve_payout(
    payout_id: str, principal: AdminDep, idempotency_key: IdempotencyKey, payouts: PayoutsDep
) -> PayoutOut:
    """pending -> approved, and the transfer at once when the holder's account is ready (then
    `transferring` until Stripe's transfer.created makes it `paid`)."""
    return payout_out(await payouts.approve(payout_id, principal, idempotency_key))


@router.post("/payouts/{payout_id}/retry", response_model=PayoutOut, responses=STRIPE_DOWN)
async def retry_payout(
    payout_id: str, principal: AdminDep, idempotency_key: IdempotencyKey, payouts: PayoutsDep
) -> PayoutOut:
    """failed -> approved (a new attempt, a new transfer)."""
    return payout_out(await payouts.retry(payout_id, principal, idempotency_key))
