"""Tax receipts' part of payments' database: holders' tax status (recorded by admins), the
receipts issued, and the per-association, per-year counters their numbers come from. Same write
idiom as store.py."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from servicekit.mongo import Index, Tx

Doc = dict[str, Any]

COLLECTIONS = ["holders", "receipts", "receipt_counters"]
INDEXES = [
    Index("receipts", [("backer_id", 1), ("year", 1)]),
    Index("receipts", [("holder_id", 1), ("year", 1)]),
]


class ReceiptStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db

    async def holder(self, user_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.holders.find_one({"_id": user_id}, session=tx.session if tx else None)

    async def put_holder(self, tx: Tx, doc: Doc) -> None:
        await tx.db.holders.replace_one({"_id": doc["_id"]}, doc, upsert=True, session=tx.session)

    async def receipt(self, pledge_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.receipts.find_one({"_id": pledge_id}, session=tx.session if tx else None)

    async def receipts_of_backer(self, backer_id: str, year: int | None = None) -> list[Doc]:
        query: Doc = {"backer_id": backer_id}
        if year is not None:
            query["year"] = year
        return await self.db.receipts.find(query).sort([("number", 1)]).to_list()

    async def kept(self, pledge_id: str, tx: Tx | None = None) -> int:
        """What the project's account of the ledger still holds from the pledge (tip excluded)."""
        entries = await self.db.ledger.find(
            {"pledge_id": pledge_id, "account": "project"}, session=tx.session if tx else None
        ).to_list()
        return sum(int(e["amount"]) for e in entries)

    async def insert_receipt(self, tx: Tx, doc: Doc) -> None:
        await tx.db.receipts.insert_one(doc, session=tx.session)

    async def void_receipt(self, tx: Tx, pledge_id: str, reason: str) -> bool:
        result = await tx.db.receipts.update_one(
            {"_id": pledge_id, "status": "issued"}, {"$set": {"status": "void", "void_reason": reason}},
            session=tx.session,
        )  # fmt: skip
        return result.matched_count == 1

    async def next_number(self, tx: Tx, holder_id: str, year: int) -> int:
        """The next sequence of the holder's year, in the issuing transaction: two receipts
        issued at once both write the counter, so one of them retries with the next number."""
        key = f"{holder_id}:{year}"
        row = await tx.db.receipt_counters.find_one({"_id": key}, session=tx.session)
        sequence = int(row["seq"]) + 1 if row else 1
        await tx.db.receipt_counters.replace_one({"_id": key}, {"_id": key, "seq": sequence}, upsert=True,
                                                 session=tx.session)  # fmt: skip
        return sequence

    async def pseudonymise_backer(self, tx: Tx, backer_id: str, alias: str) -> None:
        """A deleted account's receipts stay (the association must keep them for the tax
        administration) but no longer lead to the account."""
        await tx.db.receipts.update_many(
            {"backer_id": backer_id}, {"$set": {"backer_id": alias}}, session=tx.session
        )
