"""The fallback's pure rules: which choices a checkout accepts, and the outcome x fallback table
of what happens to a pledge (a new pledge on the chosen campaign, or a gift to the city's pool)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from payments import domain, fallback_domain
from payments.fallback_domain import FallbackCampaign, GiftPool

NOW = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
OWN = FallbackCampaign("cmp_own", "live", "EUR", "all_or_nothing", "montreuil")
OTHER = FallbackCampaign("cmp_other", "live", "EUR", "all_or_nothing", "montreuil")
OTHER_KEEP = FallbackCampaign("cmp_other", "live", "EUR", "keep_it_all", "montreuil")
TO_OTHER = {"kind": "campaign", "campaign_id": "cmp_other"}
POOL = GiftPool("pool_bp", "montreuil", "Budget participatif 2026", 2026, "EUR", True)
TO_POOL = {"kind": "city_pool"}


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


def test_a_city_pool_choice_names_the_pool_taking_gifts_now() -> None:
    stored = fallback_domain.check_choice(TO_POOL, True, OWN, None, NOW, POOL)
    assert stored == {
        "kind": "city_pool",
        "municipality": "montreuil",
        "pool_id": "pool_bp",
        "pool_name": "Budget participatif 2026",
        "consent_version": fallback_domain.CONSENT_VERSION,
        "consented_at": NOW,
    }
    named = fallback_domain.check_choice({**TO_POOL, "municipality": "montreuil"}, True, OWN, None, NOW, POOL)
    assert named == stored


@pytest.mark.parametrize(
    ("choice", "consent", "own", "pool", "code"),
    [
        (TO_POOL, False, OWN, POOL, "fallback_consent_required"),
        (TO_POOL, True, FallbackCampaign("cmp_own", "live", "EUR", "keep_it_all", "montreuil"), POOL,
         "fallback_not_offered"),
        # The city has no pool taking gifts (none marked, another year's, another currency's).
        (TO_POOL, True, OWN, None, "fallback_unavailable"),
        (TO_POOL, True, OWN, GiftPool("pool_bp", "montreuil", "BP", 2026, "EUR", False), "fallback_unavailable"),
        (TO_POOL, True, OWN, GiftPool("pool_bp", "montreuil", "BP", 2025, "EUR", True), "fallback_unavailable"),
        (TO_POOL, True, OWN, GiftPool("pool_bp", "montreuil", "BP", 2026, "GBP", True), "fallback_unavailable"),
        (TO_POOL, True, OWN, GiftPool("pool_bp", "bagnolet", "BP", 2026, "EUR", True), "fallback_unavailable"),
        ({**TO_POOL, "municipality": "bagnolet"}, True, OWN, POOL, "fallback_other_city"),
        (TO_POOL, True, FallbackCampaign("cmp_own", "live", "EUR", "all_or_nothing", None), POOL,
         "fallback_unavailable"),
    ],
)  # fmt: skip
def test_pool_choices_that_cannot_be_honoured_are_refused(
    choice: dict[str, Any], consent: bool, own: FallbackCampaign, pool: GiftPool | None, code: str
) -> None:
    with pytest.raises(domain.PledgeRejected) as err:
        fallback_domain.check_choice(choice, consent, own, None, NOW, pool)
    assert err.value.code == code


def test_checkout_offers_the_current_years_pool_of_the_city() -> None:
    pools = [
        GiftPool("pool_b", "montreuil", "BP 2026", 2026, "EUR", True),
        GiftPool("pool_a", "montreuil", "BP 2025", 2025, "EUR", True),
        GiftPool("pool_c", "montreuil", "Fonds 2026", 2026, "EUR", False),
        GiftPool("pool_d", "bagnolet", "BP 2026", 2026, "EUR", True),
    ]
    assert fallback_domain.offered_pool(pools, "montreuil", "EUR", 2026) == pools[0]
    assert fallback_domain.offered_pool(pools, "montreuil", "GBP", 2026) is None
    assert fallback_domain.offered_pool(pools, "montreuil", "EUR", 2027) is None
    assert fallback_domain.offered_pool(pools, None, "EUR", 2026) is None


def _pledge(model: str, status: str, kind: str) -> dict[str, Any]:
    fallback = {"campaign": TO_OTHER, "city_pool": {"kind": "city_pool", "pool_id": "pool_bp"}}.get(
        kind, {"kind": "refund"}
    )
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


# outcome x funding model x pledge status x choice -> whether the saved card is charged as a
# gift to the city's pool (the pool named in the choice still takes gifts).
@pytest.mark.parametrize(
    ("outcome", "model", "status", "kind", "expected", "gives"),
    [
        ("failed", "all_or_nothing", "authorized", "city_pool", "released", True),
        ("canceled", "all_or_nothing", "authorized", "city_pool", "released", True),
        ("canceled", "all_or_nothing", "charge_due", "city_pool", "released", True),
        ("failed", "all_or_nothing", "authorized", "refund", "released", False),
        ("failed", "all_or_nothing", "authorized", "campaign", "released", False),
        ("failed", "all_or_nothing", "charge_failed", "city_pool", "released", False),
        ("failed", "all_or_nothing", "pending", "city_pool", "abandoned", False),
        ("canceled", "all_or_nothing", "succeeded", "city_pool", "refund_due", False),
        ("succeeded", "all_or_nothing", "authorized", "city_pool", "charge_due", False),
    ],
)
def test_outcome_by_pool_fallback(
    outcome: str, model: str, status: str, kind: str, expected: str, gives: bool
) -> None:
    move = domain.outcome_move(outcome, model, status, None)
    assert move is not None and move.status == expected
    assert fallback_domain.gives_to_pool(move, _pledge(model, status, kind), POOL) is gives


def test_a_pool_that_stopped_taking_gifts_means_release() -> None:
    move = domain.outcome_move("failed", "all_or_nothing", "authorized", None)
    assert move is not None
    pledge = _pledge("all_or_nothing", "authorized", "city_pool")
    for pool in (
        None,
        GiftPool("pool_bp", "montreuil", "BP", 2026, "EUR", False),
        GiftPool("pool_bp", "montreuil", "BP", 2026, "GBP", True),
        GiftPool("pool_other", "montreuil", "BP", 2026, "EUR", True),
    ):
        assert not fallback_domain.gives_to_pool(move, pledge, pool)
    # The year is not checked again: the backer agreed to that pool, a new year does not change it.
    assert fallback_domain.gives_to_pool(
        move, pledge, GiftPool("pool_bp", "montreuil", "BP", 2025, "EUR", True)
    )
    assert not fallback_domain.gives_to_pool(move, {**pledge, "payment_method": None}, POOL)


def test_the_gift_is_the_pledges_amount_without_the_tip_and_has_a_stable_id() -> None:
    gift = fallback_domain.pool_gift(_pledge("all_or_nothing", "authorized", "city_pool"), POOL, NOW)
    assert gift["_id"] == fallback_domain.pool_gift_id("plg_1") != fallback_domain.fallback_pledge_id("plg_1")
    assert (gift["amount"], gift["currency"], gift["pool_id"], gift["municipality"]) == (
        2_500, "EUR", "pool_bp", "montreuil",
    )  # fmt: skip
    assert (gift["customer_id"], gift["payment_method"], gift["status"]) == ("cus_1", "pm_1", "due")


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
