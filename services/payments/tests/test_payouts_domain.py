"""The payout rules, pure and table-driven: the state machine (every state x every action),
when a campaign's money is released, how much, and what Stripe's objects mean."""

from __future__ import annotations

import pytest

from payments import domain
from payments import payouts_domain as rules
from payments.city_dues import domain as dues

# Every (state, action) pair: the state it leads to, or None (ignored / refused).
EXPECTED = {
    ("pending", "approve"): "approved",
    ("approved", "start"): "transferring",
    ("transferring", "transfer_created"): "paid",
    ("transferring", "transfer_failed"): "failed",
    ("transferring", "transfer_reversed"): "failed",
    ("paid", "transfer_reversed"): "failed",
    ("failed", "retry"): "approved",
    ("pending", "cancel"): "failed",
    ("approved", "cancel"): "failed",
}


@pytest.mark.parametrize("state", rules.STATES)
@pytest.mark.parametrize("action", sorted(rules.ACTIONS))
def test_state_machine_every_state_and_action(state: str, action: str) -> None:
    assert rules.next_state(state, action) == EXPECTED.get((state, action))


def test_the_machine_has_exactly_the_documented_actions() -> None:
    assert {
        "approve",
        "start",
        "transfer_created",
        "transfer_failed",
        "transfer_reversed",
        "retry",
        "cancel",
    } == rules.ACTIONS
    assert set(rules.STATES) == {"pending", "approved", "transferring", "paid", "failed"}


@pytest.mark.parametrize(
    ("state", "action"),
    [("approved", "approve"), ("paid", "approve"), ("transferring", "retry"), ("paid", "transfer_created")],
)
def test_a_person_asking_a_move_that_does_not_apply_is_refused(state: str, action: str) -> None:
    with pytest.raises(rules.PayoutRefused) as refused:
        rules.require(state, action)
    assert refused.value.code == "payout_state_conflict"


def test_unknown_states_and_actions_are_bugs_not_no_ops() -> None:
    with pytest.raises(ValueError):
        rules.next_state("lost", "approve")
    with pytest.raises(ValueError):
        rules.next_state("pending", "pay")


@pytest.mark.parametrize(
    ("model", "outcome", "releases"),
    [
        ("keep_it_all", "succeeded", True),
        ("keep_it_all", "failed", True),  # keep-it-all keeps what it raised
        ("keep_it_all", "completed", True),
        ("keep_it_all", "canceled", False),  # refunded instead
        ("all_or_nothing", "succeeded", True),
        ("all_or_nothing", "completed", True),
        ("all_or_nothing", "failed", False),  # every card released
        ("all_or_nothing", "canceled", False),
        ("something_else", "succeeded", False),
    ],
)
def test_which_outcomes_release_money(model: str, outcome: str, releases: bool) -> None:
    assert rules.releases_money(model, outcome) is releases


@pytest.mark.parametrize(
    ("model", "statuses", "settled"),
    [
        ("keep_it_all", [domain.SUCCEEDED, domain.PENDING, domain.REQUIRES_ACTION], True),
        ("all_or_nothing", [domain.SUCCEEDED, domain.RELEASED, domain.ABANDONED], True),
        ("all_or_nothing", [], True),
        ("all_or_nothing", [domain.SUCCEEDED, domain.CHARGE_DUE], False),
        ("all_or_nothing", [domain.SUCCEEDED, domain.CHARGING], False),
        ("all_or_nothing", [domain.SUCCEEDED, domain.CHARGE_FAILED], False),  # grace period running
        ("all_or_nothing", [domain.REQUIRES_ACTION], False),
        ("all_or_nothing", [domain.AUTHORIZED], False),  # about to be charged
    ],
)
def test_all_or_nothing_waits_for_its_charges_to_settle(
    model: str, statuses: list[str], settled: bool
) -> None:
    assert rules.charges_settled(model, statuses) is settled


def _ledger() -> list[dict]:
    entries = [
        *domain.charge_entries("c", "p1", 2_500, 300, "EUR", "pi_1"),
        *domain.charge_entries("c", "p2", 1_000, 0, "EUR", "pi_2"),
        *domain.refund_entries("c", "p2", "re_1", 400, 1_000, "EUR"),
        domain.match_entry("match_committed", "com_1", "c", 9_000, "EUR"),
    ]
    return [e.doc() for e in entries]


