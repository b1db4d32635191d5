"""The pure rules: pledge acceptance, the state machine, campaign outcomes, ledger, reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payments import domain
from payments.domain import IntentState, MoneyView

LIVE = domain.CampaignView("live", "EUR", "keep_it_all")


def test_pledges_need_a_live_campaign_in_its_currency_and_a_sane_amount() -> None:
    domain.check_pledge(LIVE, "EUR", 1_000, 100, 10_000)
    for campaign, currency, amount, code in [
        (None, "EUR", 1_000, "campaign_not_found"),
        (domain.CampaignView("draft", "EUR", "keep_it_all"), "EUR", 1_000, "campaign_not_live"),
        (LIVE, "GBP", 1_000, "currency_mismatch"),
        (LIVE, "EUR", 99, "amount_out_of_range"),
        (LIVE, "EUR", 10_001, "amount_out_of_range"),
    ]:
        with pytest.raises(domain.PledgeRejected) as err:
            domain.check_pledge(campaign, currency, amount, 100, 10_000)
        assert err.value.code == code


def test_money_taken_is_never_undone_by_a_late_failure() -> None:
    succeeded = IntentState("pi_1", "succeeded")
    failed = IntentState("pi_1", "requires_payment_method", "card_declined")
    assert domain.status_after_payment_intent("pending", "keep_it_all", succeeded, None) == "succeeded"
    assert domain.status_after_payment_intent("succeeded", "keep_it_all", failed, None) is None
    assert domain.status_after_payment_intent("refunded", "keep_it_all", succeeded, None) is None
    # Paid while the campaign was being canceled: recorded (and then refunded), not lost.
    assert domain.status_after_payment_intent("abandoned", "keep_it_all", succeeded, None) == "succeeded"
    assert domain.status_after_payment_intent("abandoned", "keep_it_all", failed, None) is None
    # A decline, then the backer tries another card on the same intent and it goes through.
    assert domain.status_after_payment_intent("pending", "keep_it_all", failed, None) == "failed"
    assert domain.status_after_payment_intent("failed", "keep_it_all", failed, "pi_1") is None
    assert domain.status_after_payment_intent("failed", "keep_it_all", succeeded, "pi_1") == "succeeded"
    # The bank wants 3-D Secure: the backer must act in the browser.
    three_ds = IntentState("pi", "requires_action")
    assert domain.status_after_payment_intent("pending", "keep_it_all", three_ds, None) == "requires_action"
    assert domain.status_after_payment_intent("requires_action", "keep_it_all", three_ds, None) is None
    assert domain.status_after_payment_intent("requires_action", "keep_it_all", failed, None) == "failed"
    assert domain.status_after_payment_intent("charging", "all_or_nothing", three_ds, None) is None
    # Intents still on their way change nothing.
    for status in ("processing", "requires_confirmation", "requires_payment_method"):
        assert (
            domain.status_after_payment_intent("pending", "keep_it_all", IntentState("pi", status), None)
            is None
        )


def test_off_session_failures_open_a_grace_period() -> None:
    failed = IntentState("pi_2", "requires_payment_method", "authentication_required")
    assert domain.status_after_payment_intent("charging", "all_or_nothing", failed, None) == "charge_failed"
    retry_failed = IntentState("pi_3", "requires_payment_method", "card_declined")
    assert domain.status_after_payment_intent("charge_failed", "all_or_nothing", retry_failed, "pi_2") == (
        "charge_failed"
    )
    now = datetime(2026, 1, 1, tzinfo=UTC)
    until = domain.retry_until(now, 3600)
    assert until == now + timedelta(hours=1)
    assert not domain.grace_expired("charge_failed", until, now)
    assert domain.grace_expired("charge_failed", until, until)
    assert not domain.grace_expired("succeeded", until, until + timedelta(days=1))


def test_a_saved_card_authorises_all_or_nothing_and_pays_keep_it_all() -> None:
    ok = IntentState("seti_1", "succeeded")
    declined = IntentState("seti_1", "canceled")
    waiting = IntentState("seti_1", "requires_payment_method")
    assert domain.after_saved_card("pending", "all_or_nothing", ok) == "authorize"
    assert domain.after_saved_card("pending", "keep_it_all", ok) == "charge"
    # A retry after a failed off-session charge pays with the new card at once.
    assert domain.after_saved_card("charge_failed", "all_or_nothing", ok) == "charge"
    assert domain.after_saved_card("authorized", "all_or_nothing", ok) is None
    assert domain.after_saved_card("succeeded", "keep_it_all", ok) is None
    assert domain.after_saved_card("pending", "keep_it_all", waiting) is None
    assert domain.after_saved_card("pending", "keep_it_all", declined) == "fail"
    assert domain.status_after_failed_setup("pending") == "failed"
    assert domain.status_after_failed_setup("charge_failed") == "charge_failed"


def test_the_browser_is_told_what_to_do_next() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = now + timedelta(days=1)
    assert domain.next_action("pending", True, None, now) == "confirm_card_setup"
    assert domain.next_action("requires_action", False, None, now) == "confirm_card_payment"
    assert domain.next_action("failed", False, None, now) == "retry"
    assert domain.next_action("charge_failed", False, later, now) == "retry"
    assert domain.next_action("charge_failed", True, later, now) == "confirm_card_setup"
    assert domain.next_action("charge_failed", False, now, later) is None  # grace period over
    for status in ("authorized", "succeeded", "released", "charge_due"):
        assert domain.next_action(status, False, None, now) is None
    assert domain.retry_allowed("failed", "live", None, now)
    assert not domain.retry_allowed("failed", "succeeded", None, now)
    assert domain.retry_allowed("charge_failed", "succeeded", later, now)
    assert not domain.retry_allowed("charge_failed", "succeeded", now, later)
    assert not domain.retry_allowed("succeeded", "live", None, now)
    assert domain.status_for_retry("charge_failed", later) == "charge_failed"
    assert domain.status_for_retry("requires_action", None) == "pending"


def test_setup_intent_authorises_once() -> None:
    ok = IntentState("seti_1", "succeeded")
    assert domain.status_after_setup_intent("pending", ok) == "authorized"
    assert domain.status_after_setup_intent("authorized", ok) is None
    assert (
        domain.status_after_setup_intent("pending", IntentState("seti_1", "requires_payment_method")) is None
    )


@pytest.mark.parametrize(
    ("outcome", "model", "status", "expected"),
    [
        ("succeeded", "all_or_nothing", "authorized", "charge_due"),
        ("succeeded", "all_or_nothing", "charge_due", None),  # told twice: charged once
        ("succeeded", "all_or_nothing", "succeeded", None),
        ("succeeded", "keep_it_all", "succeeded", None),
        ("failed", "all_or_nothing", "authorized", "released"),
        ("failed", "all_or_nothing", "pending", "abandoned"),
        ("failed", "keep_it_all", "succeeded", None),
        ("canceled", "keep_it_all", "succeeded", "refund_due"),
        ("canceled", "all_or_nothing", "succeeded", "refund_due"),
        ("canceled", "all_or_nothing", "charge_failed", "released"),
        ("canceled", "all_or_nothing", "refunded", None),
        ("failed", "all_or_nothing", "failed", "abandoned"),  # the card never saved
        # An open 3-D Secure payment can still take money: recorded, then the outcome applies.
        ("canceled", "keep_it_all", "requires_action", None),
    ],
)
def test_campaign_outcomes(outcome: str, model: str, status: str, expected: str | None) -> None:
    assert domain.status_after_campaign_outcome(outcome, model, status) == expected


def test_one_outcome_rule_for_pledges_waiting_and_pledges_arriving_late() -> None:
    assert domain.campaign_outcome("completed") == "succeeded"  # only ever after succeeded
    assert domain.campaign_outcome("live") is None and domain.campaign_outcome(None) is None
    move = domain.outcome_move("canceled", "keep_it_all", "succeeded", "venue lost")
    assert move == domain.OutcomeMove("refund_due", "campaign canceled: venue lost", released=False)
    released = domain.outcome_move("failed", "all_or_nothing", "authorized", None)
    assert released == domain.OutcomeMove("released", "campaign failed", released=True)
    assert domain.outcome_move("succeeded", "keep_it_all", "succeeded", None) is None


def test_projection_keeps_the_highest_version_and_stale_outcomes_are_ignored() -> None:
    assert domain.is_newer(None, 0) and domain.is_newer(3, 4)
    assert not domain.is_newer(4, 4) and not domain.is_newer(5, 4)
    assert not domain.outcome_applies("succeeded", "canceled", 7, 5)
    assert domain.outcome_applies("succeeded", "succeeded", 5, 5)  # a redelivery is harmless
    assert domain.outcome_applies("canceled", "succeeded", 5, 7)  # cancel after success refunds
    assert not domain.outcome_applies("failed", "succeeded", 6, 4)


def test_ledger_splits_tips_and_refunds_project_money_first() -> None:
    entries = domain.charge_entries("c", "p", 2_500, 300, "EUR", "pi_1")
    assert [(e.account, e.kind, e.amount) for e in entries] == [
        ("project", "charge", 2_500),
        ("platform", "platform_fee", 300),
    ]
    partial = domain.refund_entries("c", "p", "re_1", 1_000, 2_500, "EUR")
    assert [(e.account, e.amount) for e in partial] == [("project", -1_000)]
    rest = domain.refund_entries("c", "p", "re_2", 1_800, 1_500, "EUR")
    assert [(e.account, e.amount) for e in rest] == [("project", -1_500), ("platform", -300)]
    docs = [e.doc() for e in [*entries, *partial, *rest]]
    totals = domain.ledger_totals(docs)
    assert totals == {
        "matched": 0,
        "match_committed_open": 0,
        "match_owed_by_city": 0,
        "match_received": 0,
        "charged": 2_500,
        "refunded": 2_500,
        "disputed": 0,
        "raised": 0,
        "platform_fees": 0,
        "stripe_fees": 0,
        "paid_out": 0,
        "payout_owed": 0,
    }
    assert domain.journal_by_pledge(docs) == {"p": MoneyView(2_800, 2_800)}


def test_match_funding_is_its_own_account_and_not_reconciled_against_stripe() -> None:
    docs = [
        domain.match_entry("match_committed", "com_1", "c", 10_000, "EUR").doc(),
        domain.match_entry("match_applied", "app_1", "c", 1_500, "EUR").doc(),
        domain.match_entry("match_canceled", "com_1", "c", -8_500, "EUR").doc(),
        *[e.doc() for e in domain.charge_entries("c", "p", 1_500, 0, "EUR", "pi_1")],
    ]
    totals = domain.ledger_totals(docs)
    assert (
        totals["matched"] == 1_500 and totals["match_committed_open"] == 1_500 and totals["raised"] == 1_500
    )
    assert domain.journal_by_pledge(docs) == {"p": MoneyView(1_500, 0)}


def test_reconciliation_reports_each_difference() -> None:
    journal = {"a": MoneyView(1_000, 0), "b": MoneyView(500, 500)}
    stripe = {"a": MoneyView(1_000, 0), "b": MoneyView(500, 0), "c": MoneyView(700, 0)}
    assert domain.reconcile(journal, journal) == []
    assert domain.reconcile(journal, stripe) == [
        {"pledge_id": "b", "field": "refunded", "journal": 500, "stripe": 0},
        {"pledge_id": "c", "field": "charged", "journal": 0, "stripe": 700},
    ]


def test_subscription_events_fire_on_changes_of_activity_only() -> None:
    assert domain.subscription_event(None, "active") == "subscription.activated"
    assert domain.subscription_event(True, "active") is None
    assert domain.subscription_event(True, "past_due") == "subscription.lapsed"
    assert domain.subscription_event(False, "canceled") is None
    assert domain.subscription_event(None, "incomplete") is None
    assert domain.subscription_event(False, "trialing") == "subscription.activated"
