"""The match rules as one table: every rule variant x both funding models x the campaign's
end (succeeded at / above the goal, succeeded below it, failed, canceled), through the pure
`end_action`, then, for all-or-nothing successes, through `settle_charged` over the money
actually charged afterwards."""

from __future__ import annotations

from typing import Any

import pytest

from endorsements.matching.domain import Contribution, end_action, settle_charged

GOAL = 30_000
C = Contribution
# Charged money: b1 twice, b2 and b3 once; 31,000 in all (above the goal).
ABOVE = [C("p1", "b1", 6_000), C("p2", "b1", 4_000), C("p3", "b2", 9_000), C("p4", "b3", 12_000)]
BELOW = ABOVE[:3]  # 19,000: a keep-it-all campaign still "succeeds" with it
ONE_BACKER = ABOVE[:2]

RULES: dict[str, dict[str, Any]] = {
    "goal_1to1": {"condition": "on_goal_reached", "ratio": 1},
    "goal_per_backer": {"condition": "on_goal_reached", "ratio": 1, "max_contributions_per_backer": 1},
    "goal_min_backers": {"condition": "on_goal_reached", "ratio": 1, "min_backers": 3},
    "goal_capped": {"condition": "on_goal_reached", "ratio": 2, "cap_per_contribution": 10_000},
    "instant": {"condition": "instant", "ratio": 1, "cap_per_contribution": 5_000},
    "instant_min_backers": {"condition": "instant", "ratio": 1, "min_backers": 2},
    "lump": {"condition": "lump_sum_at_threshold", "ratio": 1, "lump_sum": 4_000, "threshold_percent": 50},
    "lump_min_backers": {"condition": "lump_sum_at_threshold", "ratio": 1, "lump_sum": 4_000,
                         "threshold_percent": 50, "min_backers": 4},
}  # fmt: skip
MAX = {"lump": 4_000, "lump_min_backers": 4_000}  # the others: cap_per_project 25,000
CAP = 25_000

# (rule, model, outcome) -> (end action, amount at the end, amount after the charges)
# keep_it_all: the money is charged before the end; all_or_nothing: at the end, pledges are
# still authorised (`pledged`), and the charges come after success.
TABLE: list[tuple[str, str, str, str, int, int | None]] = [
    # on_goal_reached pays only if the goal was reached by the deadline, in both models.
    ("goal_1to1", "keep_it_all", "above", "release", 25_000, None),  # 31,000 capped by the project cap
    ("goal_1to1", "keep_it_all", "below", "cancel", 0, None),  # the bug: it was released
    ("goal_1to1", "all_or_nothing", "above", "charging", 0, 25_000),
    (
        "goal_per_backer",
        "keep_it_all",
        "above",
        "release",
        25_000,
        None,
    ),  # 6 + 9 + 12 (b1 once): 27,000 -> cap
    ("goal_per_backer", "all_or_nothing", "above", "charging", 0, 25_000),
    ("goal_per_backer", "keep_it_all", "below", "cancel", 0, None),
    ("goal_min_backers", "keep_it_all", "above", "release", 25_000, None),
    ("goal_min_backers", "keep_it_all", "one_backer_above", "cancel", 0, None),  # goal met, 1 backer
    ("goal_min_backers", "all_or_nothing", "above", "charging", 0, 25_000),
    ("goal_min_backers", "all_or_nothing", "one_backer_above", "charging", 0, 0),  # counted on charges
    ("goal_capped", "keep_it_all", "above", "release", 25_000, None),  # 10+8+10+10 -> project cap
    ("goal_capped", "keep_it_all", "below", "cancel", 0, None),
    ("goal_capped", "all_or_nothing", "above", "charging", 0, 25_000),
    # instant: keep-it-all gave as money came (closed at the end, what it gave stays);
    # all-or-nothing gives nothing before success, then matches the charges.
    ("instant", "keep_it_all", "above", "cancel", 0, None),
    ("instant", "keep_it_all", "below", "cancel", 0, None),
    ("instant", "all_or_nothing", "above", "charging", 0, 19_000),  # 5 + 4 + 5 + 5 (cap per charge)
    ("instant_min_backers", "keep_it_all", "above", "cancel", 0, None),
    ("instant_min_backers", "all_or_nothing", "above", "charging", 0, 21_000),  # b1's charges: 1 backer yet
    ("instant_min_backers", "all_or_nothing", "one_backer_above", "charging", 0, 0),
    # lump sums: keep-it-all at the threshold of the charged money; all-or-nothing on charges.
    ("lump", "keep_it_all", "above", "release", 4_000, None),
    ("lump", "keep_it_all", "below", "release", 4_000, None),  # 19,000 >= 50 % of 30,000
    ("lump", "all_or_nothing", "above", "charging", 0, 4_000),
    ("lump_min_backers", "keep_it_all", "below", "cancel", 0, None),
    ("lump_min_backers", "all_or_nothing", "above", "charging", 0, 0),  # 3 backers charged < 4
]
# Failure and cancellation cancel every variant in both models, before anything more is given.
TABLE += [
    (rule, model, outcome, "cancel", 0, None)
    for rule in RULES
    for model in ("keep_it_all", "all_or_nothing")
    for outcome in ("failed", "canceled")
]


