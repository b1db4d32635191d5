"""Tax receipts: admins record which holders are associations eligible for tax-deductible gifts;
backers get the receipt of each paid pledge to such a holder, and their yearly summary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from servicekit.app import component
from servicekit.auth import AdminDep, PrincipalDep

# Imported with the service, not on the first request: fpdf2 takes seconds to import on a busy
# machine, and the gateway's upstream timeout is shorter.
from .receipt_pdf import receipt_pdf, summary_pdf
from .receipts import HolderStatus, Receipts
from .receipts_domain import Donor

router = APIRouter(tags=["tax receipts"])
ReceiptsDep = Annotated[Receipts, Depends(component(Receipts))]
PDF = {200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
             "description": "the PDF"}}  # fmt: skip
Year = Annotated[int, Path(ge=2000, le=2100)]


class HolderTaxStatusIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "eligible": True, "legal_name": "Association Bel-Air Sport", "registration": "W931234567",
            "address": "3 rue des Lilas, 93100 Montreuil",
            "object": "Promouvoir le sport de plein air dans le quartier Bel-Air",
        }]},
    )  # fmt: skip

    # Strict: pydantic would read 0 or "no" as false, which the document does not allow.
    eligible: StrictBool = Field(description="may issue receipts for tax-deductible gifts (intérêt général)")
    legal_name: str = Field(min_length=2, max_length=200)
    registration: str = Field(
        min_length=5, max_length=30, pattern=r"^[A-Za-z0-9 ]+$", description="RNA or SIREN"
    )
    address: str = Field(min_length=5, max_length=300)
    object: str = Field(min_length=5, max_length=500, description="the association's object, as registered")
    legal_basis: str = Field(
        default="", max_length=200, description="default: articles 200, 238 bis, 978 CGI"
    )


class HolderTaxStatusOut(BaseModel):
    user_id: str
    eligible: bool
    legal_name: str
    registration: str
    address: str
    object: str
    legal_basis: str
    recorded_at: datetime


class DonorIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [
            {"name": "Sofia Martin", "address": "12 rue de Paris", "postcode": "93100", "city": "Montreuil"}
        ]},
    )  # fmt: skip

    name: str = Field(
        min_length=2, max_length=120, description="the donor's full name, as the receipt shows it"
    )
    address: str = Field(min_length=3, max_length=200)
    postcode: str = Field(min_length=2, max_length=10, pattern=r"^[A-Za-z0-9 -]+$")
    city: str = Field(min_length=1, max_length=120)


class TaxReceiptOut(BaseModel):
    pledge_id: str
    number: str
    year: int
    amount: int = Field(description="minor units: the gift, tip excluded")
    currency: str
    paid_at: datetime
    issued_at: datetime
    status: str = Field(description="issued, or void once the gift was refunded")
    association: str
    donor_name: str | None


class TaxReceiptStatusOut(BaseModel):
    pledge_id: str
    receipt: TaxReceiptOut | None
    available: bool = Field(description="a receipt can be issued now (ask with POST)")
    refusal: str | None = Field(
        description="why no receipt can be issued: holder_not_eligible, pledge_not_paid..."
    )


class TaxYearOut(BaseModel):
    year: int
    total: int
    by_association: dict[str, int]
    receipts: list[TaxReceiptOut]


def _receipt(doc: dict[str, Any]) -> TaxReceiptOut:
    return TaxReceiptOut(
        pledge_id=doc["_id"], number=doc["number"], year=doc["year"], amount=doc["amount"],
        currency=doc["currency"], paid_at=doc["paid_at"], issued_at=doc["issued_at"], status=doc["status"],
        association=doc["association"]["legal_name"], donor_name=(doc.get("donor") or {}).get("name"),
    )  # fmt: skip


def _holder(doc: dict[str, Any]) -> HolderTaxStatusOut:
    return HolderTaxStatusOut(
        user_id=doc["_id"], **{k: doc[k] for k in HolderTaxStatusOut.model_fields if k != "user_id"}
    )


@router.put("/holders/{user_id}/tax-status", response_model=HolderTaxStatusOut)
async def record_holder(
    user_id: str, body: HolderTaxStatusIn, admin: AdminDep, receipts: ReceiptsDep
) -> HolderTaxStatusOut:
    """Record a holder's legal identity and whether it may issue tax receipts (admins)."""
    return _holder(await receipts.set_holder(admin, HolderStatus(user_id=user_id, **body.model_dump())))


@router.get("/holders/{user_id}/tax-status", response_model=HolderTaxStatusOut)
async def holder_status(user_id: str, principal: PrincipalDep, receipts: ReceiptsDep) -> HolderTaxStatusOut:
    """A holder's recorded tax status (admins and the holder)."""
    return _holder(await receipts.holder(principal, user_id))


@router.get("/pledges/{pledge_id}/tax-receipt", response_model=TaxReceiptStatusOut)
async def receipt_status(
    pledge_id: str, principal: PrincipalDep, receipts: ReceiptsDep
) -> TaxReceiptStatusOut:
    """The pledge's tax receipt, or whether one can be issued (the backer only)."""
    doc, refusal = await receipts.status(principal, pledge_id)
    return TaxReceiptStatusOut(
        pledge_id=pledge_id, receipt=_receipt(doc) if doc else None, available=doc is None and refusal is None,
        refusal=refusal,
    )  # fmt: skip


@router.post("/pledges/{pledge_id}/tax-receipt", response_model=TaxReceiptOut, status_code=201,
             responses={200: {"model": TaxReceiptOut, "description": "issued earlier: the same receipt"}})  # fmt: skip
async def issue_receipt(
    pledge_id: str, body: DonorIn, principal: PrincipalDep, receipts: ReceiptsDep, response: Response
) -> TaxReceiptOut:
    """Issue the pledge's tax receipt in the donor's name (once: asking again answers the same
    receipt, number included)."""
    doc, new = await receipts.issue(principal, pledge_id, Donor(**body.model_dump()))
    if not new:
        response.status_code = 200
    return _receipt(doc)


@router.get(
    "/pledges/{pledge_id}/tax-receipt.pdf", response_class=Response, responses=PDF, name="receipt_pdf"
)
async def get_receipt_pdf(pledge_id: str, principal: PrincipalDep, receipts: ReceiptsDep) -> Response:
    """The receipt as PDF (Cerfa n° 11580 fields)."""
    doc = await receipts.receipt(principal, pledge_id)
    return Response(receipt_pdf(doc), media_type="application/pdf",
                    headers={"content-disposition": f'inline; filename="recu-{doc["number"]}.pdf"'})  # fmt: skip


@router.get("/me/tax-receipts/{year}", response_model=TaxYearOut)
async def my_year(year: Year, principal: PrincipalDep, receipts: ReceiptsDep) -> TaxYearOut:
    """The caller's receipts of a year and their total per association."""
    summary = await receipts.year(principal, year)
    return TaxYearOut(year=year, total=summary["total"], by_association=summary["by_association"],
                      receipts=[_receipt(r) for r in summary["receipts"]])  # fmt: skip


@router.get("/me/tax-receipts/{year}/summary.pdf", response_class=Response, responses=PDF)
async def my_year_pdf(year: Year, principal: PrincipalDep, receipts: ReceiptsDep) -> Response:
    """The year's summary as PDF."""
    summary = await receipts.year(principal, year)
    name = next((r["donor"]["name"] for r in summary["receipts"] if r.get("donor")), "")
    return Response(summary_pdf(summary, name), media_type="application/pdf",
                    headers={"content-disposition": f'inline; filename="dons-{year}.pdf"'})  # fmt: skip
