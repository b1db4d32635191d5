"""Pure rules of a city's due: its states and the ledger entries of each step.

A due is keyed by the match commitment it collects. Events may come in any order and twice: a
state only moves forward (promised < due < transfer_declared < received; canceled only from
promised), so a late match.committed never takes a due back to promised.
"""

from __future__ import annotations

from typing import Any, Literal

from ..domain import LedgerEntry

Status = Literal["promised", "canceled", "due", "transfer_declared", "received"]
RANK: dict[str, int] = {"promised": 0, "canceled": 1, "due": 2, "transfer_declared": 3, "received": 4}
OPEN = ("due", "transfer_declared")


class DueRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def forward(current: str | None, target: str) -> bool:
    """Whether a due at `current` moves to `target` (never backward, canceled only a promise)."""
    if current is None:
        return True
    if target == "canceled":
        return current == "promised"
    return RANK[target] > RANK[current]


def check_declare(status: str) -> None:
    if status == "received":
        raise DueRefused("already_received", "this due was already received")
    if status != "due":
        raise DueRefused("not_due", f"nothing to pay yet: the match is {status}")


def check_confirm(status: str) -> None:
    if status == "received":
        raise DueRefused("already_received", "this due was already received")
    if status not in OPEN:
        raise DueRefused("not_due", f"nothing to receive: the match is {status}")


def due_entry(due_id: str, campaign_id: str, amount: int, currency: str) -> LedgerEntry:
    """The city owes `amount` (the `city` account: positive what is owed, back to 0 once received)."""
    return LedgerEntry(f"match_due:{due_id}", campaign_id, "", "city", "match_due", amount, currency, due_id)


def received_entry(due_id: str, campaign_id: str, amount: int, currency: str, ref: str) -> LedgerEntry:
    return LedgerEntry(
        f"match_received:{due_id}", campaign_id, "", "city", "match_received", -amount, currency, ref
    )


def to_collect(doc: dict[str, Any]) -> int:
    """What the city itself pays: the due less what its pool's residents' gifts settled."""
    return max(0, int(doc.get("amount") or 0) - int(doc.get("settled_from_gifts") or 0))


def view(doc: dict[str, Any]) -> dict[str, int]:
    """Promised / due / received amounts of one due, for pages."""
    status = doc["status"]
    amount = int(doc.get("amount") or 0)
    return {
        "promised": int(doc.get("promised") or 0) if status == "promised" else 0,
        "due": amount if status in OPEN else 0,
        "received": amount if status == "received" else 0,
    }