def _end(rule: str, model: str, outcome: str) -> tuple[str, list[Contribution], int, int]:
    """The campaign's end: (verb, charges known at the end, raised, pledged)."""
    charges = ONE_BACKER if outcome.startswith("one_backer") else BELOW if outcome == "below" else ABOVE
    total = sum(c.amount for c in charges) + (25_000 if outcome == "one_backer_above" else 0)
    if outcome == "one_backer_above":
        charges = [*charges, C("p9", "b1", 25_000)]
    verb = outcome if outcome in ("failed", "canceled") else "succeeded"
    if model == "all_or_nothing":
        return verb, [], 0, total  # authorised pledges, nothing charged yet
    return verb, charges, total, 0


@pytest.mark.parametrize(("rule", "model", "outcome", "kind", "amount", "after_charges"), TABLE)
def test_match_rules_table(
    rule: str, model: str, outcome: str, kind: str, amount: int, after_charges: int | None
) -> None:
    max_amount = MAX.get(rule, CAP)
    verb, known, raised, pledged = _end(rule, model, outcome)
    action = end_action(RULES[rule], model, verb, known, GOAL, raised, pledged, 0, max_amount)
    assert (action.kind, action.amount) == (kind, amount), action
    if kind == "cancel":
        assert action.reason
    if after_charges is not None:
        _, charges, _, _ = _end(rule, "keep_it_all", outcome)  # the pledges, now charged
        assert settle_charged(RULES[rule], charges, GOAL, max_amount) == after_charges


def test_every_variant_model_and_outcome_is_in_the_table() -> None:
    seen = {(r, m, "failed" if o == "failed" else "canceled" if o == "canceled" else "succeeded")
            for r, m, o, *_ in TABLE}  # fmt: skip
    for rule in RULES:
        for model in ("keep_it_all", "all_or_nothing"):
            for verb in ("succeeded", "failed", "canceled"):
                assert (rule, model, verb) in seen, (rule, model, verb)


def test_all_or_nothing_below_the_goal_releases_nothing_even_if_told_it_succeeded() -> None:
    # campaigns never says so, but a rule is a rule: the goal is checked here too.
    for rule in RULES.values():
        action = end_action(rule, "all_or_nothing", "succeeded", [], GOAL, 0, 19_000, 0, CAP)
        assert action.kind == "cancel" and "goal" in action.reason


def test_counted_matches_help_reach_the_goal() -> None:
    # 19,000 raised + 11,000 of an instant match that counts toward the goal = the goal.
    action = end_action(RULES["goal_1to1"], "keep_it_all", "succeeded", BELOW, GOAL, 19_000, 0, 11_000, CAP)
    assert (action.kind, action.amount) == ("release", 19_000)