def test_release_is_raised_less_fees_with_tips_apart() -> None:
    release = rules.release(_ledger(), stripe_fees=120, payouts=[])
    assert (release.raised, release.tips, release.stripe_fees) == (3_100, 300, 120)
    assert release.amount == 2_980 and release.fees == 120


def test_a_later_payout_releases_only_what_came_after_the_earlier_ones() -> None:
    first = {"status": "paid", "amount": 2_980, "stripe_fees": 120}
    later_ledger = [*_ledger(), *[e.doc() for e in domain.charge_entries("c", "p3", 500, 0, "EUR", "pi_3")]]
    release = rules.release(later_ledger, stripe_fees=152, payouts=[first])
    assert release.amount == 500 - 32 and release.fees == 32
    # Nothing new: nothing to release (never a negative payout).
    assert rules.release(_ledger(), stripe_fees=120, payouts=[first]).amount == 0


@pytest.mark.parametrize(
    ("account", "status"),
    [
        (
            {"details_submitted": False, "payouts_enabled": False, "capabilities": {"transfers": "inactive"}},
            "onboarding",
        ),
        (
            {"details_submitted": True, "payouts_enabled": True, "capabilities": {"transfers": "active"}},
            "ready",
        ),
        (
            {"details_submitted": True, "payouts_enabled": False, "capabilities": {"transfers": "inactive"}},
            "restricted",
        ),
        (
            {"details_submitted": True, "payouts_enabled": True, "capabilities": {"transfers": "pending"}},
            "restricted",
        ),
        ({}, "onboarding"),
    ],
)
def test_connected_account_status(account: dict, status: str) -> None:
    assert rules.account_status(account) == status


@pytest.mark.parametrize(
    ("transfer", "action"),
    [
        ({"amount": 1_000, "amount_reversed": 0, "reversed": False}, "transfer_created"),
        ({"amount": 1_000, "amount_reversed": 200, "reversed": False}, "transfer_created"),  # partial
        ({"amount": 1_000, "amount_reversed": 1_000, "reversed": True}, "transfer_reversed"),
    ],
)
def test_what_a_transfer_means_for_its_payout(transfer: dict, action: str) -> None:
    assert rules.transfer_action(transfer) == action


def test_ids_and_keys_are_derived_so_retries_find_the_same_objects() -> None:
    assert rules.payout_id("cmp_abc", 2) == "po_abc_2"
    assert rules.transfer_group("cmp_abc") == "campaign_cmp_abc"
    assert rules.transfer_key({"_id": "po_abc_2", "attempt": 1}) == "payout-po_abc_2-transfer-1"
    assert rules.transfer_key({"_id": "po_abc_2", "attempt": 2}) != rules.transfer_key({"_id": "po_abc_2"})


def test_ledger_totals_count_fees_and_payouts() -> None:
    docs = [
        *_ledger(),
        domain.LedgerEntry(
            "stripe_fee:pi_1", "c", "p1", "stripe_fees", "stripe_fee", -120, "EUR", "pi_1"
        ).doc(),
        domain.LedgerEntry("payout:tr_1", "c", "", "payouts", "transfer", -2_980, "EUR", "tr_1").doc(),
    ]
    totals = domain.ledger_totals(docs)
    assert totals["raised"] == 3_100 and totals["stripe_fees"] == 120 and totals["paid_out"] == 2_980
    assert totals["payout_owed"] == 0 and totals["platform_fees"] == 300
    # Fees and payouts are not pledge money: reconciliation against Stripe's charges ignores them.
    assert set(domain.journal_by_pledge(docs)) == {"p1", "p2"}


# -- the cities' match money --------------------------------------------------------------------


def _match_ledger(due: int, received: int) -> list[dict]:
    """The example ledger with a city's match released (6 000), then due, then paid `received`."""
    entries = [domain.match_entry("match_released", "com_1", "c", 6_000, "EUR")]
    if due:
        entries.append(dues.due_entry("com_1", "c", due, "EUR"))
    if received:
        entries.append(dues.received_entry("com_1", "c", received, "EUR", "transfer:VIR-1"))
    return [*_ledger(), *(e.doc() for e in entries)]


