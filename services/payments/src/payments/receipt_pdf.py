"""The receipt and the yearly summary as PDF (fpdf2), laid out after the Cerfa n° 11580 form:
who receives, who gives, what, when, on which legal basis, and the receipt's number.

The PDF's built-in fonts cover Latin-1 only: typographic quotes and other characters outside it
are replaced by their plain equivalents rather than embedding a font file."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fpdf import FPDF

from .receipts_domain import amount_in_figures, amount_in_words

_PLAIN = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u202f": " ",
        "\u00a0": " ",
        "\u20ac": "EUR",
        "\u2026": "...",
    }
)


def _text(value: Any) -> str:
    return str(value).translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def _date(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y")


class _Page(FPDF):
    def heading(self, text: str) -> None:
        self.set_font("helvetica", "B", 11)
        self.set_fill_color(230, 236, 242)
        self.cell(0, 8, _text(text), new_x="LMARGIN", new_y="NEXT", fill=True)
        self.ln(1)

    def line_of(self, label: str, value: Any) -> None:
        self.set_font("helvetica", "B", 10)
        self.cell(55, 6, _text(label))
        self.set_font("helvetica", "", 10)
        self.multi_cell(0, 6, _text(value), new_x="LMARGIN", new_y="NEXT")


def _new_page(title: str, subtitle: str) -> _Page:
    pdf = _Page(format="A4")
    pdf.set_title(_text(title))
    pdf.set_creator("Civicfund")
    pdf.add_page()
    pdf.set_font("helvetica", "B", 15)
    pdf.cell(0, 10, _text(title), new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font("helvetica", "", 10)
    pdf.cell(0, 6, _text(subtitle), new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.ln(4)
    return pdf


def receipt_pdf(receipt: dict[str, Any]) -> bytes:
    a, d = receipt["association"], receipt["donor"]
    pdf = _new_page(
        "Reçu au titre des dons à certains organismes d'intérêt général",
        f"Articles 200, 238 bis et 978 du code général des impôts - Reçu n° {receipt['number']}",
    )
    pdf.heading("Bénéficiaire des versements")
    pdf.line_of("Nom ou dénomination", a["legal_name"])
    pdf.line_of("N° RNA / SIREN", a["registration"])
    pdf.line_of("Adresse", a["address"])
    pdf.line_of("Objet", a["object"])
    pdf.line_of("Qualité", "Association ou fondation d'intérêt général")
    pdf.ln(2)
    pdf.heading("Donateur")
    pdf.line_of("Nom", d["name"])
    pdf.line_of("Adresse", f"{d['address']}, {d['postcode']} {d['city']}".strip(", "))
    pdf.ln(2)
    pdf.heading("Don")
    pdf.line_of("Somme en chiffres", amount_in_figures(receipt["amount"]))
    pdf.line_of("Somme en toutes lettres", amount_in_words(receipt["amount"]))
    pdf.line_of("Date du versement", _date(receipt["paid_at"]))
    pdf.line_of("Forme du don", "Don manuel, versement en numéraire par carte bancaire")
    pdf.line_of("Base légale", receipt["legal_basis"])
    pdf.ln(4)
    pdf.set_font("helvetica", "", 9)
    pdf.multi_cell(
        0, 5,
        _text(
            "Le bénéficiaire certifie sur l'honneur que les dons et versements qu'il reçoit ouvrent droit à la "
            "réduction d'impôt prévue aux articles ci-dessus. Hors pourboire versé à la plateforme, qui n'est pas "
            f"un don à l'association. Reçu émis le {_date(receipt['issued_at'])} par Civicfund pour le compte de "
            f"{a['legal_name']}."
        ),
    )  # fmt: skip
    return bytes(pdf.output())


def summary_pdf(summary: dict[str, Any], donor_name: str) -> bytes:
    pdf = _new_page(f"Récapitulatif de vos dons {summary['year']}", _text(donor_name))
    pdf.heading("Reçus de l'année")
    for r in summary["receipts"]:
        pdf.line_of(f"n° {r['number']}", f"{_date(r['paid_at'])} - {r['association']['legal_name']} - "
                                         f"{amount_in_figures(r['amount'])}")  # fmt: skip
    pdf.ln(2)
    pdf.heading("Total par bénéficiaire")
    for name, total in summary["by_association"].items():
        pdf.line_of(name, amount_in_figures(total))
    pdf.line_of("Total de l'année", amount_in_figures(summary["total"]))
    pdf.ln(3)
    pdf.set_font("helvetica", "", 9)
    pdf.multi_cell(
        0, 5, _text("Ce récapitulatif ne remplace pas les reçus : joignez ou conservez chacun d'eux.")
    )
    return bytes(pdf.output())
