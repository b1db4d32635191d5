"""Unit tests of the pure rules: every transition allowed and refused, edit rules, deadlines,
closing, goal, funding totals under duplication and reordering, needs, RSVPs, geo, markup."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaigns import domain, geo, markup
from campaigns import domain_community as community
from campaigns import domain_funding as funding
from campaigns.store import (
    NO_DEADLINE_MS,
    decode_cursor,
    encode_cursor,
    geo_cell,
    geo_cells,
    order_key,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def campaign(status: str = "draft", **extra: Any) -> dict[str, Any]:
    return {
        "_id": "cmp_1",
        "owner_id": "amina",
        "title": "Park",
        "status": status,
        "municipality": "montreuil",
        "goal": 10_000,
        "currency": "EUR",
        "funding_model": "keep_it_all",
        "duration_days": 30,
        "version": 3,
        **extra,
    }


ALLOWED = [
    ("draft", "submit", {"owner"}, "submitted", "campaign.submitted"),
    ("submitted", "approve", {"admin"}, "live", "campaign.published"),
    ("submitted", "return", {"admin"}, "draft", "campaign.returned"),
    ("submitted", "reject", {"admin"}, "rejected", "campaign.rejected"),
    ("draft", "launch_selected", {"system"}, "live", "campaign.published"),
    ("submitted", "launch_selected", {"system"}, "live", "campaign.published"),
    ("live", "cancel", {"owner"}, "canceled", "campaign.canceled"),
    ("live", "cancel", {"admin"}, "canceled", "campaign.canceled"),
    ("live", "succeed", {"system"}, "succeeded", "campaign.succeeded"),
    ("live", "fail", {"system"}, "failed", "campaign.failed"),
    ("succeeded", "complete", {"owner"}, "completed", "campaign.completed"),
]


@pytest.mark.parametrize(("source", "action", "actors", "target", "event"), ALLOWED)
def test_allowed_transitions(source: str, action: str, actors: set[str], target: str, event: str) -> None:
    changed, event_type = domain.apply_transition(campaign(source), action, actors, NOW, reason="because")
    assert changed["status"] == target
    assert event_type == event
    assert changed["version"] == 4
    assert changed["updated_at"] == NOW


def test_every_other_source_state_is_refused() -> None:
    allowed_sources = {(a, s) for s, a, *_ in ALLOWED}
    for action, transition in domain.TRANSITIONS.items():
        actors = set(transition.actors)
        for status in domain.STATUSES:
            if (action, status) in allowed_sources:
                continue
            with pytest.raises(domain.TransitionRefused) as refused:
                domain.apply_transition(campaign(status), action, actors, NOW, reason="r")
            assert refused.value.code == "invalid_transition", (action, status)


@pytest.mark.parametrize(
    ("action", "actors"),
    [
        ("submit", {"admin"}),
        ("approve", {"owner"}),
        ("return", {"owner"}),
        ("reject", {"owner"}),
        ("cancel", set()),
        ("succeed", {"owner", "admin"}),
        ("fail", {"admin"}),
        ("complete", {"admin"}),
        ("launch_selected", {"admin"}),
    ],
)
def test_wrong_actor_is_refused(action: str, actors: set[str]) -> None:
    source = domain.TRANSITIONS[action].sources[0]
    with pytest.raises(domain.TransitionRefused) as refused:
        domain.apply_transition(campaign(source), action, actors, NOW, reason="r")
    assert refused.value.code == "forbidden"


@pytest.mark.parametrize(
    ("action", "source"), [("return", "submitted"), ("reject", "submitted"), ("cancel", "live")]
)
def test_reason_required(action: str, source: str) -> None:
    with pytest.raises(domain.TransitionRefused) as refused:
        domain.apply_transition(campaign(source), action, {"owner", "admin"}, NOW, reason="  ")
    assert refused.value.code == "reason_required"


def test_unknown_action() -> None:
    with pytest.raises(domain.TransitionRefused):
        domain.apply_transition(campaign(), "explode", {"admin"}, NOW)


def test_publishing_sets_start_and_deadline_and_clears_old_reason() -> None:
    returned = campaign("submitted", reason="add a photo", duration_days=45)
    live, _ = domain.apply_transition(returned, "approve", {"admin"}, NOW)
    assert live["starts_at"] == NOW
    assert live["deadline"] == NOW + timedelta(days=45)
    assert "reason" not in live
    fixed = campaign("draft", fixed_deadline=NOW + timedelta(days=20))
    assert domain.apply_transition(fixed, "launch_selected", {"system"}, NOW)[0][
        "deadline"
    ] == NOW + timedelta(days=20)


def test_allowed_actions_for_clients() -> None:
    assert domain.allowed_actions(campaign("draft"), {"owner"}) == ["submit"]
    assert domain.allowed_actions(campaign("submitted"), {"admin"}) == ["approve", "return", "reject"]
    assert domain.allowed_actions(campaign("live"), {"owner"}) == ["cancel"]
    assert domain.allowed_actions(campaign("live"), set()) == []


def test_edit_rules() -> None:
    domain.check_edit("draft", {"goal", "title", "duration_days"})
    domain.check_edit("live", {"description", "cover_image_url", "summary"})
    for frozen in ("goal", "currency", "funding_model", "duration_days", "title"):
        with pytest.raises(domain.TransitionRefused) as refused:
            domain.check_edit("live", {"description", frozen})
        assert refused.value.code == "frozen_once_live"
    for status in ("submitted", "succeeded", "failed", "canceled", "completed", "rejected"):
        with pytest.raises(domain.TransitionRefused) as refused:
            domain.check_edit(status, {"description"})
        assert refused.value.code == "not_editable"


def test_deadline_clamped_into_bounds() -> None:
    assert domain.clamp_deadline(None, NOW) == NOW + timedelta(days=30)
    assert domain.clamp_deadline(NOW + timedelta(days=1), NOW) == NOW + timedelta(days=7)
    assert domain.clamp_deadline(NOW + timedelta(days=400), NOW) == NOW + timedelta(days=90)
    assert domain.clamp_deadline(NOW + timedelta(days=10), NOW) == NOW + timedelta(days=10)


def test_snapshot_has_every_required_field_and_omits_empty_optionals() -> None:
    snap = domain.snapshot(campaign("live", lat=48.8, lon=2.4, deadline=NOW, totals={"raised": 5}))
    assert snap["campaign_id"] == "cmp_1" and snap["version"] == 3
    assert snap["deadline"] == NOW.isoformat()
    assert snap["raised"] == 5 and snap["matched"] == 0
    assert "lat" not in domain.snapshot(campaign("live", lat=None, lon=None))
    assert "reason" not in snap


@pytest.mark.parametrize(
    ("model", "totals", "expected"),
    [
        ("all_or_nothing", {"pledged": 10_000}, "succeed"),
        ("all_or_nothing", {"pledged": 6_000, "matched_counted": 4_000}, "succeed"),
        ("all_or_nothing", {"pledged": 6_000, "matched": 4_000}, "fail"),  # not counted toward goal
        ("all_or_nothing", {"pledged": 9_999}, "fail"),
        ("keep_it_all", {"raised": 1}, "succeed"),
        ("keep_it_all", {"matched": 100}, "succeed"),
        ("keep_it_all", {}, "fail"),
    ],
)
def test_closing_rule(model: str, totals: dict[str, int], expected: str) -> None:
    assert domain.closing_action(campaign("live", funding_model=model, totals=totals)) == expected


def _tally(authorized: tuple[int, int] = (0, 0), succeeded: tuple[int, int] = (0, 0)) -> domain.Tally:
    return {
        "authorized": {"count": authorized[0], "amount": authorized[1]},
        "succeeded": {"count": succeeded[0], "amount": succeeded[1]},
    }


def _pledge(pid: str, amount: int, **facts: Any) -> dict[str, Any]:
    return {"_id": pid, "campaign_id": "cmp_1", "amount": amount, **facts}


def test_records_agree_with_the_tally_only_when_count_and_sum_match() -> None:
    pledges = [
        _pledge("p1", 6_000, authorized=True),
        _pledge("p2", 4_000, authorized=True),
        _pledge("p3", 2_500, authorized=True, released=True),  # released: not in the tally
        _pledge("p4", 0, charged=True),  # a keep-it-all charge's pledge record: not authorised
    ]
    payments = [_pledge("y1", 1_500, succeeded=True), _pledge("y2", 0, succeeded=False)]
    assert domain.records_tally(pledges, payments) == _tally((2, 10_000), (1, 1_500))
    assert domain.tally_agrees(_tally((2, 10_000), (1, 1_500)), pledges, payments, [])
    # One pledge.authorized still on its way: the tally counts it, the records do not yet.
    assert not domain.tally_agrees(_tally((3, 13_000), (1, 1_500)), pledges, payments, [])
    # Same count, another sum (an amount changed on the way): not the same pledges.
    assert not domain.tally_agrees(_tally((2, 10_001), (1, 1_500)), pledges, payments, [])
    assert not domain.tally_agrees(_tally((2, 10_000), (0, 0)), pledges, payments, [])
    # Refunds are not subtracted from succeeded payments.
    refunds = [{"_id": "r1", "payment_id": "y1", "amount": 1_500}]
    assert domain.tally_agrees(_tally((2, 10_000), (1, 1_500)), pledges, payments, refunds)
    assert domain.tally_agrees(_tally(), [], [], [])


def test_a_payment_taken_after_the_tally_waits_for_its_refund_and_is_not_counted() -> None:
    late = _pledge("y9", 2_000, succeeded=True, after_deadline=True)
    assert domain.records_tally([], [late]) == _tally()
    assert not domain.tally_agrees(_tally(), [], [late], [])
    half = [{"_id": "r1", "payment_id": "y9", "amount": 1_000}]
    assert not domain.tally_agrees(_tally(), [], [late], half)
    whole = [*half, {"_id": "r2", "payment_id": "y9", "amount": 1_000}]
    assert domain.tally_agrees(_tally(), [], [late], whole)


def test_parse_tally_refuses_what_is_not_one() -> None:
    assert domain.parse_tally(_tally((1, 5), (2, 7))) == _tally((1, 5), (2, 7))
    for bad in (
        {"authorized": {"count": 1, "amount": 5}},
        {**_tally(), "succeeded": {"count": -1, "amount": 0}},
        {**_tally(), "authorized": {"count": 1, "amount": "5"}},
    ):
        with pytest.raises(ValueError):
            domain.parse_tally(bad)


def test_closing_in_the_snapshot_only_once_requested() -> None:
    asked = campaign("live", closing={"requested_at": NOW})
    assert domain.snapshot(asked)["closing"] == {"requested_at": NOW.isoformat()}
    tallied = campaign("live", closing={"requested_at": NOW, "tally": _tally((1, 9))})
    assert domain.snapshot(tallied)["closing"]["tally"]["authorized"] == {"count": 1, "amount": 9}
    # A claim left by the scheduler before the handshake existed is not a closing.
    legacy = campaign("live", closing={"owner": "closer-1", "lease_ms": 5})
    assert domain.closing_of(legacy) is None and "closing" not in domain.snapshot(legacy)


def test_goal_reached_only_once_and_only_while_live() -> None:
    reached = {"raised": 7_000, "matched_counted": 3_000}
    assert domain.goal_just_reached(campaign("live", totals=reached))
    assert not domain.goal_just_reached(campaign("live", totals=reached, goal_reached_at=NOW))
    assert not domain.goal_just_reached(campaign("live", totals={"raised": 9_999}))
    assert not domain.goal_just_reached(campaign("succeeded", totals=reached))
    assert domain.progress_bp({"raised": 2_500}, 10_000) == 2_500


# -- funding totals ------------------------------------------------------------------------------


def _apply(records: dict[str, dict[str, dict[str, Any]]], fact: tuple[str, str, dict[str, Any]]) -> None:
    """What the handlers do: merge facts into the record keyed by id."""
    collection, key, facts = fact
    base = records[collection].get(key, {"_id": key})
    merged = {**base, **facts}
    if collection == "commitments" and "applied" in facts:
        merged["applied"] = {**(base.get("applied") or {}), **facts["applied"]}
    records[collection][key] = merged


FACTS: list[tuple[str, str, dict[str, Any]]] = [
    ("pledges", "p1", {"backer_id": "a", "amount": 3_000, "authorized": True}),
    ("pledges", "p2", {"backer_id": "b", "amount": 4_000, "authorized": True}),
    ("pledges", "p2", {"backer_id": "b", "amount": 4_000, "released": True}),
    ("pledges", "p3", {"backer_id": "c", "amount": 2_000, "authorized": True}),
    ("pledges", "p3", {"backer_id": "c", "charged": True}),
    ("payments", "y3", {"backer_id": "c", "amount": 2_000, "succeeded": True}),
    ("payments", "y4", {"backer_id": "d", "amount": 1_000, "succeeded": True}),
    ("refunds", "r4", {"payment_id": "y4", "amount": 1_000}),
    ("commitments", "m1", {"counts_toward_goal": True, "max_amount": 5_000, "applied": {"a1": 500}}),
    ("commitments", "m1", {"applied": {"a2": 700}}),
    ("commitments", "m2", {"counts_toward_goal": False, "max_amount": 3_000}),
    ("commitments", "m2", {"released_amount": 3_000}),
]


def _totals_after(facts: list[tuple[str, str, dict[str, Any]]]) -> dict[str, int]:
    records: dict[str, dict[str, dict[str, Any]]] = {
        "pledges": {},
        "payments": {},
        "refunds": {},
        "commitments": {},
    }
    for fact in facts:
        _apply(records, fact)
    return funding.totals(
        *(list(records[c].values()) for c in ("pledges", "payments", "refunds", "commitments"))
    )


def test_totals_are_the_same_in_any_order_and_with_duplicates() -> None:
    expected = {
        "raised": 2_000,
        "pledged": 3_000,
        "matched": 4_200,
        "matched_counted": 1_200,
        "match_promised": 8_000,
        "match_pledged": 0,  # keep-it-all: no pledges to match before success
        "in_kind_delivered": 0,
        "in_kind_counted": 0,
        "backers_count": 2,  # a (pledge) and c (payment); b released, d refunded
    }
    assert _totals_after(FACTS) == expected
    rng = random.Random(42)
    for _ in range(200):
        shuffled = FACTS + rng.sample(FACTS, 5)
        rng.shuffle(shuffled)
        assert _totals_after(shuffled) == expected


def test_terminal_pledge_states_win_whatever_the_order() -> None:
    for order in itertools.permutations([{"authorized": True}, {"released": True}, {"charged": True}]):
        pledge: dict[str, Any] = {"amount": 10}
        for facts in order:
            pledge.update(facts)
        assert funding.pledge_outstanding(pledge) == 0
    assert funding.pledge_outstanding({"amount": 10, "authorized": True}) == 10
    assert funding.pledge_outstanding({"amount": 10, "released": True}) == 0


def test_commitment_given() -> None:
    assert funding.commitment_given({"applied": {"a": 100, "b": 50}}) == 150
    assert funding.commitment_given({"applied": {"a": 100}, "released_amount": 300}) == 300
    assert funding.commitment_given({"applied": {"a": 100}, "canceled": True, "canceled_amount": 40}) == 40
    assert funding.commitment_given({"applied": {"a": 100}, "canceled": True}) == 100
    assert funding.commitment_given({"award": 4_000, "released_amount": 4_000}) == 4_000
    assert funding.commitment_given({"award": 4_000}) == 4_000


def test_refund_cannot_make_a_payment_negative() -> None:
    assert funding.payment_net({"amount": 100, "succeeded": True}, [{"amount": 80}, {"amount": 80}]) == 0
    assert funding.payment_net({"amount": 0, "succeeded": False}, [{"amount": 80}]) == 0


# -- community -----------------------------------------------------------------------------------


def test_need_counts_and_offer_decisions() -> None:
    need = {"quantity": 4}
    offers = [
        {"state": "pending", "quantity": 2},
        {"state": "accepted", "quantity": 3},
        {"state": "declined", "quantity": 9},
    ]
    assert community.need_counts(need, offers) == {
        "offers_count": 2,
        "offered": 2,
        "accepted": 3,
        "remaining": 1,
        "delivered": 0,
    }
    # Delivered help stays accepted (it took its share of the need) and is counted as delivered.
    delivered = [*offers[:1], {"state": "delivered", "quantity": 3}]
    assert community.need_counts(need, delivered)["accepted"] == 3
    assert community.need_counts(need, delivered)["delivered"] == 3
    assert community.delivery_refusal({"state": "pending"}) is not None
    assert community.delivery_refusal({"state": "accepted"}) is None
    assert community.decide_offer({"state": "pending", "quantity": 1}, "accept", need, 3) == "accepted"
    assert community.decide_offer({"state": "pending", "quantity": 9}, "decline", need, 3) == "declined"
    with pytest.raises(ValueError, match="exceed"):
        community.decide_offer({"state": "pending", "quantity": 2}, "accept", need, 3)
    with pytest.raises(ValueError, match="already accepted"):
        community.decide_offer({"state": "accepted", "quantity": 1}, "decline", need, 3)


def test_rsvp_and_promotion_first_come_first_served() -> None:
    assert community.rsvp_state(2, 1) == "going"
    assert community.rsvp_state(2, 2) == "waitlisted"
    waiting = [{"_id": "c", "seq": 5}, {"_id": "a", "seq": 3}, {"_id": "b", "seq": 4}]
    assert [r["_id"] for r in community.promotions(3, 1, waiting)] == ["a", "b"]
    assert community.promotions(2, 2, waiting) == []


# -- geo, markup, cursors ------------------------------------------------------------------------


def test_distance_and_bounding_box() -> None:
    montreuil, paris = (48.8616, 2.4430), (48.8566, 2.3522)
    assert 6.6 < geo.distance_km(*montreuil, *paris) < 6.8
    min_lat, max_lat, min_lon, max_lon = geo.bounding_box(*montreuil, 7)
    assert min_lat < paris[0] < max_lat and min_lon < paris[1] < max_lon
    min_lat, max_lat, min_lon, max_lon = geo.bounding_box(*montreuil, 5)
    assert not (min_lon < paris[1] < max_lon)


def test_markdown_is_sanitised() -> None:
    html = markup.render(
        '# Hi\n<script>x()</script>\n[ok](https://example.org) [bad](javascript:x()) <a href="javascript:y()">z</a>'
    )
    assert "<h1>Hi</h1>" in html
    assert "<script>" not in html
    assert 'href="https://example.org"' in html and 'rel="nofollow noopener noreferrer"' in html
    assert '<a href="javascript' not in html  # raw HTML shows as text; the markdown link is dropped
    assert markup.excerpt("**Bold** news " + "word " * 100, 40).endswith("…")


def test_cursor_round_trip_and_garbage() -> None:
    assert decode_cursor(encode_cursor(1_700_000_000_000, "cmp_1")) == (1_700_000_000_000, "cmp_1")
    for garbage in ("", "%%%", encode_cursor(True, "x"), "WzEsMl0"):
        with pytest.raises(ValueError):
            decode_cursor(garbage)


def test_listing_order_key_sorts_like_the_value_then_the_id() -> None:
    pairs = [
        (-1, "b"),
        (0, "a"),
        (0, "b"),
        (9, "a"),
        (10, "a"),
        (1_700_000_000_000, "a"),
        (NO_DEADLINE_MS, "a"),
    ]
    assert sorted(pairs, key=lambda p: order_key(*p)) == sorted(pairs)
    for bad in (True, 1.5, "7", None, -2):
        with pytest.raises(ValueError):
            order_key(bad, "x")


def test_geo_cells_cover_the_box_of_a_circle() -> None:
    montreuil, paris = (48.8616, 2.4430), (48.8566, 2.3522)
    cells = geo_cells(geo.bounding_box(*montreuil, 7))
    assert cells is not None and geo_cell(*paris) in cells and geo_cell(*montreuil) in cells
    assert len(geo_cells(geo.bounding_box(*montreuil, 5)) or []) <= 6
    assert geo_cells(geo.bounding_box(*montreuil, 200)) is None  # too many: the box alone filters


def _contribution_of(
    records: dict[str, dict[str, dict[str, Any]]], collection: str, key: str
) -> dict[str, int]:
    kind = {"pledges": "pledge", "payments": "payment", "commitments": "commitment"}[collection]
    record = records[collection].get(key)
    refunds = [r for r in records["refunds"].values() if r["payment_id"] == key]
    return funding.contribution(kind, record, refunds)


def test_incremental_deltas_equal_the_totals_derived_from_scratch() -> None:
    """What the handlers do (add each record's change of contribution) always lands on what
    `funding.totals` derives from the final records, in any order, with repeats."""
    rng = random.Random(3)
    for _ in range(200):
        facts = FACTS + rng.sample(FACTS, 6)
        rng.shuffle(facts)
        records: dict[str, dict[str, dict[str, Any]]] = {
            "pledges": {},
            "payments": {},
            "refunds": {},
            "commitments": {},
        }
        running = dict.fromkeys(funding.AMOUNT_KEYS, 0)
        shares: dict[str, int] = {}
        for fact in facts:
            collection, key, facts_ = fact
            target = ("payments", facts_["payment_id"]) if collection == "refunds" else (collection, key)
            if collection == "refunds" and key in records["refunds"]:
                continue  # a refund is recorded once (by its id)
            before = _contribution_of(records, *target)
            _apply(records, fact)
            after = _contribution_of(records, *target)
            for k, v in funding.delta(before, after).items():
                running[k] += v
            if target[0] != "commitments":
                backer = records[target[0]].get(target[1], {}).get("backer_id") or facts_.get(
                    "backer_id", "?"
                )
                shares[backer] = (
                    shares.get(backer, 0) + funding.backer_share(after) - funding.backer_share(before)
                )
        derived = _totals_after(facts)
        backers = sum(1 for v in shares.values() if v > 0)
        assert {**running, "match_pledged": 0, "backers_count": backers} == derived
