"""Pure rules of residents' gifts to a pool."""

from __future__ import annotations

from typing import Any


class GiftsRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_marking(pool: dict[str, Any], accepts: bool, others: list[dict[str, Any]]) -> None:
    """One pool per city, year and currency accepts gifts, so a backer's choice names one pool
    without asking which (payments picks the current year's; pools have no districts)."""
    if not accepts:
        return
    for other in others:
        if (
            other["_id"] != pool["_id"]
            and other.get("accepts_gifts")
            and other["year"] == pool["year"]
            and other["currency"] == pool["currency"]
        ):
            raise GiftsRefused(
                "gifts_pool_exists",
                f"{other['name']!r} already accepts residents' gifts for {pool['year']} in {pool['currency']}",
            )


def gift_problem(pool: dict[str, Any] | None, data: dict[str, Any]) -> str | None:
    """Why a pool.gift_received cannot be booked (the event is parked with it), or None."""
    if pool is None:
        return f"no pool {data.get('pool_id')!r}"
    if data.get("municipality") != pool["municipality"]:
        return f"the pool is {pool['municipality']}'s, the gift names {data.get('municipality')!r}"
    if data.get("currency") != pool["currency"]:
        return f"the pool is in {pool['currency']}, the gift in {data.get('currency')!r}"
    amount = data.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return f"a gift of {amount!r}"
    return None


def pool_event(pool: dict[str, Any]) -> dict[str, Any]:
    """pool.updated's data: what payments projects to offer the gift at checkout."""
    return {
        "pool_id": pool["_id"],
        "municipality": pool["municipality"],
        "name": pool["name"],
        "year": pool["year"],
        "currency": pool["currency"],
        "accepts_gifts": bool(pool.get("accepts_gifts", False)),
        "version": int(pool.get("rev", 0)),
    }
