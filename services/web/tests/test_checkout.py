"""The checkout's own rules that need no browser: typed amounts to minor units with the page's
messages, payments' range error in the page's words, statuses and failures in plain words."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from web.gateway import ApiFailure
from web.pages.checkout import parse_amount, pledge_errors, range_message
from web.pages.pledges import failure_text, status_kind, status_text


def site(locale: str = "en") -> SimpleNamespace:
    return SimpleNamespace(locale=locale, gettext=lambda text: text)


@pytest.mark.parametrize(
    ("typed", "required", "minor", "error"),
    [
        ("25", True, 2500, None),
        ("25,50", True, 2550, None),
        (" 1 000 ", True, 100_000, None),
        ("abc", True, None, "in figures"),
        ("0", True, None, "greater than zero"),
        ("", True, None, "Enter the amount"),
        ("", False, 0, None),
        ("2,505", False, None, "in figures"),
        ("-3", False, None, "in figures"),
    ],
)
def test_typed_amounts(typed: str, required: bool, minor: int | None, error: str | None) -> None:
    value, message = parse_amount(site(), typed, "EUR", required)  # type: ignore[arg-type]
    assert value == minor
    if error is None:
        assert message is None
    else:
        assert message is not None and error in message


def test_the_range_error_is_written_in_money() -> None:
    failure = ApiFailure(422, "amount_out_of_range", "amount must be between 100 and 10000000")
    assert range_message(site(), failure, "EUR") == "Enter an amount between €1.00 and €100,000.00."  # type: ignore[arg-type]
    errors = pledge_errors(site(), failure, "EUR")  # type: ignore[arg-type]
    assert list(errors) == ["amount"]


def test_a_tip_out_of_range_is_shown_beside_the_tip() -> None:
    failure = ApiFailure(422, "tip_out_of_range", "tip must be at most 1000000")
    assert list(pledge_errors(site(), failure, "EUR")) == ["tip"]  # type: ignore[arg-type]


def test_an_unexpected_refusal_is_not_swallowed() -> None:
    failure = ApiFailure(404, "not_found", "no such thing")
    with pytest.raises(ApiFailure):
        pledge_errors(site(), failure, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "status",
    ["creating", "pending", "requires_action", "failed", "authorized", "charge_due", "charging",
     "charge_failed", "succeeded", "refund_due", "refunding", "refunded", "released", "abandoned"],
)  # fmt: skip
def test_every_payments_status_has_plain_words(status: str) -> None:
    assert status_text(lambda t: t, status) != status
    assert status_kind(status) in ("", "badge-label", "badge-warn")


def test_failures_in_plain_words() -> None:
    assert failure_text(lambda t: t, "card_declined") == "Your card was declined."
    assert failure_text(lambda t: t, "something_new") == "The payment did not go through."
    assert failure_text(lambda t: t, None) == "The payment did not go through."
