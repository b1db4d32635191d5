"""The dues collection (one document per match commitment) and the invoicing work queue: the
only code of this feature that touches the database (the ledger goes through payments' Store)."""

from __future__ import annotations

from typing import Any

from servicekit.jobs import WorkQueue
from servicekit.mongo import Index, Mongo, Tx

Doc = dict[str, Any]
DUES = "city_dues"
INVOICING = "city_invoicing"
COLLECTIONS = [DUES, INVOICING]
INDEXES = [
    Index(DUES, [("municipality", 1), ("status", 1)]),
    Index(DUES, [("campaign_id", 1)]),
    Index(DUES, [("status", 1), ("updated_ms", 1)]),
    Index(DUES, [("invoice_id", 1)]),
    Index(INVOICING, [("status", 1), ("due_ms", 1)]),
    Index(INVOICING, [("status", 1), ("lease_ms", 1)]),
]


def invoicing_queue(mongo: Mongo) -> WorkQueue:
    return WorkQueue(mongo, INVOICING, lease_s=60, backoff_s=(2, 4, 8, 16, 32, 64, 128, 300), max_attempts=12)


async def get(tx: Tx | None, db: Any, due_id: str) -> Doc | None:
    session = tx.session if tx is not None else None
    return await db[DUES].find_one({"_id": due_id}, session=session)


async def insert(tx: Tx, doc: Doc) -> None:
    await tx.db[DUES].insert_one(doc, session=tx.session)


async def move(tx: Tx, due_id: str, status_was: str, fields: Doc) -> bool:
    """`$set` only while the due is still in the state the use case read (else a no-op: False)."""
    result = await tx.db[DUES].update_one(
        {"_id": due_id, "status": status_was}, {"$set": fields}, session=tx.session
    )
    return result.matched_count == 1


async def set_fields(tx: Tx, due_id: str, fields: Doc) -> None:
    await tx.db[DUES].update_one({"_id": due_id}, {"$set": fields}, session=tx.session)


async def of_municipality(db: Any, slug: str) -> list[Doc]:
    return await db[DUES].find({"municipality": slug}).sort([("_id", 1)]).to_list()


async def of_campaign(db: Any, campaign_id: str) -> list[Doc]:
    return await db[DUES].find({"campaign_id": campaign_id}).sort([("_id", 1)]).to_list()


async def with_status(db: Any, status: str, limit: int) -> list[Doc]:
    return await db[DUES].find({"status": status}).sort([("updated_ms", 1)]).limit(limit).to_list()


async def add_invoicing(tx: Tx, due_id: str) -> None:
    """Queue the due's invoice (created off the event's transaction: it calls Stripe)."""
    if await tx.db[INVOICING].find_one({"_id": due_id}, session=tx.session) is None:
        await tx.db[INVOICING].insert_one(WorkQueue.new_item(due_id), session=tx.session)
