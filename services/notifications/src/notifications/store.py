"""Notifications' own database: the recipients projection, preferences, the in-app inbox,
fan-out jobs and email deliveries. The only module that touches these collections (webhook
collections live in webhooks/store.py).

One write idiom: a document is created with `insert_if_absent` and changed with `set_fields`
(`set_fields_many` for a set of them), always inside a transaction (`Tx`). Reads take a `Source`: the `Mongo` for a read on its own,
or the `Tx` when the read belongs to a transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from servicekit.jobs import WorkQueue
from servicekit.mongo import Index, Mongo, Tx, as_utc, utcnow
from servicekit.mongo import epoch_ms as ms

from .domain import Preferences, Stage, is_newer

# nx-27017 stores a datetime written by a top-level `$set` as a string (inserts and nested
# values keep the type), and such strings never match a date range query. So every time we
# query or sort on is an integer of epoch milliseconds (`*_ms`), and times read back for
# display or comparison go through `as_utc`.

Source = Mongo | Tx
Doc = dict[str, Any]

INDEXES = [
    Index("inbox_items", [("user_id", 1), ("created_at", -1)]),
    Index("inbox_items", [("user_id", 1), ("read", 1)]),
    Index("users", [("postcode", 1)]),
    Index("users", [("email", 1)]),
    # (nx-27017 cannot index `_id` inside a compound index: writes then fail.)
    Index("followers", [("campaign_id", 1)]),
    Index("backers", [("campaign_id", 1)]),
    Index("officials", [("municipality", 1)]),
    # What WorkQueue.claim queries (fan-out jobs and email deliveries are work items).
    Index("fanout_jobs", [("status", 1), ("due_ms", 1)]),
    Index("fanout_jobs", [("status", 1), ("lease_ms", 1)]),
    Index("email_deliveries", [("status", 1), ("due_ms", 1)]),
    Index("email_deliveries", [("status", 1), ("lease_ms", 1)]),
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


def reader(source: Source) -> tuple[AsyncDatabase, AsyncClientSession | None]:
    """The database and session for a read: inside a transaction the read must use its session."""
    if isinstance(source, Tx):
        return source.db, source.session
    return source.db, None


async def insert_if_absent(tx: Tx, collection: str, doc: Doc) -> bool:
    """Portable "create once": find + insert in the transaction (nx-27017 drops $setOnInsert)."""
    coll = tx.db[collection]
    if await coll.find_one({"_id": doc["_id"]}, {"_id": 1}, session=tx.session) is not None:
        return False
    try:
        await coll.insert_one(doc, session=tx.session)
    except DuplicateKeyError:
        return False  # another replica created it first
    return True


async def set_fields(
    tx: Tx, collection: str, match: Mapping[str, Any], fields: Mapping[str, Any], unset: tuple[str, ...] = ()
) -> bool:
    """Change one document; True when `match` found it."""
    change: dict[str, Any] = {"$set": dict(fields)}
    if unset:
        change["$unset"] = dict.fromkeys(unset, "")
    result = await tx.db[collection].update_one(dict(match), change, session=tx.session)
    return result.matched_count == 1


async def set_fields_many(
    tx: Tx, collection: str, match: Mapping[str, Any], fields: Mapping[str, Any]
) -> int:
    """Change every document `match` finds; returns how many."""
    result = await tx.db[collection].update_many(dict(match), {"$set": dict(fields)}, session=tx.session)
    return result.matched_count


# -- recipients projection -------------------------------------------------------------------


async def find_user(source: Source, user_id: str) -> Doc | None:
    db, session = reader(source)
    return await db.users.find_one({"_id": user_id}, session=session)


async def find_user_by_email(source: Source, email: str) -> Doc | None:
    db, session = reader(source)
    return await db.users.find_one({"email": email}, session=session)


async def upsert_user(tx: Tx, user_id: str, fields: dict[str, Any], at: datetime) -> None:
    """Apply a user.* event if it is newer than what we hold (events may arrive out of order)."""
    current = await find_user(tx, user_id)
    if current is not None and (
        current.get("deleted") or not is_newer(at, as_utc(current.get("updated_at")))
    ):
        return
    if current is None:
        await insert_if_absent(tx, "users", {"_id": user_id, **fields, "updated_at": at})
    else:
        await set_fields(tx, "users", {"_id": user_id}, {**fields, "updated_at": at})


async def forget_user(tx: Tx, user_id: str, at: datetime) -> None:
    """A deleted account keeps a tombstone (no contact details) so late events cannot revive it."""
    tombstone = {"deleted": True, "updated_at": at}
    if not await insert_if_absent(tx, "users", {"_id": user_id, **tombstone}):
        await set_fields(
            tx, "users", {"_id": user_id}, tombstone, unset=("email", "display_name", "postcode")
        )
    await tx.db.preferences.delete_one({"_id": user_id}, session=tx.session)
    await tx.db.inbox_items.delete_many({"user_id": user_id}, session=tx.session)


async def find_campaign(source: Source, campaign_id: str) -> Doc | None:
    db, session = reader(source)
    return await db.campaigns.find_one({"_id": campaign_id}, session=session)


async def upsert_campaign(tx: Tx, data: dict[str, Any]) -> None:
    """Keep the highest `version` of a campaign's identity (owner, title, municipality)."""
    fields = {
        "owner_id": data["owner_id"],
        "title": data["title"],
        "municipality": data["municipality"],
        "status": data["status"],
        "version": data["version"],
    }
    current = await find_campaign(tx, data["campaign_id"])
    if current is None:
        await insert_if_absent(tx, "campaigns", {"_id": data["campaign_id"], **fields})
    elif data["version"] >= current.get("version", 0):
        await set_fields(tx, "campaigns", {"_id": data["campaign_id"]}, fields)


