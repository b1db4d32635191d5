"""French and English: Babel catalogs (one .po per feature under translations/<locale>/, merged
and compiled in memory at start-up, so the repository holds no binary catalogs and they can
never be stale), locale negotiation, and amounts and dates formatted per locale."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent, get_currency_precision
from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
# The language a locale's amounts and dates are written in (fr -> 2 500,00 €, en -> €2,500.00).
FORMAT_LOCALES = {"fr": "fr_FR", "en": "en_GB"}


def load_translations(locale: str) -> NullTranslations:
    """Every `translations/<locale>/*.po` merged into one catalog (English is the source language)."""
    files = sorted((TRANSLATIONS_DIR / locale).glob("*.po"))
    merged: Translations | None = None
    for path in files:
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        part = Translations(fp=buffer)
        if merged is None:
            merged = part
        else:
            merged.merge(part)
    return merged or NullTranslations()


def negotiate(accept_language: str | None, available: list[str], default: str) -> str:
    """The first language of the Accept-Language header the site speaks (q-values honoured)."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            ranked.append((-quality, index, tag.strip().lower()))
    for negative_q, _, tag in sorted(ranked):
        if negative_q >= 0:
            continue
        language = tag.split("-")[0]
        if language in available:
            return language
    return default


def minor_to_major(amount: int, currency: str) -> Decimal:
    return Decimal(int(amount)).scaleb(-get_currency_precision(currency.upper()))


def major_to_minor(text: str, currency: str) -> int:
    """A typed amount ("25", "25,50", "25.5", "2 500") in minor units; ValueError if not one."""
    cleaned = text.strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
    if not cleaned or cleaned.count(".") > 1:
        raise ValueError("not an amount")
    value = Decimal(cleaned)
    if not value.is_finite() or value < 0:
        raise ValueError("not an amount")
    precision = get_currency_precision(currency.upper())
    minor = value.scaleb(precision)
    if minor != minor.to_integral_value():
        raise ValueError("too many decimals")
    return int(minor)


class Formats:
    """Formatting filters bound to one locale (installed in that locale's template environment)."""

    def __init__(self, locale: str, timezone: str = "Europe/Paris") -> None:
        self.timezone = ZoneInfo(timezone)
        try:
            self.locale = Locale.parse(FORMAT_LOCALES.get(locale, locale))
        except (UnknownLocaleError, ValueError):
            self.locale = Locale.parse("en_GB")

    def money(self, amount: int | None, currency: str | None = "EUR", whole: bool = False) -> str:
        if amount is None:
            return ""
        currency = (currency or "EUR").upper()
        value = minor_to_major(amount, currency)
        if whole and value == value.to_integral_value():
            # The locale's own pattern without its decimals ("6 000 €" / "€6,000").
            pattern = self.locale.currency_formats["standard"].pattern.replace(".00", "")
            return format_currency(value, currency, format=pattern, locale=self.locale, currency_digits=False)
        return format_currency(value, currency, locale=self.locale)

    def amount_input(self, amount: int | None, currency: str = "EUR") -> str:
        """An amount as typed back into a form field (no symbol, no grouping)."""
        if amount is None:
            return ""
        value = minor_to_major(amount, currency)
        text = f"{value:f}"
        return text.replace(".", ",") if self.locale.language == "fr" else text

    def number(self, value: int | float | None) -> str:
        return "" if value is None else format_decimal(value, locale=self.locale)

    def percent(self, value: float | None) -> str:
        return "" if value is None else format_percent(value, locale=self.locale)

    def date(self, value: Any, style: str = "medium") -> str:
        moment = parse_instant(value)
        return "" if moment is None else format_date(moment.astimezone(self.timezone).date(), format=style,
                                                     locale=self.locale)  # fmt: skip

    def datetime(self, value: Any, style: str = "medium") -> str:
        moment = parse_instant(value)
        if moment is None:
            return ""
        if style == "medium":  # the medium date with hours and minutes: seconds help nobody here
            local = moment.astimezone(self.timezone)
            glue = str(self.locale.datetime_formats["medium"])
            day = format_date(local.date(), format="medium", locale=self.locale)
            hour = format_time(local, format="short", locale=self.locale)
            return glue.replace("{1}", day).replace("{0}", hour)
        return format_datetime(moment, format=style, locale=self.locale, tzinfo=self.timezone)


def parse_instant(value: Any) -> datetime | None:
    """API instants arrive as ISO strings (or epoch milliseconds)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(value / 1000, tz=UTC)
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
