"""Campaigns' repository over its own database (walking skeleton: create and read)."""

from __future__ import annotations

from typing import Any

from servicekit.mongo import Index, Mongo, Tx

INDEXES = [Index("campaigns", [("owner_id", 1)])]
COLLECTIONS = ["campaigns"]


class CampaignStore:
    def __init__(self, mongo: Mongo) -> None:
        self.mongo = mongo

    async def create_published(self, doc: dict[str, Any]) -> dict[str, Any]:
        async def work(tx: Tx) -> dict[str, Any]:
            await tx.db.campaigns.insert_one(doc, session=tx.session)
            tx.emit(
                "campaign.published",
                doc["_id"],
                {
                    "campaign_id": doc["_id"],
                    "owner_id": doc["owner_id"],
                    "title": doc["title"],
                    "status": doc["status"],
                    "municipality": doc["municipality"],
                    "goal": doc["goal"],
                    "currency": doc["currency"],
                    "funding_model": doc["funding_model"],
                    "version": doc["version"],
                },
            )
            return doc

        return await self.mongo.transact(work)

    async def get(self, campaign_id: str) -> dict[str, Any] | None:
        return await self.mongo.db.campaigns.find_one({"_id": campaign_id})
