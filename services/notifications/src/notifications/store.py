"""Notifications' own database: the recipients projection, preferences, the in-app inbox,
fan-out jobs and email deliveries. Webhook collections live in webhook_store.py.

Every write takes a `Tx` (inside `Mongo.transact` or an event handler's transaction).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from servicekit.mongo import Index, Mongo, Tx, as_utc, utcnow

from .domain import Preferences, is_newer

# nx-27017 stores a datetime written by a top-level `$set` as a string (inserts and nested
# values keep the type), and such strings never match a date range query. So every time we
# query or sort on is an integer of epoch milliseconds (`*_ms`), and times read back for
# display or comparison go through `as_utc`.


INDEXES = [
    Index("inbox_items", [("user_id", 1), ("created_at", -1)]),
    Index("inbox_items", [("user_id", 1), ("read", 1)]),
    Index("users", [("postcode", 1)]),
    # (nx-27017 cannot index `_id` inside a compound index: writes then fail.)
    Index("followers", [("campaign_id", 1)]),
    Index("backers", [("campaign_id", 1)]),
    Index("officials", [("municipality", 1)]),
    Index("fanout_jobs", [("status", 1), ("created_at", 1)]),
    Index("email_deliveries", [("status", 1), ("due_ms", 1)]),
    Index("email_deliveries", [("user_id", 1), ("created_at", -1)]),
]
COLLECTIONS = [
    "users",
    "campaigns",
    "followers",
    "backers",
    "officials",
    "municipalities",
    "preferences",
    "inbox_items",
    "fanout_jobs",
    "email_deliveries",
]


async def insert_if_absent(tx: Tx, collection: str, doc: dict[str, Any]) -> bool:
    """Portable "create once": find + insert in the transaction (nx-27017 drops $setOnInsert)."""
    coll = tx.db[collection]
    if await coll.find_one({"_id": doc["_id"]}, {"_id": 1}, session=tx.session) is not None:
        return False
    try:
        await coll.insert_one(doc, session=tx.session)
    except DuplicateKeyError:
        return False  # another replica created it first
    return True


# -- recipients projection -------------------------------------------------------------------


async def upsert_user(tx: Tx, user_id: str, fields: dict[str, Any], at: datetime) -> None:
    """Apply a user.* event if it is newer than what we hold (events may arrive out of order)."""
    current = await tx.db.users.find_one({"_id": user_id}, session=tx.session)
    if current is not None and (
        current.get("deleted") or not is_newer(at, as_utc(current.get("updated_at")))
    ):
        return
    if current is None:
        await insert_if_absent(tx, "users", {"_id": user_id, **fields, "updated_at": at})
    else:
        await tx.db.users.update_one(
            {"_id": user_id}, {"$set": {**fields, "updated_at": at}}, session=tx.session
        )


async def forget_user(tx: Tx, user_id: str, at: datetime) -> None:
    """A deleted account keeps a tombstone (no contact details) so late events cannot revive it."""
    tombstone = {"deleted": True, "updated_at": at}
    if not await insert_if_absent(tx, "users", {"_id": user_id, **tombstone}):
        await tx.db.users.update_one(
            {"_id": user_id},
            {"$set": tombstone, "$unset": {"email": "", "display_name": "", "postcode": ""}},
            session=tx.session,
        )
    await tx.db.preferences.delete_one({"_id": user_id}, session=tx.session)
    await tx.db.inbox_items.delete_many({"user_id": user_id}, session=tx.session)


async def upsert_campaign(tx: Tx, data: dict[str, Any]) -> None:
    """Keep the highest `version` of a campaign's identity (owner, title, municipality)."""
    fields = {
        "owner_id": data["owner_id"],
        "title": data["title"],
        "municipality": data["municipality"],
        "status": data["status"],
        "version": data["version"],
    }
    current = await tx.db.campaigns.find_one({"_id": data["campaign_id"]}, session=tx.session)
    if current is None:
        await insert_if_absent(tx, "campaigns", {"_id": data["campaign_id"], **fields})
    elif data["version"] >= current.get("version", 0):
        await tx.db.campaigns.update_one({"_id": data["campaign_id"]}, {"$set": fields}, session=tx.session)


