"""Payments' own database: pledges, Stripe customers, the campaign and municipality projections,
the ledger, stored Stripe events and city subscriptions. The only module that touches it.

One write idiom: `_insert` a new document, or `_update`, a `$set` whose filter names what the use
case read (a pledge's status, for instance), so that a concurrent worker, another replica or a
redelivery that got there first turns the write into a no-op the caller sees (False / None)
instead of a lost update. Every write takes the use case's `Tx`; a read takes it when it is part
of one (`tx=None` outside any transaction).

nx-27017 reads a `$set` datetime back as an ISO string: instants are read through
`servicekit.mongo.as_utc`, and what queries sort or compare on is epoch milliseconds
(`checked_ms`, `due_ms`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from servicekit.jobs import WorkQueue
from servicekit.mongo import Index, Tx, utcnow

from .domain import LedgerEntry

Doc = dict[str, Any]

STRIPE_EVENTS = "stripe_events"
# Stripe customers of deleted accounts, to delete at Stripe (a servicekit WorkQueue: accounts.py).
ERASURES = "erasures"

COLLECTIONS = [
    "pledges",
    "customers",
    "campaigns",
    "ledger",
    STRIPE_EVENTS,
    "subscriptions",
    "municipalities",
    ERASURES,
]
INDEXES = [
    Index("pledges", [("backer_id", 1), ("created_at", -1)]),
    Index("pledges", [("campaign_id", 1), ("status", 1)]),
    Index("pledges", [("status", 1), ("checked_ms", 1)]),
    Index("ledger", [("campaign_id", 1), ("at", 1)]),
    Index("ledger", [("pledge_id", 1)]),
    # What servicekit.jobs.WorkQueue claims stored Stripe events by (webhooks.py).
    Index(STRIPE_EVENTS, [("status", 1), ("due_ms", 1)]),
    Index(STRIPE_EVENTS, [("status", 1), ("lease_ms", 1)]),
    Index("subscriptions", [("municipality", 1)]),
    Index(ERASURES, [("status", 1), ("due_ms", 1)]),
    Index(ERASURES, [("status", 1), ("lease_ms", 1)]),
]


def _session(tx: Tx | None) -> AsyncClientSession | None:
    return tx.session if tx is not None else None


def checked_now() -> Doc:
    """When a pledge was last looked at; `checked_ms` (epoch ms) is what queries sort on, since
    nx-27017 mixes datetimes and strings in `checked_at`."""
    now = utcnow()
    return {"checked_at": now, "checked_ms": int(now.timestamp() * 1000)}


class Store:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db

    @classmethod
    def of(cls, tx: Tx) -> Store:
        """The store over a transaction's database (event handlers get only the `Tx`)."""
        return cls(tx.db)

    # -- the write idiom ----------------------------------------------------------------------

    @staticmethod
    async def _insert(tx: Tx, collection: str, doc: Doc) -> Doc:
        await tx.db[collection].insert_one(doc, session=tx.session)
        return doc

    @staticmethod
    async def _update(tx: Tx, collection: str, match: Doc, fields: Doc) -> bool:
        result = await tx.db[collection].update_one(match, {"$set": fields}, session=tx.session)
        return result.matched_count == 1

    # -- pledges ------------------------------------------------------------------------------

    async def pledge(self, pledge_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.pledges.find_one({"_id": pledge_id}, session=_session(tx))

    async def pledge_with_intent(self, intent_id: str) -> Doc | None:
        return await self.db.pledges.find_one({"intents": intent_id})

    async def pledges_of_backer(self, backer_id: str, limit: int, skip: int) -> list[Doc]:
        cursor = self.db.pledges.find({"backer_id": backer_id}).sort([("created_at", -1)])
        return await cursor.skip(skip).limit(limit).to_list()

    async def pledges_of_campaign(self, campaign_id: str, tx: Tx | None = None) -> list[Doc]:
        return await self.db.pledges.find({"campaign_id": campaign_id}, session=_session(tx)).to_list()

    async def pledges_in(self, statuses: list[str], limit: int = 100) -> list[Doc]:
        """Least recently checked first."""
        cursor = self.db.pledges.find({"status": {"$in": statuses}}).sort([("checked_ms", 1)])
        return await cursor.limit(limit).to_list()

    async def insert_pledge(self, tx: Tx, doc: Doc) -> Doc:
        return await self._insert(tx, "pledges", doc)

    async def move_pledge(
        self, tx: Tx, pledge_id: str, from_statuses: list[str], to_status: str, **fields: Any
    ) -> Doc | None:
        """Conditional transition: the updated pledge, or None if it was no longer in one of
        `from_statuses` (a concurrent worker or a redelivery got there first)."""
        moved = await self._update(
            tx,
            "pledges",
            {"_id": pledge_id, "status": {"$in": from_statuses}},
            {"status": to_status, "updated_at": utcnow(), **checked_now(), **fields},
        )
        return await self.pledge(pledge_id, tx) if moved else None

    async def set_pledge(self, tx: Tx, pledge_id: str, **fields: Any) -> None:
        """Fields that do not change the pledge's status (its current intent, when last checked)."""
        await self._update(tx, "pledges", {"_id": pledge_id}, fields)

    async def touch_pledge(self, tx: Tx, pledge_id: str) -> None:
        await self.set_pledge(tx, pledge_id, **checked_now())

    # -- customers ----------------------------------------------------------------------------

    async def customer(self, owner_key: str) -> Doc | None:
        return await self.db.customers.find_one({"_id": owner_key})

    async def insert_customer(self, tx: Tx, owner_key: str, stripe_customer_id: str) -> None:
        await self._insert(
            tx,
            "customers",
            {"_id": owner_key, "stripe_customer_id": stripe_customer_id, "created_at": utcnow()},
        )

    # -- a deleted account (accounts.py) ---------------------------------------------------------

    async def every_pledge_of(self, tx: Tx, backer_id: str) -> list[Doc]:
        return await tx.db.pledges.find({"backer_id": backer_id}, session=tx.session).to_list()

    async def take_customer(self, tx: Tx, owner_key: str) -> Doc | None:
        """Remove the customer row (the account is gone) and return it, to erase it at Stripe."""
        doc = await tx.db.customers.find_one({"_id": owner_key}, session=tx.session)
        if doc is not None:
            await tx.db.customers.delete_one({"_id": owner_key}, session=tx.session)
        return doc

    async def insert_erasure(self, tx: Tx, item_id: str, **fields: Any) -> None:
        if await tx.db[ERASURES].find_one({"_id": item_id}, session=tx.session) is None:
            await self._insert(tx, ERASURES, WorkQueue.new_item(item_id, **fields))

    # -- projections of other services' facts --------------------------------------------------

    async def campaign(self, campaign_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.campaigns.find_one({"_id": campaign_id}, session=_session(tx))

    async def save_campaign(self, tx: Tx, campaign_id: str, fields: Doc, exists: bool) -> None:
        if exists:
            await self._update(tx, "campaigns", {"_id": campaign_id}, fields)
        else:
            await self._insert(tx, "campaigns", {"_id": campaign_id, **fields})

    async def municipality(self, slug: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.municipalities.find_one({"_id": slug}, session=_session(tx))

    async def save_municipality(self, tx: Tx, slug: str, fields: Doc) -> None:
        if await self.municipality(slug, tx) is None:
            await self._insert(tx, "municipalities", {"_id": slug, **fields})
        else:
            await self._update(tx, "municipalities", {"_id": slug}, fields)

    # -- ledger -------------------------------------------------------------------------------

    async def ledger(self, campaign_id: str) -> list[Doc]:
        return await self.db.ledger.find({"campaign_id": campaign_id}).sort([("at", 1), ("_id", 1)]).to_list()

    async def ledger_entry(self, tx: Tx, entry_id: str) -> Doc | None:
        return await tx.db.ledger.find_one({"_id": entry_id}, session=tx.session)

    async def project_entries_of(self, tx: Tx, pledge_id: str) -> list[Doc]:
        return await tx.db.ledger.find(
            {"pledge_id": pledge_id, "account": "project"}, session=tx.session
        ).to_list()

    async def append_ledger(self, tx: Tx, entries: list[LedgerEntry], at: datetime) -> list[LedgerEntry]:
        """Append the entries not yet in the journal (ids derive from Stripe objects); returns the
        new ones."""
        if not entries:
            return []
        ids = [e.id for e in entries]
        existing = {
            d["_id"] for d in await tx.db.ledger.find({"_id": {"$in": ids}}, session=tx.session).to_list()
        }
        new = [e for e in entries if e.id not in existing]
        for entry in new:
            await self._insert(tx, "ledger", {**entry.doc(), "at": at})
        return new

    # -- stored Stripe events (a servicekit WorkQueue) -----------------------------------------

    async def insert_stripe_event(self, tx: Tx, event_id: str, **fields: Any) -> Doc:
        return await self._insert(tx, STRIPE_EVENTS, WorkQueue.new_item(event_id, **fields))

    async def stripe_event(self, event_id: str) -> Doc | None:
        return await self.db[STRIPE_EVENTS].find_one({"_id": event_id})

    # -- city subscriptions --------------------------------------------------------------------

    async def subscription(self, subscription_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.subscriptions.find_one({"_id": subscription_id}, session=_session(tx))

    async def subscriptions_of(self, municipality: str) -> list[Doc]:
        return await self.db.subscriptions.find({"municipality": municipality}).to_list()

    async def insert_subscription(self, tx: Tx, doc: Doc) -> Doc:
        return await self._insert(tx, "subscriptions", doc)

    async def set_subscription(self, tx: Tx, subscription_id: str, **fields: Any) -> None:
        await self._update(tx, "subscriptions", {"_id": subscription_id}, fields)
