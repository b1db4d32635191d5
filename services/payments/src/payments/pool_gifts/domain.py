"""Pure rules of gifts held for a pool: the ledger entries of a gift and of a due settled from
what the pool holds."""

from __future__ import annotations

from typing import Any

from ..domain import LedgerEntry

DUE, CHARGING, GIVEN, FAILED = "due", "charging", "given", "failed"


def gift_entry(gift: dict[str, Any], payment_intent_id: str) -> LedgerEntry:
    """The platform holds the gift for the city's pool: not a campaign's money (no campaign_id,
    so no project's raised or payout counts it)."""
    return LedgerEntry(
        f"pool_gift:{payment_intent_id}", "", gift["pledge_id"], "city_pool", "pool_gift",
        int(gift["amount"]), gift["currency"], payment_intent_id,
    )  # fmt: skip


def settled_part(held: int, owed: int) -> int:
    """What a due takes from the gifts its pool holds: all of it if they cover it."""
    return max(0, min(held, owed))


def settlement_entries(due_id: str, campaign_id: str, amount: int, currency: str) -> list[LedgerEntry]:
    """A due settled from the pool's gifts: out of the gifts held, off what the city owes."""
    return [
        LedgerEntry(f"pool_gift_applied:{due_id}", campaign_id, "", "city_pool", "pool_gift_applied",
                    -amount, currency, due_id),
        LedgerEntry(f"match_settled_from_gifts:{due_id}", campaign_id, "", "city", "match_settled_from_gifts",
                    -amount, currency, due_id),
    ]  # fmt: skip


def gift_event(gift: dict[str, Any], payment_intent_id: str) -> dict[str, Any]:
    return {
        "pool_id": gift["pool_id"],
        "municipality": gift["municipality"],
        "pledge_id": gift["pledge_id"],
        "campaign_id": gift["campaign_id"],
        "backer_id": gift["backer_id"],
        "amount": int(gift["amount"]),
        "currency": gift["currency"],
        "payment_intent_id": payment_intent_id,
    }