@pytest.mark.parametrize(
    ("case", "due", "received", "payouts", "amount", "raised", "match"),
    [
        # Received before the campaign's payout: its first payout carries it, apart from raised.
        ("received", 6_000, 6_000, [], 2_980 + 6_000, 3_100, 6_000),
        # Released and due but not paid by the city: nothing of it leaves the platform.
        ("due, not received", 6_000, 0, [], 2_980, 3_100, 0),
        ("released, not due yet", 0, 0, [], 2_980, 3_100, 0),
        # Received after the first payout was paid: a second payout of the match alone.
        ("after a paid payout", 6_000, 6_000, [{"status": "paid", "amount": 2_980, "stripe_fees": 120}],
         6_000, 0, 6_000),
        # ...and after a first payout that carried it: nothing more.
        ("already carried", 6_000, 6_000,
         [{"status": "paid", "amount": 8_980, "stripe_fees": 120, "match": 6_000}], 0, 0, 0),
        # A failed transfer still counts (an admin retries it): never released twice.
        ("after a failed payout", 6_000, 6_000,
         [{"status": "failed", "amount": 8_980, "stripe_fees": 120, "match": 6_000}], 0, 0, 0),
        # A refund after the first payout is taken from the next one, match included.
        ("refund after payout", 6_000, 6_000, [{"status": "paid", "amount": 3_080, "stripe_fees": 120}],
         5_900, 0, 5_900),
    ],
)  # fmt: skip
def test_release_counts_the_match_the_city_paid(
    case: str, due: int, received: int, payouts: list[dict], amount: int, raised: int, match: int
) -> None:
    release = rules.release(_match_ledger(due, received), stripe_fees=120, payouts=payouts)
    assert (release.amount, release.new_raised, release.new_match) == (amount, raised, match), case
    # What a payout shows adds up to what it transfers.
    assert release.new_raised - release.fees + release.new_match == release.amount, case
    assert release.tips == 300 and release.match == received, case


def test_ledger_totals_owe_the_holder_the_match_received() -> None:
    docs = [
        *_match_ledger(6_000, 6_000),
        domain.LedgerEntry(
            "stripe_fee:pi_1", "c", "p1", "stripe_fees", "stripe_fee", -120, "EUR", "pi_1"
        ).doc(),
        domain.LedgerEntry("payout:tr_1", "c", "", "payouts", "transfer", -2_980, "EUR", "tr_1").doc(),
    ]
    totals = domain.ledger_totals(docs)
    assert totals["matched"] == 6_000 and totals["match_received"] == 6_000 and totals["payout_owed"] == 6_000
    paid = domain.LedgerEntry("payout:tr_2", "c", "", "payouts", "transfer", -6_000, "EUR", "tr_2").doc()
    assert domain.ledger_totals([*docs, paid])["payout_owed"] == 0
    # Due but not received: not owed to the holder yet.
    assert domain.ledger_totals(_match_ledger(6_000, 0))["payout_owed"] == 3_100


def test_an_award_counts_in_matched_from_its_selection() -> None:
    award = domain.match_entry("match_awarded", "award_prop_1", "c", 50_000, "EUR")
    assert award.account == "match" and award.id == "match_awarded:award_prop_1"
    due = dues.due_entry("award_prop_1", "c", 50_000, "EUR")
    totals = domain.ledger_totals([award.doc(), due.doc()])
    assert totals["matched"] == 50_000 and totals["match_owed_by_city"] == 50_000


def test_a_due_settled_from_residents_gifts_is_paid_out_like_a_received_one() -> None:
    settled = {"_id": "match_settled_from_gifts:com_1", "campaign_id": "c", "pledge_id": "", "account": "city",
               "kind": "match_settled_from_gifts", "amount": -6_000, "currency": "EUR", "stripe_ref": "com_1"}  # fmt: skip
    release = rules.release([*_match_ledger(6_000, 0), settled], stripe_fees=120, payouts=[])
    assert (release.amount, release.new_match) == (2_980 + 6_000, 6_000)
    assert domain.ledger_totals([*_match_ledger(6_000, 0), settled])["payout_owed"] == 3_100 + 6_000
