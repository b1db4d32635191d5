"""The tally rules at a campaign's deadline, pure: what counts, who may still pledge, and what a
pledge payments learns of only after it tallied becomes."""

from __future__ import annotations

from typing import Any

import pytest

from payments import domain, tally_domain


def pledge(status: str, amount: int, **extra: Any) -> dict[str, Any]:
    return {"_id": f"plg_{status}_{amount}", "status": status, "amount": amount, "tip": 50, **extra}


def test_tally_counts_authorised_and_paid_pledges_refunds_not_subtracted() -> None:
    pledges = [
        pledge(domain.AUTHORIZED, 1_000),
        pledge(domain.CHARGE_FAILED, 700),  # authorised still: campaigns has not seen it paid
        pledge(domain.RELEASED, 5_000),
        pledge(domain.PENDING, 9_000),
        pledge(domain.ABANDONED, 9_000),
        pledge(domain.SUCCEEDED, 2_000),
        pledge(domain.REFUNDED, 300),
        pledge(domain.REFUND_DUE, 400),
    ]
    assert tally_domain.tally(pledges) == {
        "authorized": {"count": 2, "amount": 1_700},
        "succeeded": {"count": 3, "amount": 2_700},
    }
    assert [tally_domain.counted(p) for p in pledges] == [True, True, False, False, False, True, True, True]
    assert tally_domain.tally([]) == {
        "authorized": {"count": 0, "amount": 0},
        "succeeded": {"count": 0, "amount": 0},
    }


def test_no_pledge_once_tallied_or_past_the_deadline() -> None:
    now = 1_000_000
    assert not tally_domain.closed_to_pledges(None, now)
    assert not tally_domain.closed_to_pledges({"status": "live"}, now)
    assert not tally_domain.closed_to_pledges({"deadline_ms": now + 1}, now)
    assert tally_domain.closed_to_pledges({"deadline_ms": now}, now)
    assert tally_domain.closed_to_pledges({"deadline_ms": now + 1, "tallied_ms": now - 5}, now)


def test_late_is_what_the_tally_did_not_count() -> None:
    assert not tally_domain.arrived_late(pledge(domain.AUTHORIZED, 1), tallied=False)
    assert tally_domain.arrived_late(pledge(domain.AUTHORIZED, 1), tallied=True)
    assert tally_domain.arrived_late(pledge(domain.AUTHORIZED, 1, in_tally=0), tallied=True)
    # Counted when tallied (nx-27017 reads the flag back as 1): charged after success, not late.
    assert not tally_domain.arrived_late(pledge(domain.SUCCEEDED, 1, in_tally=1), tallied=True)


@pytest.mark.parametrize(
    ("status", "to", "released"),
    [
        (domain.AUTHORIZED, domain.RELEASED, True),
        (domain.SUCCEEDED, domain.REFUND_DUE, False),
        (domain.PENDING, None, None),
        (domain.RELEASED, None, None),
    ],
)
def test_a_late_pledge_is_released_or_refunded(status: str, to: str | None, released: bool | None) -> None:
    move = tally_domain.late_move(status)
    if to is None:
        assert move is None
        return
    assert move is not None and move.status == to and move.released is released
    assert move.refund_reason == "arrived after the deadline"
