"""Admins' refunds and disputes: refund one paid pledge (all that is left, or an amount), refund
every backer of a campaign whose project will not happen (confirmed, with the reason), and the
backers' banks' open disputes (each holds its campaign's payout). The API: payments/api_refunds.py."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from ..gateway import ApiFailure
from ..site import Form, Site, signed_in

router = APIRouter()

PAYMENTS = "/api/v1/payments"


async def _admin(site: Annotated[Site, Depends(signed_in)]) -> Site:
    if not site.is_admin:
        raise HTTPException(403)
    return site


AdminSite = Annotated[Site, Depends(_admin)]


def _minor(text: str) -> int | None:
    """ "12.50" or "12,50" in major units -> 1250; None when it is not a positive amount."""
    try:
        value = Decimal(text.strip().replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        return None
    if value <= 0 or value != value.quantize(Decimal("0.01")):
        return None
    return int(value * 100)


async def _page(
    site: Site, *, status: int = 200, pledge_form: dict[str, Any] | None = None,
    campaign_form: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    disputes = await site.api("GET", f"{PAYMENTS}/disputes", params={"status": "open", "limit": 100})
    return site.render(
        "admin/refunds.html", status=status, disputes=disputes.get("items", []),
        pledge_form=pledge_form or {"values": {}, "errors": {}},
        campaign_form=campaign_form or {"values": {}, "errors": {}},
    )  # fmt: skip


@router.get("/admin/refunds", include_in_schema=False)
async def refunds_page(site: AdminSite) -> Response:
    return await _page(site)


def _api_errors(site: Site, failure: ApiFailure, fields: set[str]) -> dict[str, str]:
    _ = site.gettext
    errors = {k: v for k, v in failure.field_errors().items() if k in fields}
    messages = {
        "amount_out_of_range": _("This is more than what is left to refund on this payment."),
        "not_refundable": _("Only a paid pledge that is not refunded yet can be refunded."),
        "disputed": _("This payment is disputed by the backer's bank: its decision settles it."),
        "not_found": _("No such payment or campaign."),
        "payment_provider_error": _("Stripe could not be reached. Try again shortly."),
    }
    if failure.code in messages:
        target = "amount" if failure.code == "amount_out_of_range" else "__all__"
        errors[target] = messages[failure.code]
    elif "reason" in errors:
        errors["reason"] = _("Give the reason (3 characters at least).")
    elif not errors:
        errors["__all__"] = failure.message
    return errors


@router.post("/admin/refunds/pledge", include_in_schema=False)
async def refund_pledge(site: AdminSite, form: Form) -> Response:
    _ = site.gettext
    values = {k: str(form.get(k) or "").strip() for k in ("pledge_id", "amount", "reason")}
    errors: dict[str, str] = {}
    if not values["pledge_id"]:
        errors["pledge_id"] = _("Give the pledge's reference (plg_…).")
    amount = None
    if values["amount"]:
        amount = _minor(values["amount"])
        if amount is None:
            errors["amount"] = _(
                "Give an amount such as 12.50, or leave it empty to refund all that is left."
            )
    if len(values["reason"]) < 3:
        errors["reason"] = _("Give the reason (3 characters at least).")
    if errors:
        return await _page(site, status=422, pledge_form={"values": values, "errors": errors})
    body: dict[str, Any] = {"reason": values["reason"]}
    if amount is not None:
        body["amount"] = amount
    try:
        done = await site.api(
            "POST", f"{PAYMENTS}/pledges/{quote(values['pledge_id'], safe='')}/refund", json=body,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )  # fmt: skip
    except ApiFailure as failure:
        if failure.status >= 500 and failure.status != 502:
            raise
        errors = _api_errors(site, failure, {"amount", "reason", "pledge_id"})
        return await _page(site, status=failure.status, pledge_form={"values": values, "errors": errors})
    site.flash(
        _("Refunded %(amount)s %(currency)s.")
        % {"amount": f"{done['amount'] / 100:.2f}", "currency": done["currency"]}
    )
    return site.redirect("/admin/refunds")


@router.post("/admin/refunds/campaign", include_in_schema=False)
async def refund_campaign(site: AdminSite, form: Form) -> Response:
    _ = site.gettext
    values = {k: str(form.get(k) or "").strip() for k in ("campaign_id", "campaign_reason", "confirm")}
    errors: dict[str, str] = {}
    if not values["campaign_id"]:
        errors["campaign_id"] = _("Give the campaign's reference (cmp_…).")
    if len(values["campaign_reason"]) < 3:
        errors["campaign_reason"] = _("Give the reason (3 characters at least).")
    if values["confirm"] != "1":
        errors["confirm"] = _("Confirm that every backer is to be refunded.")
    if errors:
        return await _page(site, status=422, campaign_form={"values": values, "errors": errors})
    try:
        done = await site.api(
            "POST", f"{PAYMENTS}/campaigns/{quote(values['campaign_id'], safe='')}/refund-all",
            json={"reason": values["campaign_reason"]}, headers={"Idempotency-Key": uuid.uuid4().hex},
        )  # fmt: skip
    except ApiFailure as failure:
        if failure.status >= 500 and failure.status != 502:
            raise
        errors = _api_errors(site, failure, {"campaign_id"})
        return await _page(site, status=failure.status, campaign_form={"values": values, "errors": errors})
    site.flash(
        _("%(count)s payments are being refunded; the campaign's payout is stopped.")
        % {"count": done["pledges_to_refund"]}
    )
    return site.redirect("/admin/refunds")
