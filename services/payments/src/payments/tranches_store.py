"""Milestone releases' part of payments' database: holders' payout plans, the labels cities
granted (label.* events: who confirms a labelled project's milestones), the campaign updates
campaigns announced (a proof may name one) and backers' objections. Same write idiom as store.py;
the tranches themselves are payouts (store.py), their milestone a field of the payout."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from servicekit.mongo import Index, Tx

Doc = dict[str, Any]

COLLECTIONS = ["payout_plans", "campaign_labels", "campaign_updates", "milestone_objections"]
INDEXES = [
    Index("campaign_labels", [("campaign_id", 1)]),
    Index("milestone_objections", [("payout_id", 1)]),
    Index("payouts", [("milestone_status", 1), ("window_ends_ms", 1)]),
]


def _session(tx: Tx | None) -> Any:
    return tx.session if tx else None


class TrancheStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db

    @classmethod
    def of(cls, tx: Tx) -> TrancheStore:
        return cls(tx.db)

    async def plan(self, campaign_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.payout_plans.find_one({"_id": campaign_id}, session=_session(tx))

    async def put_plan(self, tx: Tx, doc: Doc) -> None:
        await tx.db.payout_plans.replace_one({"_id": doc["_id"]}, doc, upsert=True, session=tx.session)

    async def label(self, label_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.campaign_labels.find_one({"_id": label_id}, session=_session(tx))

    async def put_label(self, tx: Tx, doc: Doc) -> None:
        await tx.db.campaign_labels.replace_one({"_id": doc["_id"]}, doc, upsert=True, session=tx.session)

    async def labelling_cities(self, campaign_id: str, tx: Tx | None = None) -> list[str]:
        rows = await self.db.campaign_labels.find(
            {"campaign_id": campaign_id, "status": "granted"}, session=_session(tx)
        ).to_list()
        return sorted({str(r["municipality"]) for r in rows})

    async def put_update(self, tx: Tx, doc: Doc) -> None:
        await tx.db.campaign_updates.replace_one({"_id": doc["_id"]}, doc, upsert=True, session=tx.session)

    async def update(self, update_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.campaign_updates.find_one({"_id": update_id}, session=_session(tx))

    async def objection(self, objection_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.milestone_objections.find_one({"_id": objection_id}, session=_session(tx))

    async def insert_objection(self, tx: Tx, doc: Doc) -> None:
        await tx.db.milestone_objections.insert_one(doc, session=tx.session)

    async def objections_of(self, payout_id: str, tx: Tx | None = None) -> list[Doc]:
        cursor = self.db.milestone_objections.find({"payout_id": payout_id}, session=_session(tx))
        return await cursor.sort([("created_ms", 1)]).to_list()

    async def move_milestone(self, tx: Tx, payout_id: str, from_status: str, fields: Doc) -> bool:
        """Conditional on the milestone's state the use case read (store.py's idiom)."""
        result = await tx.db.payouts.update_one(
            {"_id": payout_id, "milestone_status": from_status},
            {"$set": fields},
            session=tx.session,
        )
        return result.matched_count == 1

    async def windows_ended(self, now_ms: int, limit: int = 50) -> list[Doc]:
        cursor = self.db.payouts.find(
            {"milestone_status": "objection_window", "window_ends_ms": {"$lte": now_ms}}
        )
        return await cursor.limit(limit).to_list()

    async def milestones_in(self, status: str, limit: int) -> list[Doc]:
        cursor = self.db.payouts.find({"milestone_status": status}).sort([("created_ms", 1)])
        return await cursor.limit(limit).to_list()
