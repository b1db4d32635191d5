"""Gifts' collections, the only code of this feature touching the database: the projection of
cities' pools (pool.updated), the gifts (one per pledge) and each pool's gifts held (a balance
document, so that two dues settled from one pool at once conflict and one retries)."""

from __future__ import annotations

from typing import Any

from servicekit.mongo import Index, Tx

from ..domain import LedgerEntry

Doc = dict[str, Any]
POOLS = "city_pools"
GIFTS = "pool_gifts"
FUNDS = "pool_funds"
COLLECTIONS = [POOLS, GIFTS, FUNDS]
INDEXES = [
    Index(POOLS, [("municipality", 1)]),
    Index(GIFTS, [("status", 1), ("due_ms", 1)]),
    Index(GIFTS, [("pool_id", 1)]),
    Index("ledger", [("pool_id", 1)]),
]


def _session(tx: Tx | None) -> Any:
    return tx.session if tx is not None else None


async def pool(db: Any, pool_id: str, tx: Tx | None = None) -> Doc | None:
    return await db[POOLS].find_one({"_id": pool_id}, session=_session(tx))


async def pools_of(db: Any, municipality: str) -> list[Doc]:
    return await db[POOLS].find({"municipality": municipality}).sort([("_id", 1)]).to_list()


async def save_pool(tx: Tx, doc: Doc, exists: bool) -> None:
    if exists:
        await tx.db[POOLS].replace_one({"_id": doc["_id"]}, doc, session=tx.session)
    else:
        await tx.db[POOLS].insert_one(doc, session=tx.session)


async def gift(db: Any, gift_id: str, tx: Tx | None = None) -> Doc | None:
    return await db[GIFTS].find_one({"_id": gift_id}, session=_session(tx))


async def insert_gift(tx: Tx, doc: Doc) -> None:
    await tx.db[GIFTS].insert_one(doc, session=tx.session)


async def move_gift(tx: Tx, gift_id: str, from_status: str, fields: Doc) -> bool:
    """`$set` only while the gift is still in the status the use case read (else False)."""
    result = await tx.db[GIFTS].update_one(
        {"_id": gift_id, "status": from_status}, {"$set": fields}, session=tx.session
    )
    return result.matched_count == 1


async def gifts_in(db: Any, statuses: list[str], limit: int) -> list[Doc]:
    return await db[GIFTS].find({"status": {"$in": statuses}}).sort([("due_ms", 1)]).limit(limit).to_list()


async def funds(db: Any, pool_id: str, tx: Tx | None = None) -> Doc | None:
    return await db[FUNDS].find_one({"_id": pool_id}, session=_session(tx))


async def funds_of(db: Any, municipality: str) -> list[Doc]:
    return await db[FUNDS].find({"municipality": municipality}).sort([("_id", 1)]).to_list()


async def set_held(tx: Tx, pool_id: str, was: Doc | None, fields: Doc) -> None:
    """The pool's gifts held, rewritten whole (a concurrent settlement conflicts on it)."""
    if was is None:
        await tx.db[FUNDS].insert_one({"_id": pool_id, **fields}, session=tx.session)
    else:
        await tx.db[FUNDS].replace_one({"_id": pool_id}, {**was, **fields}, session=tx.session)


async def append_entries(tx: Tx, entries: list[LedgerEntry], pool_id: str, at: Any) -> list[LedgerEntry]:
    """Ledger entries naming their pool (the held gifts per pool re-derive from the journal);
    an entry already there (same id) is not written twice."""
    new = []
    for entry in entries:
        if await tx.db.ledger.find_one({"_id": entry.id}, {"_id": 1}, session=tx.session) is None:
            await tx.db.ledger.insert_one({**entry.doc(), "pool_id": pool_id, "at": at}, session=tx.session)
            new.append(entry)
    return new


async def pool_entries(db: Any, pool_id: str) -> list[Doc]:
    return await db.ledger.find({"pool_id": pool_id}).sort([("at", 1), ("_id", 1)]).to_list()
