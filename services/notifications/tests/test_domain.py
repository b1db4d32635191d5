"""Pure rules: preferences, unsubscribe tokens, webhook signatures, URL policy, schedules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from notifications.domain import (
    CATEGORIES,
    KINDS,
    category_for,
    delivery_key,
    effective_preferences,
    format_money,
    is_newer,
    merge_preferences,
    unsubscribe_all,
    wants,
)
from notifications.store import email_queue
from notifications.tokens import (
    BadToken,
    sign_unsubscribe,
    signature_header,
    verify_unsubscribe,
    verify_webhook,
    webhook_signature,
)
from notifications.webhooks.rules import (
    UrlRefused,
    check_addresses,
    check_event_types,
    check_url_shape,
    matches,
    rotated_secrets,
    valid_secrets,
)
from notifications.webhooks.store import delivery_queue


def test_receipts_cannot_be_switched_off_and_calls_are_opt_in() -> None:
    assert wants({"receipts": {"email": False}}, "receipts", "email")
    assert not wants(None, "calls", "email")
    assert wants({"calls": {"email": True}}, "calls", "email")
    assert wants(None, "campaign_news", "email")
    assert not wants({"campaign_news": {"email": False}}, "campaign_news", "email")
    assert wants({"campaign_news": {"email": False}}, "campaign_news", "inapp")
    with pytest.raises(ValueError, match="cannot be switched off"):
        merge_preferences({}, {"receipts": {"email": False}})
    with pytest.raises(ValueError, match="unknown channel"):
        merge_preferences({}, {"calls": {"sms": True}})


def test_unsubscribe_all_refuses_every_optional_email_only() -> None:
    prefs = unsubscribe_all({"calls": {"email": True, "inapp": True}})
    eff = effective_preferences(prefs)
    assert all(not v["email"] for name, v in eff.items() if not CATEGORIES[name].locked)
    assert eff["receipts"]["email"] and eff["account"]["email"]
    assert eff["calls"]["inapp"] is True


def test_owners_hear_news_of_their_own_campaign_as_my_campaigns() -> None:
    assert category_for("campaign.succeeded", "owner") == "my_campaigns"
    assert category_for("campaign.succeeded", "backer") == "campaign_news"
    assert all(k.category in CATEGORIES for k in KINDS.values())


def test_last_writer_wins_on_event_time() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    assert is_newer(t, None) and is_newer(t, t) and not is_newer(t, t + timedelta(seconds=1))


def test_money_is_formatted_from_minor_units() -> None:
    assert format_money(2500, "EUR", "fr") == "25,00\u00a0€"
    assert format_money(1_234_567, "EUR", "en") == "€12,345.67"
    assert format_money(5, "GBP", "en") == "£0.05"


def test_delivery_key_and_retry_schedule() -> None:
    assert delivery_key("ev", "usr", "email") == "ev|usr|email"
    schedule = [60, 300, 1800, 7200, 21600, 43200, 86400]
    # The webhook and email queues wait schedule[n-1] after the n-th failed attempt, and the
    # attempt after the last wait is the last one.
    queue = delivery_queue(None, 120, schedule, [], "owner")  # type: ignore[arg-type]  # no I/O here
    assert [queue.next_delay_s(n) for n in (1, 7, 8)] == [60, 86400, None]
    emails = email_queue(None, 120, [10, 60])  # type: ignore[arg-type]
    assert [emails.next_delay_s(n) for n in (1, 2, 3)] == [10, 60, None]
    assert sum(schedule) >= 24 * 3600


def test_unsubscribe_token_round_trip_and_tampering() -> None:
    token = sign_unsubscribe("s3cret", "usr_1", "campaign_news")
    assert verify_unsubscribe("s3cret", token) == ("usr_1", "campaign_news")
    with pytest.raises(BadToken):
        verify_unsubscribe("other", token)
    payload, mac = token.split(".")
    forged = sign_unsubscribe("s3cret", "usr_2", "campaign_news").split(".")[0] + "." + mac
    with pytest.raises(BadToken):
        verify_unsubscribe("s3cret", forged)
    for junk in ["", ".", "abc", "a.b", payload]:
        with pytest.raises(BadToken):
            verify_unsubscribe("s3cret", junk)


def test_webhook_signature_over_timestamp_and_body() -> None:
    body = json.dumps({"id": "1"}).encode()
    sig = webhook_signature("whsec_a", 1700000000, body)
    assert len(sig) == 64
    header = signature_header(["whsec_a", "whsec_b"], 1700000000, body)
    assert header.count("v1=") == 2
    assert verify_webhook("whsec_b", 1700000000, body, header)
    assert not verify_webhook("whsec_b", 1700000001, body, header)
    assert not verify_webhook("whsec_c", 1700000000, body, header)


def test_rotation_keeps_previous_secret_for_the_grace_period() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    endpoint = {"secrets": [{"id": "s1", "secret": "old", "created_at": t0}]}
    endpoint["secrets"] = rotated_secrets(endpoint, "new", 3600, t0)
    assert valid_secrets(endpoint, t0 + timedelta(minutes=59)) == ["new", "old"]
    assert valid_secrets(endpoint, t0 + timedelta(minutes=61)) == ["new"]
    endpoint["secrets"] = rotated_secrets(endpoint, "newer", 0, t0 + timedelta(minutes=61))
    assert [s["secret"] for s in endpoint["secrets"]] == ["newer"]


def test_event_type_filters() -> None:
    assert check_event_types(["endorsement.*", "match.committed", "match.committed"]) == [
        "endorsement.*",
        "match.committed",
    ]
    for bad in (["payment.succeeded"], ["user.*"], ["endorsement"]):
        with pytest.raises(ValueError):
            check_event_types(bad)
    assert matches(["endorsement.*"], "endorsement.granted")
    assert not matches(["endorsement.granted"], "endorsement.revoked")


@pytest.mark.parametrize(
    ("url", "environment", "ok"),
    [
        ("https://city.example/hooks", "production", True),
        ("http://city.example/hooks", "production", False),
        ("http://127.0.0.1:8090/hooks", "production", False),
        ("http://127.0.0.1:8090/hooks", "development", True),
        ("http://localhost/hooks", "test", True),
        ("http://city.example/hooks", "development", False),
        ("https://user:pw@city.example/hooks", "production", False),
        ("ftp://city.example/", "development", False),
        ("https:///nohost", "development", False),
    ],
)
def test_url_shape(url: str, environment: str, ok: bool) -> None:
    if ok:
        check_url_shape(url, environment)
    else:
        with pytest.raises(UrlRefused):
            check_url_shape(url, environment)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.0.1",
        "169.254.169.254",
        "::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
    ],
)
def test_production_refuses_non_public_addresses(address: str) -> None:
    with pytest.raises(UrlRefused):
        check_addresses(["93.184.216.34", address], "production")
    check_addresses([address], "development")  # local receivers are fine while developing


def test_public_addresses_pass_and_unresolvable_hosts_do_not() -> None:
    check_addresses(["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"], "production")
    with pytest.raises(UrlRefused):
        check_addresses([], "production")
