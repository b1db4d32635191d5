"""Payments' own database: pledges, Stripe customers, the campaign projection, the ledger,
stored Stripe events, city subscriptions, idempotency keys.

Reads go straight to the database; every write takes a `Tx` (inside `mongo.transact`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from servicekit.mongo import Index, Mongo, Tx, utcnow

from .domain import LedgerEntry

COLLECTIONS = [
    "pledges",
    "customers",
    "campaigns",
    "ledger",
    "stripe_events",
    "subscriptions",
    "idempotency",
    "municipalities",
]
INDEXES = [
    Index("pledges", [("backer_id", 1), ("created_at", -1)]),
    Index("pledges", [("campaign_id", 1), ("status", 1)]),
    Index("pledges", [("status", 1), ("checked_ms", 1)]),
    Index("ledger", [("campaign_id", 1), ("at", 1)]),
    Index("stripe_events", [("status", 1), ("received_at", 1)]),
    Index("subscriptions", [("municipality", 1)]),
    # Stripe keeps idempotency keys 24 h; ours outlive that so a late replay still finds its pledge.
    Index("idempotency", [("created_at", 1)], expire_after_seconds=30 * 24 * 3600),
]


def checked_now() -> dict[str, Any]:
    """When a pledge was last looked at; `checked_ms` (epoch ms) is what queries sort on, since
    nx-27017 mixes datetimes and strings in `checked_at` (see `when`)."""
    now = utcnow()
    return {"checked_at": now, "checked_ms": int(now.timestamp() * 1000)}


def pledge_event_data(pledge: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The fields every pledge.* / payment.* event carries."""
    data: dict[str, Any] = {
        "pledge_id": pledge["_id"],
        "campaign_id": pledge["campaign_id"],
        "backer_id": pledge["backer_id"],
        "amount": pledge["amount"],
        "currency": pledge["currency"],
        "tip": pledge.get("tip", 0),
        "anonymous": bool(pledge.get("anonymous", False)),
        "funding_model": pledge["funding_model"],
    }
    if pledge.get("public_name"):
        data["public_name"] = pledge["public_name"]
    data.update({k: v for k, v in extra.items() if v is not None})
    return data


class Store:
    def __init__(self, mongo: Mongo) -> None:
        self.mongo = mongo
        self.db = mongo.db

    # -- reads ----------------------------------------------------------------------------------

    async def pledge(self, pledge_id: str) -> dict[str, Any] | None:
        return await self.db.pledges.find_one({"_id": pledge_id})

    async def pledges_of_backer(self, backer_id: str, limit: int, skip: int) -> list[dict[str, Any]]:
        cursor = self.db.pledges.find({"backer_id": backer_id}).sort([("created_at", -1)])
        return await cursor.skip(skip).limit(limit).to_list()

    async def pledges_of_campaign(self, campaign_id: str) -> list[dict[str, Any]]:
        return await self.db.pledges.find({"campaign_id": campaign_id}).to_list()

    async def pledges_in(self, statuses: list[str], limit: int = 100) -> list[dict[str, Any]]:
        cursor = self.db.pledges.find({"status": {"$in": statuses}}).sort([("checked_ms", 1)])
        return await cursor.limit(limit).to_list()

    async def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        return await self.db.campaigns.find_one({"_id": campaign_id})

    async def municipality(self, slug: str) -> dict[str, Any] | None:
        return await self.db.municipalities.find_one({"_id": slug})

    async def customer(self, owner_key: str) -> dict[str, Any] | None:
        return await self.db.customers.find_one({"_id": owner_key})

    async def ledger(self, campaign_id: str) -> list[dict[str, Any]]:
        return await self.db.ledger.find({"campaign_id": campaign_id}).sort([("at", 1), ("_id", 1)]).to_list()

    async def idempotent(self, key: str) -> dict[str, Any] | None:
        return await self.db.idempotency.find_one({"_id": key})

    async def subscription(self, subscription_id: str) -> dict[str, Any] | None:
        return await self.db.subscriptions.find_one({"_id": subscription_id})

    async def subscriptions_of(self, municipality: str) -> list[dict[str, Any]]:
        return await self.db.subscriptions.find({"municipality": municipality}).to_list()

    async def pending_stripe_events(self, limit: int = 50) -> list[dict[str, Any]]:
        cursor = self.db.stripe_events.find({"status": "pending"}).sort([("received_at", 1)])
        return await cursor.limit(limit).to_list()

    # -- writes (inside a transaction) ----------------------------------------------------------

    @staticmethod
    async def move_pledge(
        tx: Tx, pledge_id: str, from_statuses: list[str], to_status: str, **fields: Any
    ) -> dict[str, Any] | None:
        """Conditional transition: returns the updated pledge, or None if it was no longer in
        one of `from_statuses` (a concurrent worker or a redelivery got there first)."""
        now = utcnow()
        result = await tx.db.pledges.update_one(
            {"_id": pledge_id, "status": {"$in": from_statuses}},
            {"$set": {"status": to_status, "updated_at": now, **checked_now(), **fields}},
            session=tx.session,
        )
        if result.modified_count != 1:
            return None
        return await tx.db.pledges.find_one({"_id": pledge_id}, session=tx.session)

    @staticmethod
    async def append_ledger(tx: Tx, entries: list[LedgerEntry], at: datetime) -> list[LedgerEntry]:
        """Append entries not yet in the journal (ids derive from Stripe objects); returns the new ones."""
        if not entries:
            return []
        ids = [e.id for e in entries]
        existing = {
            d["_id"] for d in await tx.db.ledger.find({"_id": {"$in": ids}}, session=tx.session).to_list()
        }
        new = [e for e in entries if e.id not in existing]
        if new:
            await tx.db.ledger.insert_many([{**e.doc(), "at": at} for e in new], session=tx.session)
        return new
