"""The fallback's pure rules: which choices a checkout accepts, and the outcome x fallback table
of what happens to a pledge."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from payments import domain, fallback_domain
from payments.fallback_domain import FallbackCampaign

NOW = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
OWN = FallbackCampaign("cmp_own", "live", "EUR", "all_or_nothing", "montreuil")
OTHER = FallbackCampaign("cmp_other", "live", "EUR", "all_or_nothing", "montreuil")
OTHER_KEEP = FallbackCampaign("cmp_other", "live", "EUR", "keep_it_all", "montreuil")
TO_OTHER = {"kind": "campaign", "campaign_id": "cmp_other"}


def test_refund_is_the_default_and_needs_no_consent() -> None:
    assert fallback_domain.check_choice(None, False, OWN, None, NOW) == {"kind": "refund"}
    assert fallback_domain.check_choice({"kind": "refund"}, False, OWN, None, NOW) == {"kind": "refund"}


def test_a_campaign_choice_is_stored_with_the_consent_text_version_and_time() -> None:
    stored = fallback_domain.check_choice(TO_OTHER, True, OWN, OTHER, NOW)
    assert stored == {
        "kind": "campaign",
        "campaign_id": "cmp_other",
        "consent_version": fallback_domain.CONSENT_VERSION,
        "consented_at": NOW,
    }


@pytest.mark.parametrize(
    ("choice", "consent", "own", "target", "code"),
    [
        (TO_OTHER, False, OWN, OTHER, "fallback_consent_required"),
        (
            TO_OTHER,
            True,
            FallbackCampaign("cmp_own", "live", "EUR", "keep_it_all", "montreuil"),
            OTHER,
            "fallback_not_offered",
        ),
        ({"kind": "city_pool", "municipality": "montreuil"}, True, OWN, None, "fallback_unavailable"),
        ({"kind": "lottery"}, True, OWN, None, "fallback_invalid"),
        (TO_OTHER, True, OWN, None, "fallback_campaign_not_found"),
        ({"kind": "campaign", "campaign_id": "cmp_own"}, True, OWN, OWN, "fallback_same_campaign"),
        (
            TO_OTHER,
            True,
            OWN,
            FallbackCampaign("cmp_other", "failed", "EUR", "all_or_nothing", "montreuil"),
            "fallback_campaign_not_live",
        ),
        (
            TO_OTHER,
            True,
            OWN,
            FallbackCampaign("cmp_other", "live", "EUR", "all_or_nothing", "bagnolet"),
            "fallback_other_city",
        ),
        (
            TO_OTHER,
            True,
            OWN,
            FallbackCampaign("cmp_other", "live", "GBP", "all_or_nothing", "montreuil"),
            "fallback_currency_mismatch",
        ),
    ],
)
def test_choices_that_cannot_be_honoured_are_refused(
    choice: dict[str, Any], consent: bool, own: FallbackCampaign, target: FallbackCampaign | None, code: str
) -> None:
    with pytest.raises(domain.PledgeRejected) as err:
        fallback_domain.check_choice(choice, consent, own, target, NOW)
    assert err.value.code == code


def _pledge(model: str, status: str, kind: str) -> dict[str, Any]:
    fallback = TO_OTHER if kind == "campaign" else {"kind": "refund"}
    return {
        "_id": "plg_1",
        "campaign_id": "cmp_own",
        "backer_id": "usr_1",
        "amount": 2_500,
        "tip": 100,
        "currency": "EUR",
        "funding_model": model,
        "status": status,
        "customer_id": "cus_1",
        "payment_method": "pm_1",
        "fallback": fallback,
    }


# outcome x funding model x pledge status x choice -> the pledge's move, and whether a new
# pledge goes to the chosen campaign (live, same city).
@pytest.mark.parametrize(
    ("outcome", "model", "status", "kind", "expected", "repledged"),
    [
        ("failed", "all_or_nothing", "authorized", "refund", "released", False),
        ("failed", "all_or_nothing", "authorized", "campaign", "released", True),
        ("canceled", "all_or_nothing", "authorized", "campaign", "released", True),
        ("canceled", "all_or_nothing", "charge_due", "campaign", "released", True),
        # The card already failed off-session: not reused.
        ("failed", "all_or_nothing", "charge_failed", "campaign", "released", False),
        # No card was ever saved.
        ("failed", "all_or_nothing", "pending", "campaign", "abandoned", False),
        # Money already taken: refunded (README: why it is not moved in the ledger).
        ("canceled", "all_or_nothing", "succeeded", "campaign", "refund_due", False),
        ("canceled", "keep_it_all", "succeeded", "campaign", "refund_due", False),
        ("canceled", "keep_it_all", "succeeded", "refund", "refund_due", False),
        # A success charges as before, whatever the choice.
        ("succeeded", "all_or_nothing", "authorized", "campaign", "charge_due", False),
    ],
)
def test_outcome_by_fallback(
    outcome: str, model: str, status: str, kind: str, expected: str, repledged: bool
) -> None:
    move = domain.outcome_move(outcome, model, status, None)
    assert move is not None and move.status == expected
    assert fallback_domain.repledges(move, _pledge(model, status, kind), OTHER) is repledged


def test_a_chosen_campaign_that_ended_or_changed_means_release() -> None:
    move = domain.outcome_move("failed", "all_or_nothing", "authorized", None)
    assert move is not None
    pledge = _pledge("all_or_nothing", "authorized", "campaign")
    assert fallback_domain.repledges(move, pledge, OTHER)
    for target in (
        None,
        FallbackCampaign("cmp_other", "succeeded", "EUR", "all_or_nothing", "montreuil"),
        FallbackCampaign("cmp_other", "live", "GBP", "all_or_nothing", "montreuil"),
        FallbackCampaign("cmp_else", "live", "EUR", "all_or_nothing", "montreuil"),
    ):
        assert not fallback_domain.repledges(move, pledge, target)
    assert not fallback_domain.repledges(move, {**pledge, "payment_method": None}, OTHER)


def test_the_new_pledge_has_the_same_amount_and_card_and_a_stable_id() -> None:
    pledge = _pledge("all_or_nothing", "authorized", "campaign")
    on_aon = fallback_domain.fallback_pledge(pledge, OTHER, NOW)
    on_keep = fallback_domain.fallback_pledge(pledge, OTHER_KEEP, NOW)
    assert on_aon["_id"] == on_keep["_id"] == fallback_domain.fallback_pledge_id("plg_1") != "plg_1"
    assert (on_aon["status"], on_keep["status"]) == ("authorized", "charge_due")
    for new in (on_aon, on_keep):
        assert (new["campaign_id"], new["amount"], new["tip"], new["currency"]) == (
            "cmp_other",
            2_500,
            100,
            "EUR",
        )
        assert (new["customer_id"], new["payment_method"], new["fallback_of"]) == ("cus_1", "pm_1", "plg_1")
        assert new["fallback"] == {"kind": "refund"}
