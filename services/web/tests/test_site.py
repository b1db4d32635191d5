"""The site's own rules that need no browser: formatting per locale, typed amounts, language
negotiation, safe redirects, the catalogs, and how templates use the form macros."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from web import catalog
from web.i18n import Formats, major_to_minor, negotiate
from web.rendering import TEMPLATES_DIR, markdown
from web.site import safe_next


def _plain(text: str) -> str:
    # Babel writes narrow and ordinary no-break spaces; compare what a reader sees.
    return text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.mark.parametrize(
    ("locale", "amount", "currency", "expected"),
    [
        ("fr", 250_000, "EUR", "2 500,00 €"),
        ("en", 250_000, "EUR", "€2,500.00"),
        ("fr", 5, "EUR", "0,05 €"),
        ("en", 123_456, "GBP", "£1,234.56"),
    ],
)
def test_amounts_are_written_per_locale(locale: str, amount: int, currency: str, expected: str) -> None:
    assert _plain(Formats(locale).money(amount, currency)) == expected


def test_dates_are_written_per_locale() -> None:
    assert Formats("fr").date("2026-12-24T10:00:00Z", "long") == "24 décembre 2026"
    assert Formats("en").date("2026-12-24T10:00:00Z", "long") == "24 December 2026"


@pytest.mark.parametrize(
    ("typed", "minor"),
    [("25", 2500), ("25,50", 2550), ("25.5", 2550), ("2 500", 250000), ("2\u202f500,00", 250000), ("0", 0)],
)
def test_typed_amounts_become_minor_units(typed: str, minor: int) -> None:
    assert major_to_minor(typed, "EUR") == minor


@pytest.mark.parametrize("typed", ["", "abc", "1,2,3", "25.555", "-4", "1e3x", "NaN", "inf"])
def test_not_amounts_are_refused(typed: str) -> None:
    with pytest.raises((ValueError, ArithmeticError)):
        major_to_minor(typed, "EUR")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "fr"),
        ("en-GB,en;q=0.9", "en"),
        ("de-DE,de;q=0.9,en;q=0.5", "en"),
        ("de;q=1.0, fr;q=0.2, en;q=0.8", "en"),
        ("it", "fr"),
        ("en;q=0", "fr"),
    ],
)
def test_language_from_accept_language(header: str | None, expected: str) -> None:
    assert negotiate(header, ["fr", "en"], "fr") == expected


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/campaigns/x?tab=1", "/campaigns/x?tab=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_redirects_stay_on_the_site(target: str, expected: str) -> None:
    assert safe_next(target) == expected


def test_markdown_is_sanitised() -> None:
    html = str(
        markdown("**bold** <script>alert(1)</script> [x](javascript:alert(1)) [ok](https://example.org)")
    )
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and 'href="javascript' not in html
    assert 'href="https://example.org"' in html and "nofollow" in html


def test_every_message_has_a_french_translation() -> None:
    missing = catalog.missing("fr")
    assert not missing, "no French for: " + "; ".join(f"{m!r} ({', '.join(f)})" for m, f in missing.items())


def test_templates_import_the_form_macros_with_their_context() -> None:
    # csrf() needs the page's token: a macro imported without context renders an empty token.
    offenders = []
    for path in Path(TEMPLATES_DIR).rglob("*.html"):
        for line in path.read_text().splitlines():
            if re.search(r'{%\s*(from|import)\s+"macros/forms\.html"', line) and "with context" not in line:
                offenders.append(f"{path.relative_to(TEMPLATES_DIR)}: {line.strip()}")
    assert not offenders, offenders


def test_no_inline_script_or_style_attribute() -> None:
    # The Content-Security-Policy forbids both; they would silently not work.
    offenders = []
    for path in Path(TEMPLATES_DIR).rglob("*.html"):
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r'\sstyle="', text):
            offenders.append(str(path.relative_to(TEMPLATES_DIR)))
    assert not offenders, offenders
