"""The pure rules of disputes in the ledger and of the payouts' holds (no I/O)."""

from __future__ import annotations

from payments import domain
from payments import payouts_domain as rules
from payments.domain import MoneyView


def test_a_dispute_is_withdrawn_once_split_like_a_refund_and_reinstated_with_the_same_split() -> None:
    charge = [e.doc() for e in domain.charge_entries("c", "p", 2_500, 300, "EUR", "pi_1")]
    opened = domain.dispute_entries("c", "p", "dp_1", 2_800, 2_500, "EUR", [], won=False)
    assert [(e.id, e.account, e.amount) for e in opened] == [
        ("dispute:dp_1:withdrawn:project", "project", -2_500),
        ("dispute:dp_1:withdrawn:platform", "platform", -300),
    ]
    withdrawn = [e.doc() for e in opened]
    # Seen again while open: nothing new; won: the same split comes back.
    assert domain.dispute_entries("c", "p", "dp_1", 2_800, 0, "EUR", withdrawn, won=False) == []
    won = domain.dispute_entries("c", "p", "dp_1", 2_800, 0, "EUR", withdrawn, won=True)
    assert [(e.account, e.kind, e.amount) for e in won] == [
        ("project", "dispute_reinstated", 2_500),
        ("platform", "dispute_reinstated", 300),
    ]
    open_docs = [*charge, *withdrawn]
    assert domain.ledger_totals(open_docs)["disputed"] == 2_500
    assert domain.ledger_totals(open_docs)["raised"] == 0
    assert domain.journal_by_pledge(open_docs) == {"p": MoneyView(2_800, 0, 2_800)}
    settled = [*open_docs, *(e.doc() for e in won)]
    assert domain.ledger_totals(settled)["disputed"] == 0 and domain.ledger_totals(settled)["raised"] == 2_500
    assert domain.journal_by_pledge(settled) == {"p": MoneyView(2_800, 0, 0)}
    # A dispute after a partial refund takes what is left of the project's share first.
    partial = domain.dispute_entries("c", "p", "dp_2", 1_800, 1_500, "EUR", [], won=False)
    assert [(e.account, e.amount) for e in partial] == [("project", -1_500), ("platform", -300)]


def test_reconciliation_sees_a_dispute_the_journal_missed() -> None:
    journal = {"p": MoneyView(2_800, 0, 0)}
    assert domain.reconcile(journal, {"p": MoneyView(2_800, 0, 2_800)}) == [
        {"pledge_id": "p", "field": "disputed", "journal": 0, "stripe": 2_800}
    ]


def test_holds_on_payouts_name_their_reason() -> None:
    assert rules.hold_reason(None) is None
    assert rules.hold_reason({"permits_pending": 1, "disputes_open": 2}) == rules.PERMIT_PENDING
    assert rules.hold_reason({"refunded_all_at": "2026-12-01", "disputes_open": 1}) == rules.CAMPAIGN_REFUNDED
    assert rules.hold_reason({"disputes_open": 1}) == rules.DISPUTE_OPEN
    assert rules.hold_reason({"disputes_open": 0, "permits_pending": 0}) is None
    assert set(rules.HOLD_MESSAGES) == {rules.PERMIT_PENDING, rules.CAMPAIGN_REFUNDED, rules.DISPUTE_OPEN}
