"""Ballot rules as tables: each rule by valid and invalid ballots, the running total while
building, and a result that is the same for anyone who recounts the stored ballots."""

from __future__ import annotations

import random

import pytest

from endorsements.calls.ballots import (
    BallotRule,
    BallotRuleError,
    Line,
    Proposal,
    add_refusal,
    ballots_digest,
    checkout_refusal,
    heading_result,
    tally,
)

BUDGET = 100_000_00  # €100,000 for the heading

APPROVAL_3 = BallotRule.parse({"kind": "approval", "max_lines": 3})
KNAPSACK = BallotRule.parse({"kind": "knapsack"})
THRESHOLD_70 = BallotRule.parse({"kind": "threshold", "min_percent": 70})
THRESHOLD_70_MIN2 = BallotRule.parse({"kind": "threshold", "min_percent": 70, "min_projects": 2})
THRESHOLD_50_2_TO_3 = BallotRule.parse(
    {"kind": "threshold", "min_percent": 50, "min_projects": 2, "max_projects": 3}
)


def lines(*amounts_in_euros: int) -> list[Line]:
    return [Line(f"p{i}", euros * 100) for i, euros in enumerate(amounts_in_euros)]


@pytest.mark.parametrize(
    ("rule", "ballot", "refusal"),
    [
        # approval: up to N proposals, amounts do not matter
        (APPROVAL_3, lines(10_000), None),
        (APPROVAL_3, lines(90_000, 90_000, 90_000), None),
        (APPROVAL_3, lines(1, 1, 1, 1), "at most 3"),
        (APPROVAL_3, [], "empty"),
        # knapsack: the total fits in the budget
        (KNAPSACK, lines(60_000, 40_000), None),
        (KNAPSACK, lines(1_000), None),
        (KNAPSACK, lines(60_000, 40_001), "more than the budget"),
        # threshold: between 70 % and 100 % of the budget
        (THRESHOLD_70, lines(70_000), None),
        (THRESHOLD_70, lines(50_000, 50_000), None),
        (THRESHOLD_70, lines(69_999), "at least 70 %"),
        (THRESHOLD_70, lines(80_000, 30_000), "more than the budget"),
        # threshold with a minimum number of projects
        (THRESHOLD_70_MIN2, lines(80_000), "at least 2 proposals"),
        (THRESHOLD_70_MIN2, lines(40_000, 35_000), None),
        # threshold with a min/max count
        (THRESHOLD_50_2_TO_3, lines(20_000, 20_000, 20_000), None),
        (THRESHOLD_50_2_TO_3, lines(15_000, 15_000, 15_000, 15_000), "at most 3"),
        (THRESHOLD_50_2_TO_3, lines(60_000), "at least 2"),
    ],
)
def test_checkout(rule: BallotRule, ballot: list[Line], refusal: str | None) -> None:
    answer = checkout_refusal(rule, BUDGET, ballot)
    if refusal is None:
        assert answer is None
    else:
        assert answer is not None and refusal in answer


def test_a_proposal_twice_is_refused_by_every_rule() -> None:
    twice = [Line("p1", 100), Line("p1", 100)]
    for rule in (APPROVAL_3, KNAPSACK, THRESHOLD_70):
        assert "twice" in (checkout_refusal(rule, 200, twice) or "")
        assert "already" in (add_refusal(rule, BUDGET, twice[:1], twice[1]) or "")


@pytest.mark.parametrize(
    ("rule", "held", "new", "refusal"),
    [
        (APPROVAL_3, lines(1, 1), Line("x", 500_000_00), None),  # amounts never matter in approval
        (APPROVAL_3, lines(1, 1, 1), Line("x", 1), "at most 3"),
        (KNAPSACK, lines(60_000), Line("x", 40_000_00), None),
        (KNAPSACK, lines(60_000), Line("x", 40_000_01), "over the budget (10000001 > 10000000)"),
        # a minimum is reached while building, so it never blocks an addition
        (THRESHOLD_70_MIN2, [], Line("x", 10_00), None),
        (THRESHOLD_50_2_TO_3, lines(1, 1, 1), Line("x", 1), "at most 3"),
        (THRESHOLD_70, lines(90_000), Line("x", 10_000_01), "over the budget"),
    ],
)
def test_building_the_ballot(rule: BallotRule, held: list[Line], new: Line, refusal: str | None) -> None:
    answer = add_refusal(rule, BUDGET, held, new)
    if refusal is None:
        assert answer is None
    else:
        assert answer is not None and refusal in answer


