"""Donation receipts ("reçus fiscaux", Cerfa n° 11580), free of I/O.

A receipt exists only for a gift to a holder an admin recorded as an association eligible for
tax-deductible gifts, for money actually kept: the pledge's amount, never the tip (the tip goes
to the platform, not to the association), never a refunded pledge. Numbers are unique and in
sequence per association and calendar year (`2027-000042`), as the tax administration expects:
a number, once issued, is never given to another gift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from num2words import num2words

from . import domain

# The legal basis printed on the receipt: individuals' and companies' reductions.
DEFAULT_LEGAL_BASIS = "Articles 200, 238 bis et 978 du code général des impôts"
RECEIPT_CURRENCIES = ("EUR",)  # a French tax receipt is in euros


class ReceiptRefused(ValueError):
    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def refusal(pledge: dict[str, Any], holder: dict[str, Any] | None, kept: int) -> ReceiptRefused | None:
    """Why this pledge gets no receipt, or None. `kept` is what the project's account of the
    ledger still holds from it (charged minus refunded, tip excluded)."""
    if holder is None or not holder.get("eligible"):
        return ReceiptRefused(
            "holder_not_eligible", "this project's holder is not an association that can issue tax receipts"
        )
    if pledge["status"] != domain.SUCCEEDED or kept <= 0:
        return ReceiptRefused(
            "pledge_not_paid", "a receipt is issued for a paid pledge that was not refunded"
        )
    if pledge["currency"] not in RECEIPT_CURRENCIES:
        return ReceiptRefused("currency_not_receiptable", "tax receipts are issued for gifts in euros")
    return None


def receipt_number(year: int, sequence: int) -> str:
    return f"{year}-{sequence:06d}"


def amount_in_words(amount_minor: int) -> str:
    """`12 345` (minor units) -> "cent vingt-trois euros et quarante-cinq centimes"."""
    euros, cents = divmod(amount_minor, 100)
    words = f"{num2words(euros, lang='fr')} euro{'s' if euros > 1 else ''}"
    if cents:
        words += f" et {num2words(cents, lang='fr')} centime{'s' if cents > 1 else ''}"
    return words


def amount_in_figures(amount_minor: int) -> str:
    euros, cents = divmod(amount_minor, 100)
    return f"{euros:,}".replace(",", " ") + f",{cents:02d} EUR"


@dataclass(frozen=True)
class Donor:
    name: str
    address: str
    postcode: str
    city: str


def receipt_doc(
    pledge: dict[str, Any], holder: dict[str, Any], donor: Donor, kept: int, number: str, issued_at: datetime
) -> dict[str, Any]:
    """What the receipt states, frozen at issue: a later change of the association's record
    does not rewrite a receipt already given."""
    paid_at = pledge.get("paid_at") or pledge.get("updated_at") or issued_at
    return {
        "_id": pledge["_id"],
        "number": number,
        "year": paid_at.year,
        "backer_id": pledge["backer_id"],
        "campaign_id": pledge["campaign_id"],
        "holder_id": holder["_id"],
        "amount": kept,
        "currency": pledge["currency"],
        "paid_at": paid_at,
        "issued_at": issued_at,
        "donor": {
            "name": donor.name,
            "address": donor.address,
            "postcode": donor.postcode,
            "city": donor.city,
        },
        "association": {
            "legal_name": holder["legal_name"],
            "registration": holder["registration"],
            "address": holder["address"],
            "object": holder["object"],
        },
        "legal_basis": holder.get("legal_basis") or DEFAULT_LEGAL_BASIS,
        "status": "issued",
    }


def yearly_summary(receipts: list[dict[str, Any]], year: int) -> dict[str, Any]:
    """The year's valid receipts of one donor, and their total per association."""
    valid = [r for r in receipts if r["year"] == year and r["status"] == "issued"]
    by_holder: dict[str, int] = {}
    for r in valid:
        name = r["association"]["legal_name"]
        by_holder[name] = by_holder.get(name, 0) + int(r["amount"])
    return {"year": year, "receipts": valid, "total": sum(by_holder.values()), "by_association": by_holder}