async def _set_if_newer(tx: Tx, collection: str, key: str, doc: Doc, at: datetime) -> None:
    current = await tx.db[collection].find_one({"_id": key}, session=tx.session)
    if current is None:
        await insert_if_absent(tx, collection, {"_id": key, **doc})
    elif is_newer(at, as_utc(current.get("at"))):
        await set_fields(tx, collection, {"_id": key}, doc)


async def set_follow(tx: Tx, campaign_id: str, user_id: str, following: bool, at: datetime) -> None:
    doc = {"campaign_id": campaign_id, "user_id": user_id, "following": following, "at": at}
    await _set_if_newer(tx, "followers", f"{campaign_id}|{user_id}", doc, at)


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
    doc: Doc = {"municipality": municipality, "user_id": user_id, "active": active, "at": at}
    if role:
        doc["role"] = role
    await _set_if_newer(tx, "officials", f"{municipality}|{user_id}", doc, at)


async def find_municipality(source: Source, slug: str) -> Doc | None:
    db, session = reader(source)
    return await db.municipalities.find_one({"_id": slug}, session=session)


async def upsert_municipality(tx: Tx, slug: str, name: str, postcodes: list[str]) -> None:
    doc = {"name": name, "postcodes": postcodes}
    if not await insert_if_absent(tx, "municipalities", {"_id": slug, **doc}):
        await set_fields(tx, "municipalities", {"_id": slug}, doc)


async def audience_page(tx: Tx, stage: Stage, cursor: str, size: int) -> list[Doc]:
    """The next page of recipients of one audience stage: [{user_id, role, ..., _key}], keyset
    on `_id` so a page resumes exactly where the previous transaction stopped."""
    kind = stage["t"]
    if kind == "user":
        if cursor:
            return []
        return [{k: v for k, v in stage.items() if k != "t"} | {"_key": stage["user_id"]}]
    after = {"$gt": cursor} if cursor else {"$exists": True}
    if kind in ("backers", "followers"):
        query: Doc = {"campaign_id": stage["campaign_id"], "_id": after}
        if kind == "followers":
            query["following"] = True
        role = "backer" if kind == "backers" else "follower"
        docs = await tx.db[kind].find(query, session=tx.session).sort([("_id", 1)]).limit(size).to_list()
        return [{"user_id": d["user_id"], "role": role, "_key": d["_id"]} for d in docs]
    if kind == "officials":
        query = {
            "municipality": stage["municipality"],
            "_id": after,
            "active": True,
            "role": {"$in": stage["roles"]},
        }
        docs = await tx.db.officials.find(query, session=tx.session).sort([("_id", 1)]).limit(size).to_list()
        return [{"user_id": d["user_id"], "role": "official", "_key": d["_id"]} for d in docs]
    if kind == "residents":
        city = await find_municipality(tx, stage["municipality"])
        postcodes = (city or {}).get("postcodes") or []
        if not postcodes:
            return []
        query = {"postcode": {"$in": postcodes}, "_id": after}
        docs = await tx.db.users.find(query, session=tx.session).sort([("_id", 1)]).limit(size).to_list()
        return [{"user_id": d["_id"], "role": "resident", "_key": d["_id"]} for d in docs]
    raise ValueError(f"unknown audience stage {kind!r}")


# -- preferences -----------------------------------------------------------------------------


async def get_preferences(source: Source, user_id: str) -> Preferences:
    db, session = reader(source)
    doc = await db.preferences.find_one({"_id": user_id}, session=session)
    if doc is None:
        return {}
    return {cat: {ch: bool(on) for ch, on in chs.items()} for cat, chs in (doc.get("choices") or {}).items()}


async def save_preferences(tx: Tx, user_id: str, prefs: Preferences) -> None:
    doc = {"choices": prefs, "updated_at": utcnow()}
    if not await insert_if_absent(tx, "preferences", {"_id": user_id, **doc}):
        await set_fields(tx, "preferences", {"_id": user_id}, doc)


# -- fan-out jobs ----------------------------------------------------------------------------

FANOUT_WORKING = "expanding"