@pytest.mark.parametrize(
    "raw",
    [
        {"kind": "plurality"},
        {"kind": "approval"},
        {"kind": "approval", "max_lines": 0},
        {"kind": "approval", "max_lines": 3, "min_percent": 50},
        {"kind": "knapsack", "max_lines": 3},
        {"kind": "threshold"},
        {"kind": "threshold", "min_percent": 0},
        {"kind": "threshold", "min_percent": 101},
        {"kind": "threshold", "min_percent": 50, "min_projects": 3, "max_projects": 2},
        {"kind": "threshold", "min_percent": 50, "max_lines": 2},
        {"kind": "approval", "max_lines": "three"},
        {"kind": "approval", "max_lines": True},
    ],
)
def test_rules_that_cannot_work_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(BallotRuleError):
        BallotRule.parse(raw)


def proposals(*spec: tuple[str, int, str]) -> list[Proposal]:
    return [Proposal(pid, euros * 100, at) for pid, euros, at in spec]


def test_winners_in_vote_order_while_the_budget_lasts() -> None:
    props = proposals(
        ("park", 60_000, "2026-03-01"),
        ("library", 50_000, "2026-03-02"),
        ("benches", 30_000, "2026-03-03"),
        ("murals", 10_000, "2026-03-04"),
        ("nobody", 1_000, "2026-03-05"),
    )
    votes = tally([["park", "library"], ["park", "benches"], ["library", "park"], ["benches"], ["murals"]])
    result = {o.proposal_id: o for o in heading_result(props, votes, BUDGET, "earliest_submission")}
    assert [o.proposal_id for o in sorted(result.values(), key=lambda o: o.rank)] == [
        "park", "library", "benches", "murals", "nobody"
    ]  # fmt: skip
    assert result["park"].selected and result["park"].votes == 3
    assert not result["library"].selected and result["library"].why_not == "budget"  # 60k + 50k > 100k
    assert result["benches"].selected  # a cheaper one below still fits
    assert result["murals"].selected  # 60k + 30k + 10k = 100k exactly
    assert not result["nobody"].selected and result["nobody"].why_not == "no_votes"


@pytest.mark.parametrize(
    ("tie_break", "first"),
    [("earliest_submission", "a"), ("lowest_amount", "b")],
)
def test_ties_follow_the_published_rule(tie_break: str, first: str) -> None:
    props = proposals(("a", 80_000, "2026-03-01"), ("b", 70_000, "2026-03-02"))
    votes = tally([["a", "b"], ["a", "b"]])
    result = heading_result(props, votes, BUDGET, tie_break)
    assert [o.proposal_id for o in result if o.selected] == [first]


def test_a_draw_is_fixed_by_its_published_seed() -> None:
    props = proposals(*((f"p{i}", 90_000, "2026-03-01") for i in range(20)))
    votes = tally([[p.proposal_id for p in props]])
    winners = {
        seed: [o.proposal_id for o in heading_result(props, votes, BUDGET, "draw", seed) if o.selected]
        for seed in ("seed-2026", "seed-2027")
    }
    assert winners["seed-2026"] == [
        o.proposal_id for o in heading_result(props, votes, BUDGET, "draw", "seed-2026") if o.selected
    ]
    assert len(winners["seed-2026"]) == 1
    # Another seed gives another order of the same 20 (collision odds: 1 in 20).
    assert heading_result(props, votes, BUDGET, "draw", "seed-2026") != heading_result(
        props, votes, BUDGET, "draw", "seed-2027"
    )
    with pytest.raises(BallotRuleError):
        heading_result(props, votes, BUDGET, "coin")


def test_a_recount_from_the_stored_ballots_gives_the_same_digest_and_winners() -> None:
    rng = random.Random(7)
    ids = [f"p{i}" for i in range(12)]
    ballots = [(f"voter{n}", rng.sample(ids, 3)) for n in range(500)]
    shuffled = ballots[:]
    rng.shuffle(shuffled)
    reordered = [(voter, list(reversed(chosen))) for voter, chosen in shuffled]
    assert ballots_digest(ballots) == ballots_digest(reordered)
    assert ballots_digest(ballots) != ballots_digest(ballots[:-1])
    props = [Proposal(pid, 20_000_00, f"2026-03-{i + 1:02d}") for i, pid in enumerate(ids)]
    first = heading_result(props, tally(c for _, c in ballots), BUDGET, "earliest_submission")
    again = heading_result(props, tally(c for _, c in reordered), BUDGET, "earliest_submission")
    assert first == again


def test_the_multiset_digest_ignores_order_and_sees_any_change() -> None:
    from endorsements.calls.ballots import multiset_digest

    ballots = [("v1", ["p1", "p2"]), ("v2", ["p2"]), ("pb_1", ["p3"])]
    assert multiset_digest(ballots) == multiset_digest(list(reversed(ballots)))
    assert multiset_digest(ballots) == multiset_digest([("v1", ["p2", "p1"]), *ballots[1:]])
    assert multiset_digest(ballots) != multiset_digest([("v1", ["p1"]), *ballots[1:]])
    assert multiset_digest(ballots) != multiset_digest(ballots[:2])
    assert multiset_digest(ballots) != multiset_digest([*ballots, ("v2", ["p2"])])
