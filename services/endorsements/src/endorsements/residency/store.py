"""Residency collections. Census rows and letter codes are kept as keyed hashes only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from servicekit.mongo import Index, Tx

from ..store import Collection, Doc, Source, split

INDEXES = [
    Index("census_entries", [("municipality", 1)]),
    Index("letter_codes", [("municipality", 1), ("call_id", 1)]),
    Index("residents", [("call_id", 1), ("postcode", 1)]),
]
COLLECTIONS = ["residency_settings", "census_entries", "letter_codes", "residency_uses", "residents",
               "residency_attempts"]  # fmt: skip

settings = Collection("residency_settings")
census = Collection("census_entries")
codes = Collection("letter_codes")
uses = Collection("residency_uses")
residents = Collection("residents")
attempts = Collection("residency_attempts")


async def replace_census(tx: Tx, slug: str, rows: list[Doc]) -> None:
    await tx.db.census_entries.delete_many({"municipality": slug}, session=tx.session)
    for start in range(0, len(rows), 1000):
        await tx.db.census_entries.insert_many(rows[start : start + 1000], session=tx.session)


async def insert_codes(tx: Tx, rows: list[Doc]) -> None:
    await tx.db.letter_codes.insert_many(rows, session=tx.session)


async def count_codes(src: Source, slug: str, used: bool | None = None) -> int:
    db, session = split(src)
    query: dict[str, Any] = {"municipality": slug}
    if used is not None:
        query["used"] = used
    return await db.letter_codes.count_documents(query, session=session)


async def resident(src: Source, call_id: str, account: str) -> Doc | None:
    return await residents.get(src, f"{call_id}:{account}")


async def record_failure(tx: Tx, call_id: str, account: str, now: datetime, window_fresh: bool) -> None:
    key = f"{call_id}:{account}"
    row = await attempts.get(tx, key)
    if row is None or window_fresh:
        await attempts.put(tx, {"_id": key, "failures": 1, "window_started": now})
    else:
        await attempts.patch(tx, key, {"failures": int(row["failures"]) + 1})
