"""Pure rules: territory, label lifecycle, match-funding arithmetic, call windows and ranking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from endorsements.calls.domain import (
    CallRuleError,
    check_windows,
    jury_refusal,
    rank,
    results_digest,
    vote_refusal,
)
from endorsements.labels.domain import TransitionError, needs_subscription, next_status, support_totals
from endorsements.matching.domain import (
    Contribution,
    RuleError,
    conditional_release,
    counts_toward_goal,
    instant_match,
    lump_sum_due,
    matched_for,
    pool_usage,
    validate_rule,
)
from endorsements.municipalities.domain import Territory, TerritoryError
from endorsements.officials.domain import invitation_usable, role_allows, subscription_active

SQUARE_WITH_HOLE = {
    "type": "Polygon",
    "coordinates": [
        [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
        [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]],
    ],
}


def test_territory_by_postcode_and_polygon_with_hole() -> None:
    t = Territory.build(["93100"], SQUARE_WITH_HOLE)
    assert t.contains(postcode=" 93100 ")
    assert not t.contains(postcode="93170")
    assert t.contains(lat=1, lon=1)
    assert not t.contains(lat=5, lon=5)  # in the hole
    assert not t.contains(lat=11, lon=5)
    assert t.bbox == (0, 0, 10, 10)


def test_multipolygon_and_bad_geojson() -> None:
    multi = {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]],
                                                     [[[5, 5], [6, 5], [6, 6], [5, 5]]]]}  # fmt: skip
    t = Territory.build([], multi)
    assert t.contains(lat=0.2, lon=0.8) and t.contains(lat=5.2, lon=5.8) and not t.contains(lat=3, lon=3)
    for bad in ({"type": "Point", "coordinates": [1, 2]}, {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]},
                {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},  # not closed
                {"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [1, 1], [0, 0]]]}):  # fmt: skip
        with pytest.raises(TerritoryError):
            Territory.build([], bad)


def test_label_lifecycle() -> None:
    assert next_status("review", "requested") == "under_review"
    assert next_status("grant", "under_review") == "granted"
    assert next_status("decline", "under_review") == "declined"
    assert next_status("revoke", "granted") == "revoked"
    for action, status in [("revoke", "under_review"), ("grant", "declined"), ("grant", "revoked"),
                           ("review", "granted"), ("decline", "granted")]:  # fmt: skip
        with pytest.raises(TransitionError):
            next_status(action, status)
    assert (
        needs_subscription("grant") and not needs_subscription("revoke") and not needs_subscription("decline")
    )
    offers = [{"kind": "land", "value": 500, "currency": "EUR"}, {"kind": "equipment", "value": 7, "currency": "GBP"},
              {"kind": "communication"}]  # fmt: skip
    totals = support_totals(offers, "EUR")
    assert totals.in_kind_value == 500 and totals.kinds == ("communication", "equipment", "land")


def test_roles_subscription_invitation() -> None:
    assert role_allows("reviewer", "label") and not role_allows("reviewer", "commit_funds")
    assert role_allows("manager", "run_calls") and not role_allows(None, "label")
    now = datetime.now(UTC)
    assert subscription_active(now + timedelta(days=1), [], now)
    assert not subscription_active(now - timedelta(days=1), [{"status": "lapsed"}], now)
    assert subscription_active(None, [{"status": "lapsed"}, {"status": "active"}], now)
    assert invitation_usable(now + timedelta(1), False, now) is None
    assert invitation_usable(now - timedelta(1), False, now) == "invitation expired"
    assert invitation_usable(now + timedelta(1), True, now) == "invitation already accepted"


def test_match_rules_are_data_with_integer_money() -> None:
    assert validate_rule({"condition": "instant", "ratio": 1, "cap_per_project": 300_000}) == 300_000
    assert (
        validate_rule(
            {"condition": "lump_sum_at_threshold", "ratio": 1, "lump_sum": 5, "threshold_percent": 50}
        )
        == 5
    )
    for bad in ({"condition": "instant", "ratio": 1}, {"condition": "later", "ratio": 1, "cap_per_project": 1},
                {"condition": "instant", "ratio": 0.333, "cap_per_project": 1},
                {"condition": "lump_sum_at_threshold", "ratio": 1, "lump_sum": 5}):  # fmt: skip
        with pytest.raises(RuleError):
            validate_rule(bad)
    assert matched_for({"ratio": 2}, 1_001) == 2_002
    assert matched_for({"ratio": 0.5}, 1_001) == 500  # floored: never a fraction of a cent too much
    assert matched_for({"ratio": 1, "cap_per_contribution": 700}, 1_001) == 700


def test_instant_first_come_first_served() -> None:
    rule = {"condition": "instant", "ratio": 1, "max_contributions_per_backer": 1, "min_backers": 2}
    assert instant_match(rule, 100, 0, 1, 0, 1_000) == 0  # not enough backers yet
    assert instant_match(rule, 100, 0, 2, 0, 1_000) == 100
    assert instant_match(rule, 100, 1, 2, 0, 1_000) == 0  # backer already matched once
    assert instant_match(rule, 500, 0, 3, 800, 1_000) == 200  # what is left
    assert instant_match(rule, 500, 0, 3, 1_000, 1_000) == 0


def test_conditional_release_and_lump_sum() -> None:
    rule = {"condition": "on_goal_reached", "ratio": 1, "max_contributions_per_backer": 1, "min_backers": 2}
    known = [Contribution("p1", "a", 600), Contribution("p2", "a", 400), Contribution("p3", "b", 900)]
    assert conditional_release(rule, known, 0, 10_000) == 1_500
    assert conditional_release(rule, known, 0, 1_000) == 1_000  # project cap
    assert conditional_release(rule, known[:2], 0, 10_000) == 0  # one backer only
    # all_or_nothing: pledges reported at success, charged later, matched at the plain ratio.
    assert conditional_release({"condition": "on_goal_reached", "ratio": 2}, [], 5_000, 8_000) == 8_000
    assert lump_sum_due({"threshold_percent": 50}, 10_000, 5_000, 1)
    assert not lump_sum_due({"threshold_percent": 50}, 10_000, 4_999, 10)
    assert not lump_sum_due({"threshold_percent": 50, "min_backers": 3}, 10_000, 9_000, 2)


def test_counts_toward_goal_is_a_property_of_the_commitment() -> None:
    assert counts_toward_goal("instant") and counts_toward_goal("lump_sum_at_threshold")
    assert not counts_toward_goal("on_goal_reached")


def test_pool_usage_keeps_instant_money_given() -> None:
    commitments = [{"status": "active", "max_amount": 1_000, "given": 200},
                   {"status": "canceled", "max_amount": 5_000, "given": 300},
                   {"status": "released", "max_amount": 5_000, "given": 4_000}]  # fmt: skip
    assert pool_usage(commitments) == 1_000 + 300 + 4_000


def _call(**kw: object) -> dict:
    now = datetime.now(UTC)
    base = {"status": "open", "selection_mode": "vote", "votes_per_resident": 2,
            "vote_opens_at": now - timedelta(hours=1), "vote_closes_at": now + timedelta(hours=1)}  # fmt: skip
    return {**base, **kw}


def test_windows_and_votes() -> None:
    now = datetime.now(UTC)
    h = timedelta(hours=1)
    check_windows(now, now + h, now + h, now + 2 * h, "vote")
    with pytest.raises(CallRuleError):
        check_windows(now, now + h, None, None, "jury_then_vote")
    with pytest.raises(CallRuleError):
        check_windows(now, now + h, now, now + 2 * h, "vote")  # vote before submissions close
    proposal = {"status": "submitted"}
    assert vote_refusal(_call(), proposal, 0, True, now) is None
    assert "residents" in vote_refusal(_call(), proposal, 0, False, now)
    assert "2 votes" in vote_refusal(_call(), proposal, 2, True, now)
    assert "shortlisted" in vote_refusal(_call(selection_mode="jury_then_vote"), proposal, 0, True, now)
    assert "jury" in vote_refusal(_call(selection_mode="jury"), proposal, 0, True, now)
    assert "closed" in vote_refusal(_call(vote_closes_at=now - h), proposal, 0, True, now)


def test_ranking_is_reproducible_and_budgeted() -> None:
    t = datetime(2027, 1, 1, tzinfo=UTC)
    proposals = [
        {"_id": "a", "requested_amount": 60, "submitted_at": t},
        {"_id": "b", "requested_amount": 50, "submitted_at": t + timedelta(1)},
        {"_id": "c", "requested_amount": 30, "submitted_at": t},
        {"_id": "d", "requested_amount": 10, "submitted_at": t},
    ]
    votes = {"a": 5, "b": 5, "c": 2, "d": 0}
    ranked = rank(list(reversed(proposals)), votes, budget=100, max_award=55, winners=3)
    assert [(r.proposal_id, r.award, r.selected) for r in ranked] == [
        ("a", 55, True), ("b", 50, False), ("c", 30, True), ("d", 10, False)]  # fmt: skip
    assert rank(proposals, votes, 100, 55, 3) == ranked
    ballots = [("v1", "a"), ("v2", "b")]
    assert results_digest(["a", "b"], ballots) == results_digest(["b", "a"], list(reversed(ballots)))
    assert jury_refusal([("a", 10), ("a", 5)], 100, 50, 3) == "a proposal is selected twice"
    assert jury_refusal([("a", 60)], 100, 50, 3) is not None
    assert jury_refusal([("a", 50), ("b", 50)], 100, 50, 3) is None