def fanout_queue(mongo: Mongo, lease_s: float, max_attempts: int) -> WorkQueue:
    """Fan-out jobs as work items: a replica leases one and expands it page by page; a job that
    keeps failing is retried once a lease has passed, then marked failed."""
    return WorkQueue(
        mongo,
        "fanout_jobs",
        lease_s=lease_s,
        backoff_s=(lease_s,),
        max_attempts=max_attempts,
        working_status=FANOUT_WORKING,
    )


async def add_fanout_job(tx: Tx, job_id: str, kind: str, context: Doc, stages: list[Stage]) -> None:
    """A notification to expand into per-recipient deliveries later, page by page."""
    job = WorkQueue.new_item(
        job_id, kind=kind, context=context, stages=stages, stage=0, cursor="", created_at=utcnow()
    )
    await insert_if_absent(tx, "fanout_jobs", job)


async def find_fanout_job(tx: Tx, job_id: str) -> Doc | None:
    return await tx.db.fanout_jobs.find_one({"_id": job_id}, session=tx.session)


async def save_fanout_progress(tx: Tx, job_id: str, fields: Mapping[str, Any]) -> None:
    await set_fields(tx, "fanout_jobs", {"_id": job_id}, fields)


async def schedule_unscheduled_jobs(mongo: Mongo) -> None:
    """Jobs written before fan-out jobs were work items have no `due_ms`: make them due."""

    async def fix(tx: Tx) -> None:
        await set_fields_many(
            tx,
            "fanout_jobs",
            {"status": "pending", "due_ms": {"$exists": False}},
            {"due_ms": 0, "attempts": 0},
        )

    await mongo.transact(fix)


# -- deliveries: in-app items and emails -----------------------------------------------------

EMAIL_WORKING = "sending"


def scheduled_queue(
    mongo: Mongo,
    collection: str,
    *,
    lease_s: float,
    schedule_s: list[float],
    working_status: str,
    query: Mapping[str, Any] | None = None,
    owner: str | None = None,
) -> WorkQueue:
    """Work items retried on a schedule of waits: after the n-th failed attempt, wait
    `schedule_s[n-1]`; the attempt after the last wait is the last one."""
    return WorkQueue(
        mongo,
        collection,
        lease_s=lease_s,
        backoff_s=schedule_s,
        max_attempts=len(schedule_s) + 1,
        working_status=working_status,
        query=query,
        owner=owner,
    )


def email_queue(mongo: Mongo, lease_s: float, retry_delays_s: list[float]) -> WorkQueue:
    """Email deliveries as work items: claimed before sending (two replicas never send the
    same one), retried on `retry_delays_s`, failed once it is exhausted."""
    return scheduled_queue(
        mongo, "email_deliveries", lease_s=lease_s, schedule_s=retry_delays_s, working_status=EMAIL_WORKING
    )


async def add_inbox_item(tx: Tx, item: Doc) -> None:
    await insert_if_absent(tx, "inbox_items", {**item, "read": False, "created_at": utcnow()})


async def add_email_delivery(tx: Tx, delivery: Doc) -> None:
    now = utcnow()
    fields = {k: v for k, v in delivery.items() if k != "_id"}
    await insert_if_absent(
        tx, "email_deliveries", WorkQueue.new_item(delivery["_id"], ms(now), **fields, created_at=now)
    )


async def pending_emails(mongo: Mongo) -> int:
    """Asked every fan-out tick (each second). A `$count` stage and `$eq`, not count_documents:
    nx-27017 runs this in SQL through the (status, due_ms) index, where count_documents' `$group`
    on a constant key fell back to Python over every delivery and logged a warning each time."""
    cursor = await mongo.db.email_deliveries.aggregate(
        [{"$match": {"status": {"$eq": "pending"}}}, {"$count": "n"}]
    )
    rows = await cursor.to_list()
    return int(rows[0]["n"]) if rows else 0  # MongoDB returns no row when none match


# -- inbox -----------------------------------------------------------------------------------


async def list_for_user(
    mongo: Mongo, user_id: str, limit: int = 50, unread_only: bool = False, before: datetime | None = None
) -> list[Doc]:
    query: Doc = {"user_id": user_id}
    if unread_only:
        query["read"] = False
    if before is not None:
        query["created_at"] = {"$lt": before}
    return await mongo.db.inbox_items.find(query).sort([("created_at", -1)]).limit(limit).to_list()


async def unread_count(mongo: Mongo, user_id: str) -> int:
    return await mongo.db.inbox_items.count_documents({"user_id": user_id, "read": False})


async def mark_read(tx: Tx, item_id: str, user_id: str) -> bool:
    """False when the item does not exist or is someone else's."""
    return await set_fields(tx, "inbox_items", {"_id": item_id, "user_id": user_id}, {"read": True})


async def mark_all_read(tx: Tx, user_id: str) -> None:
    await set_fields_many(tx, "inbox_items", {"user_id": user_id, "read": False}, {"read": True})
