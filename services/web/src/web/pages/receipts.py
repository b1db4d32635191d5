"""Tax receipts ("reçus fiscaux") on the site: for a paid pledge to an association an admin
recorded as eligible, the backer gives the name and address the receipt must carry, gets it
numbered, and downloads the PDF; the year's page lists the receipts with their total per
association and the summary PDF. Payments holds every rule (eligibility, the tip excluded,
numbering, void once refunded); the pages show its answers."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import Response

from ..gateway import ApiFailure
from ..site import Form, SignedIn, Site

router = APIRouter()

DONOR_FIELDS = ("name", "address", "postcode", "city")


def refusal_text(site: Site, code: str | None) -> str:
    _ = site.gettext
    return {
        "holder_not_eligible": _("This project's holder is not an association that can issue tax receipts."),
        "pledge_not_paid": _("A receipt is issued once the pledge is paid (and not refunded)."),
        "currency_not_receiptable": _("Tax receipts are issued for gifts in euros."),
    }.get(code or "", _("No receipt can be issued for this pledge."))


async def _render(site: Site, pledge_id: str, *, status: int = 200, errors: dict[str, str] | None = None,
                  values: dict[str, str] | None = None) -> Response:  # fmt: skip
    api = site.client()
    state = await api.payments_receipt_status(pledge_id)
    pledge = await api.payments_get_pledge(pledge_id)
    return site.render(
        "receipts/receipt.html", status=status, state=state, pledge=pledge, errors=errors or {},
        form=values or {"name": (site.user or {}).get("display_name", "")}, refusal=refusal_text(site, state.get("refusal")),
    )  # fmt: skip


@router.get("/me/pledges/{pledge_id}/tax-receipt", include_in_schema=False)
async def receipt_page(site: SignedIn, pledge_id: str) -> Response:
    return await _render(site, pledge_id)


@router.post("/me/pledges/{pledge_id}/tax-receipt", include_in_schema=False)
async def issue(site: SignedIn, form: Form, pledge_id: str) -> Response:
    _ = site.gettext
    values = {k: str(form.get(k, "")).strip() for k in DONOR_FIELDS}
    errors: dict[str, str] = {}
    if len(values["name"]) < 2:
        errors["name"] = _("Give your full name, as the receipt must show it.")
    if len(values["address"]) < 3:
        errors["address"] = _("Give your street address.")
    if len(values["postcode"]) < 2:
        errors["postcode"] = _("Give your postcode.")
    if not values["city"]:
        errors["city"] = _("Give your town.")
    if not errors:
        try:
            await site.client().payments_issue_receipt(pledge_id, body=values)
        except ApiFailure as failure:
            if failure.status not in (400, 404, 409, 422):
                raise
            errors = failure.field_errors() or {"__all__": refusal_text(site, failure.code)}
        else:
            site.flash(_("Your tax receipt is ready."))
            return site.redirect(f"/me/pledges/{pledge_id}/tax-receipt")
    return await _render(site, pledge_id, status=422, errors=errors, values=values)


def _pdf(site: Site, answer: bytes, filename: str) -> Response:
    return site.finish(Response(answer, media_type="application/pdf",
                                headers={"content-disposition": f'inline; filename="{filename}"'}))  # fmt: skip


@router.get("/me/pledges/{pledge_id}/tax-receipt.pdf", include_in_schema=False)
async def receipt_pdf(site: SignedIn, pledge_id: str) -> Response:
    answer = await site.client().payments_receipt_pdf(pledge_id)
    return _pdf(site, answer, f"recu-{pledge_id}.pdf")


@router.get("/me/tax-receipts", include_in_schema=False)
async def this_year(site: SignedIn) -> Response:
    return site.redirect(f"/me/tax-receipts/{datetime.now(UTC).year}")


@router.get("/me/tax-receipts/{year}", include_in_schema=False)
async def year_page(site: SignedIn, year: int) -> Response:
    summary = await site.client().payments_my_year(year)
    now = datetime.now(UTC).year
    return site.render("receipts/year.html", summary=summary, years=list(range(now, now - 4, -1)))


@router.get("/me/tax-receipts/{year}/summary.pdf", include_in_schema=False)
async def year_pdf(site: SignedIn, year: int) -> Response:
    answer = await site.client().payments_my_year_pdf(year)
    return _pdf(site, answer, f"dons-{year}.pdf")
