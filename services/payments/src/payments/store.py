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
# Campaigns whose end may release money, looked at until their charges settle (payouts.py).
PAYOUT_CHECKS = "payout_checks"
# Each campaign's tally at its deadline, the facts campaigns closes it on (campaigns.py, tally_domain.py).
TALLIES = "tallies"

COLLECTIONS = [
    "pledges",
    "customers",
    "campaigns",
    "ledger",
    STRIPE_EVENTS,
    "subscriptions",
    "municipalities",
    ERASURES,
    "connected_accounts",
    "payouts",
    PAYOUT_CHECKS,
    "disputes",
    TALLIES,
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
    Index("connected_accounts", [("stripe_account_id", 1)], unique=True),
    Index("payouts", [("campaign_id", 1), ("sequence", 1)], unique=True),
    Index("payouts", [("owner_id", 1), ("created_ms", -1)]),
    Index("payouts", [("status", 1), ("updated_ms", 1)]),
    Index("payouts", [("transfer_id", 1)]),
    Index(PAYOUT_CHECKS, [("status", 1), ("due_ms", 1)]),
    Index("disputes", [("campaign_id", 1), ("status", 1)]),
    Index("disputes", [("open", 1), ("created_ms", -1)]),
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

    async def tally(self, campaign_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db[TALLIES].find_one({"_id": campaign_id}, session=_session(tx))

    async def insert_tally(self, tx: Tx, doc: Doc) -> Doc:
        return await self._insert(tx, TALLIES, doc)

    async def municipality(self, slug: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.municipalities.find_one({"_id": slug}, session=_session(tx))

    async def save_municipality(self, tx: Tx, slug: str, fields: Doc) -> None:
        if await self.municipality(slug, tx) is None:
            await self._insert(tx, "municipalities", {"_id": slug, **fields})
        else:
            await self._update(tx, "municipalities", {"_id": slug}, fields)

    # -- ledger -------------------------------------------------------------------------------

    async def ledger(self, campaign_id: str, tx: Tx | None = None) -> list[Doc]:
        cursor = self.db.ledger.find({"campaign_id": campaign_id}, session=_session(tx))
        return await cursor.sort([("at", 1), ("_id", 1)]).to_list()

    async def ledger_entry(self, tx: Tx, entry_id: str) -> Doc | None:
        return await tx.db.ledger.find_one({"_id": entry_id}, session=tx.session)

    async def entries_of_ref(self, tx: Tx, kind: str, ref: str) -> list[Doc]:
        return await tx.db.ledger.find({"kind": kind, "stripe_ref": ref}, session=tx.session).to_list()

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

    # -- payouts: connected accounts, payouts, campaigns to check (payouts.py) ------------------

    async def connected_account(self, user_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.connected_accounts.find_one({"_id": user_id}, session=_session(tx))

    async def connected_account_by_stripe(self, stripe_account_id: str) -> Doc | None:
        return await self.db.connected_accounts.find_one({"stripe_account_id": stripe_account_id})

    async def insert_connected_account(self, tx: Tx, doc: Doc) -> Doc:
        return await self._insert(tx, "connected_accounts", doc)

    async def set_connected_account(self, tx: Tx, user_id: str, fields: Doc) -> None:
        await self._update(tx, "connected_accounts", {"_id": user_id}, fields)

    async def payout(self, payout_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.payouts.find_one({"_id": payout_id}, session=_session(tx))

    async def payout_with_transfer(self, transfer_id: str) -> Doc | None:
        return await self.db.payouts.find_one({"transfer_id": transfer_id})

    async def payouts_of_campaign(self, campaign_id: str, tx: Tx | None = None) -> list[Doc]:
        cursor = self.db.payouts.find({"campaign_id": campaign_id}, session=_session(tx))
        return await cursor.sort([("sequence", 1)]).to_list()

    async def payouts_of_owner(self, owner_id: str, limit: int) -> list[Doc]:
        cursor = self.db.payouts.find({"owner_id": owner_id}).sort([("created_ms", -1)])
        return await cursor.limit(limit).to_list()

    async def payouts_in(self, status: str, limit: int, updated_before_ms: int | None = None) -> list[Doc]:
        """Oldest change first; `updated_before_ms` for the sweeper (stale transfers)."""
        match: Doc = {"status": status}
        if updated_before_ms is not None:
            match["updated_ms"] = {"$lt": updated_before_ms}
        cursor = self.db.payouts.find(match).sort([("updated_ms", 1)])
        return await cursor.limit(limit).to_list()

    async def approved_payouts_of(self, tx: Tx, owner_id: str) -> list[Doc]:
        return await tx.db.payouts.find(
            {"owner_id": owner_id, "status": "approved"}, session=tx.session
        ).to_list()

    async def pending_payouts_of_campaign(self, tx: Tx, campaign_id: str) -> list[Doc]:
        return await tx.db.payouts.find(
            {"campaign_id": campaign_id, "status": "pending"}, session=tx.session
        ).to_list()

    async def insert_payout(self, tx: Tx, doc: Doc) -> Doc:
        return await self._insert(tx, "payouts", doc)

    async def move_payout(
        self, tx: Tx, payout_id: str, from_status: str, to_status: str, **fields: Any
    ) -> Doc | None:
        """Conditional transition (the pledges' idiom): None when the payout was no longer in
        `from_status`."""
        now = utcnow()
        moved = await self._update(
            tx,
            "payouts",
            {"_id": payout_id, "status": from_status},
            {"status": to_status, "updated_at": now, "updated_ms": int(now.timestamp() * 1000), **fields},
        )
        return await self.payout(payout_id, tx) if moved else None

    async def set_payout(self, tx: Tx, payout_id: str, status: str, **fields: Any) -> bool:
        """Fields that do not change the payout's state (its transfer id), if still in `status`."""
        return await self._update(tx, "payouts", {"_id": payout_id, "status": status}, fields)

    async def payout_check(self, campaign_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db[PAYOUT_CHECKS].find_one({"_id": campaign_id}, session=_session(tx))

    async def save_payout_check(self, tx: Tx, campaign_id: str, fields: Doc) -> None:
        if await self.payout_check(campaign_id, tx) is None:
            await self._insert(tx, PAYOUT_CHECKS, {"_id": campaign_id, **fields})
        else:
            await self._update(tx, PAYOUT_CHECKS, {"_id": campaign_id}, fields)

    async def due_payout_checks(self, now_ms: int, limit: int = 50) -> list[Doc]:
        cursor = self.db[PAYOUT_CHECKS].find({"status": "due", "due_ms": {"$lte": now_ms}})
        return await cursor.sort([("due_ms", 1)]).limit(limit).to_list()

    # -- disputes (disputes.py) -----------------------------------------------------------------

    async def dispute(self, dispute_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.disputes.find_one({"_id": dispute_id}, session=_session(tx))

    async def save_dispute(self, tx: Tx, dispute_id: str, fields: Doc) -> None:
        if await self.dispute(dispute_id, tx) is None:
            await self._insert(tx, "disputes", {"_id": dispute_id, **fields})
        else:
            await self._update(tx, "disputes", {"_id": dispute_id}, fields)

    async def open_disputes_of_campaign(self, tx: Tx, campaign_id: str) -> list[Doc]:
        return await tx.db.disputes.find(
            {"campaign_id": campaign_id, "open": 1}, session=tx.session
        ).to_list()

    async def disputes_listing(self, open_only: bool, limit: int) -> list[Doc]:
        match: Doc = {"open": 1} if open_only else {}
        return await self.db.disputes.find(match).sort([("created_ms", -1)]).limit(limit).to_list()

    async def payouts_not_left(self, tx: Tx, campaign_id: str) -> list[Doc]:
        """The campaign's payouts whose money has not left (pending, approved)."""
        return await tx.db.payouts.find(
            {"campaign_id": campaign_id, "status": {"$in": ["pending", "approved"]}}, session=tx.session
        ).to_list()
