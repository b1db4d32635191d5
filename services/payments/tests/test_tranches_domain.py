"""Milestone releases' pure rules: the plan, the split of a release and the milestone states."""

from __future__ import annotations

import pytest

from payments import payouts_domain
from payments import tranches_domain as t

T = t.Tranche


@pytest.mark.parametrize(
    ("amount", "percents", "parts"),
    [
        (10_000, [50, 50], [5_000, 5_000]),
        (10_001, [50, 50], [5_000, 5_001]),
        (1_000, [33, 33, 34], [330, 330, 340]),
        (999, [33, 33, 34], [329, 329, 341]),
        (7, [20, 20, 20, 20, 20], [1, 1, 1, 1, 3]),
        (0, [60, 40], [0, 0]),
        (12_345, [100], [12_345]),
    ],
)
def test_split_rounds_down_and_the_last_takes_the_remainder(
    amount: int, percents: list[int], parts: list[int]
) -> None:
    assert t.split(amount, percents) == parts
    assert sum(t.split(amount, percents)) == amount


@pytest.mark.parametrize(
    "plan",
    [
        [],
        [T(50, None), T(40, "done")],
        [T(50, None), T(50, "")],
        [T(50, None), T(50, "   ")],
        [T(0, None), T(100, "done")],
        [T(101, None), T(-1, "done")],
        [T(20, None), *[T(10, f"m{i}") for i in range(8)]],
    ],
)
def test_bad_plans_are_refused(plan: list[t.Tranche]) -> None:
    with pytest.raises(t.PlanRefused) as refused:
        t.validate_plan(plan)
    assert refused.value.code == "plan_invalid" and refused.value.status == 422


def test_a_good_plan_drops_the_first_title_and_trims_the_others() -> None:
    plan = t.validate_plan([T(50, "start"), T(30, " walls "), T(20, "roof")])
    assert plan == [T(50, None), T(30, "walls"), T(20, "roof")]


@pytest.mark.parametrize(
    ("state", "action", "to"),
    [
        (t.AWAITING_PROOF, "prove_labelled", t.AWAITING_CITY),
        (t.AWAITING_PROOF, "prove_unlabelled", t.OBJECTION_WINDOW),
        (t.AWAITING_CITY, "confirm", t.RELEASED),
        (t.OBJECTION_WINDOW, "object", t.OBJECTED),
        (t.OBJECTED, "object", t.OBJECTED),
        (t.OBJECTION_WINDOW, "window_ended", t.RELEASED),
        (t.OBJECTED, "admin_release", t.RELEASED),
        (t.OBJECTED, "admin_hold", t.HELD),
        (t.AWAITING_PROOF, "confirm", None),
        (t.AWAITING_CITY, "object", None),
        (t.OBJECTED, "window_ended", None),
        (t.RELEASED, "confirm", None),
        (t.HELD, "admin_release", None),
        (t.AWAITING_CITY, "prove_labelled", None),
    ],
)
def test_milestone_states(state: str, action: str, to: str | None) -> None:
    assert t.next_state(state, action) == to
    if to is None:
        with pytest.raises(t.PlanRefused) as refused:
            t.require(state, action)
        assert refused.value.status == 409


def test_unknown_state_is_an_error() -> None:
    with pytest.raises(ValueError):
        t.next_state("lost", "confirm")


def test_window_over_only_for_an_open_window_past_its_end() -> None:
    assert t.window_over({"milestone_status": t.OBJECTION_WINDOW, "window_ends_ms": 1_000}, 1_000)
    assert not t.window_over({"milestone_status": t.OBJECTION_WINDOW, "window_ends_ms": 1_001}, 1_000)
    assert not t.window_over({"milestone_status": t.OBJECTED, "window_ends_ms": 1}, 1_000)


def test_tranche_payouts_keep_the_campaigns_sums() -> None:
    first = {
        "_id": "po_x_1", "campaign_id": "cmp_x", "sequence": 1, "amount": 9_999, "raised": 10_300,
        "stripe_fees": 301, "tips": 50, "status": "pending",
    }  # fmt: skip
    docs = t.tranche_payouts(first, [T(50, None), T(50, "roof")], payouts_domain.payout_id)
    assert [d["amount"] for d in docs] == [4_999, 5_000]
    assert [d["_id"] for d in docs] == ["po_x_1", "po_x_2"] and [d["sequence"] for d in docs] == [1, 2]
    assert sum(d["amount"] for d in docs) == 9_999 and sum(d["stripe_fees"] for d in docs) == 301
    assert sum(d["raised"] for d in docs) == 10_300 and sum(d["tips"] for d in docs) == 50
    assert "milestone_status" not in docs[0] and docs[1]["milestone_status"] == t.AWAITING_PROOF
    assert docs[1]["milestone_title"] == "roof" and [d["tranche"] for d in docs] == [1, 2]
    assert not t.blocks_approval(docs[0]) and t.blocks_approval(docs[1])
    assert not t.blocks_approval({**docs[1], "milestone_status": t.RELEASED})


def test_the_match_goes_with_the_last_tranche() -> None:
    first = {
        "_id": "po_x_1", "campaign_id": "cmp_x", "sequence": 1, "amount": 9_999 + 6_000, "raised": 10_300,
        "stripe_fees": 301, "tips": 50, "match": 6_000, "status": "pending",
    }  # fmt: skip
    docs = t.tranche_payouts(first, [T(50, None), T(30, "walls"), T(20, "roof")], payouts_domain.payout_id)
    assert [d["amount"] for d in docs] == [4_999, 2_999, 2_001 + 6_000]
    assert [d["match"] for d in docs] == [0, 0, 6_000]
    assert sum(d["raised"] for d in docs) == 10_300 and sum(d["amount"] for d in docs) == 15_999
    for d in docs:  # each payout's lines add up to what it transfers
        assert d["raised"] - d["stripe_fees"] + d["match"] == d["amount"]
    # A one-tranche plan keeps the match on its only payout.
    (only,) = t.tranche_payouts(first, [T(100, None)], payouts_domain.payout_id)
    assert (only["amount"], only["match"], only["raised"]) == (15_999, 6_000, 10_300)


def test_a_match_paid_after_the_split_waits_for_every_milestone() -> None:
    first = {"_id": "po_x_1", "campaign_id": "cmp_x", "sequence": 1, "amount": 1_000, "raised": 1_000,
             "stripe_fees": 0, "tips": 0, "status": "paid"}  # fmt: skip
    docs = t.tranche_payouts(first, [T(50, None), T(50, "roof")], payouts_domain.payout_id)
    late = {"_id": "po_x_3", "sequence": 3, "amount": 6_000, "match": 6_000, "follows_plan": True}
    assert t.waits_for_plan(late, [*docs, late])
    released = [docs[0], {**docs[1], "milestone_status": t.RELEASED}, late]
    assert not t.waits_for_plan(late, released)
    held = [docs[0], {**docs[1], "milestone_status": t.HELD}, late]
    assert t.waits_for_plan(late, held)  # a milestone held keeps the match with it
    # A payout that does not follow the plan (no plan, or no match in it) never waits for it.
    assert not t.waits_for_plan({**late, "follows_plan": False}, [*docs, late])