async def set_follow(tx: Tx, campaign_id: str, user_id: str, following: bool, at: datetime) -> None:
    key = f"{campaign_id}|{user_id}"
    doc = {"campaign_id": campaign_id, "user_id": user_id, "following": following, "at": at}
    current = await tx.db.followers.find_one({"_id": key}, session=tx.session)
    if current is None:
        await insert_if_absent(tx, "followers", {"_id": key, **doc})
    elif is_newer(at, as_utc(current.get("at"))):
        await tx.db.followers.update_one({"_id": key}, {"$set": doc}, session=tx.session)


async def add_backer(tx: Tx, campaign_id: str, user_id: str, at: datetime) -> None:
    """Once a backer, always told about the campaign's fate (even after a refund)."""
    await insert_if_absent(
        tx,
        "backers",
        {"_id": f"{campaign_id}|{user_id}", "campaign_id": campaign_id, "user_id": user_id, "at": at},
    )


async def set_official(
    tx: Tx, municipality: str, user_id: str, role: str | None, active: bool, at: datetime
) -> None:
    key = f"{municipality}|{user_id}"
    doc: dict[str, Any] = {"municipality": municipality, "user_id": user_id, "active": active, "at": at}
    if role:
        doc["role"] = role
    current = await tx.db.officials.find_one({"_id": key}, session=tx.session)
    if current is None:
        await insert_if_absent(tx, "officials", {"_id": key, **doc})
    elif is_newer(at, as_utc(current.get("at"))):
        await tx.db.officials.update_one({"_id": key}, {"$set": doc}, session=tx.session)


async def upsert_municipality(tx: Tx, slug: str, name: str, postcodes: list[str]) -> None:
    doc = {"name": name, "postcodes": postcodes}
    if not await insert_if_absent(tx, "municipalities", {"_id": slug, **doc}):
        await tx.db.municipalities.update_one({"_id": slug}, {"$set": doc}, session=tx.session)


# -- preferences -----------------------------------------------------------------------------


async def get_preferences(db: Any, user_id: str, session: Any = None) -> Preferences:
    doc = await db.preferences.find_one({"_id": user_id}, session=session)
    if doc is None:
        return {}
    return {cat: {ch: bool(on) for ch, on in chs.items()} for cat, chs in (doc.get("choices") or {}).items()}


async def save_preferences(tx: Tx, user_id: str, prefs: Preferences) -> None:
    doc = {"choices": prefs, "updated_at": utcnow()}
    if not await insert_if_absent(tx, "preferences", {"_id": user_id, **doc}):
        await tx.db.preferences.update_one({"_id": user_id}, {"$set": doc}, session=tx.session)


# -- fan-out jobs ----------------------------------------------------------------------------


async def add_fanout_job(
    tx: Tx, job_id: str, kind: str, context: dict[str, Any], stages: list[dict[str, Any]]
) -> None:
    """A notification to expand into per-recipient deliveries later, page by page."""
    await insert_if_absent(
        tx,
        "fanout_jobs",
        {
            "_id": job_id,
            "kind": kind,
            "context": context,
            "stages": stages,
            "stage": 0,
            "cursor": "",
            "status": "pending",
            "lease_owner": "",
            "lease_ms": 0,
            "created_at": utcnow(),
        },
    )


# -- inbox -----------------------------------------------------------------------------------


async def list_for_user(
    mongo: Mongo, user_id: str, limit: int = 50, unread_only: bool = False, before: datetime | None = None
) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"user_id": user_id}
    if unread_only:
        query["read"] = False
    if before is not None:
        query["created_at"] = {"$lt": before}
    return await mongo.db.inbox_items.find(query).sort([("created_at", -1)]).limit(limit).to_list()


async def unread_count(mongo: Mongo, user_id: str) -> int:
    return await mongo.db.inbox_items.count_documents({"user_id": user_id, "read": False})
