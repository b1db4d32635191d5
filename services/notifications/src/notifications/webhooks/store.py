"""Webhook endpoints, deliveries and the attempt log: the only module that touches these
collections. Same idiom as ../store.py: `insert_if_absent` creates, `set_fields` changes, in a
transaction; reads take the `Mongo` or the `Tx`.

Endpoint secrets are stored as given (HMAC needs the raw secret); in production the database
must be encrypted at rest and access-controlled like any credential store.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from servicekit.jobs import WorkQueue
from servicekit.mongo import Index, Mongo, Tx, utcnow
from servicekit.mongo import epoch_ms as ms

from ..store import Doc, Source, insert_if_absent, reader, scheduled_queue, set_fields

INDEXES = [
    Index("webhook_endpoints", [("municipality", 1), ("created_at", 1)]),
    Index("webhook_deliveries", [("status", 1), ("due_ms", 1)]),
    Index("webhook_deliveries", [("status", 1), ("lease_ms", 1)]),
    Index("webhook_deliveries", [("endpoint_id", 1), ("created_at", -1)]),
    Index("webhook_attempts", [("delivery_id", 1), ("at", 1)]),
    # The attempt log is kept 90 days.
    Index("webhook_attempts", [("at", 1)], expire_after_seconds=90 * 24 * 3600, name="attempts_ttl"),
]
COLLECTIONS = ["webhook_endpoints", "webhook_deliveries", "webhook_attempts"]
LIVE = ["active", "disabled"]  # a deleted endpoint is kept for the record, never shown


# -- endpoints -------------------------------------------------------------------------------


async def insert_endpoint(tx: Tx, doc: Doc) -> None:
    await insert_if_absent(tx, "webhook_endpoints", doc)


async def find_endpoint(source: Source, endpoint_id: str) -> Doc | None:
    db, session = reader(source)
    return await db.webhook_endpoints.find_one({"_id": endpoint_id}, session=session)


async def live_endpoints(source: Source, municipality: str) -> list[Doc]:
    """A city's endpoints that are not deleted, oldest first."""
    db, session = reader(source)
    return (
        await db.webhook_endpoints.find(
            {"municipality": municipality, "status": {"$in": LIVE}}, session=session
        )
        .sort([("created_at", 1)])
        .to_list()
    )


async def update_endpoint(
    tx: Tx, endpoint_id: str, fields: Mapping[str, Any], unset: tuple[str, ...] = ()
) -> Doc | None:
    """Change an endpoint and read it back."""
    await set_fields(tx, "webhook_endpoints", {"_id": endpoint_id}, fields, unset)
    return await find_endpoint(tx, endpoint_id)


async def active_endpoint_ids(mongo: Mongo) -> list[str]:
    # Not distinct("_id"): nx-27017 fails on it.
    docs = await mongo.db.webhook_endpoints.find({"status": "active"}, {"_id": 1}).to_list()
    return [e["_id"] for e in docs]


# -- deliveries ------------------------------------------------------------------------------


async def create_delivery(
    tx: Tx,
    delivery_id: str,
    endpoint: Doc,
    event_id: str,
    event_type: str,
    body: str,
    replay_of: str | None = None,
) -> bool:
    now = utcnow()
    doc = WorkQueue.new_item(
        delivery_id,
        ms(now),
        endpoint_id=endpoint["_id"],
        municipality=endpoint["municipality"],
        event_id=event_id,
        event_type=event_type,
        body=body,
        created_at=now,
    )
    if replay_of:
        doc["replay_of"] = replay_of
    return await insert_if_absent(tx, "webhook_deliveries", doc)


async def find_delivery(tx: Tx, endpoint_id: str, delivery_id: str) -> Doc | None:
    return await tx.db.webhook_deliveries.find_one(
        {"_id": delivery_id, "endpoint_id": endpoint_id}, session=tx.session
    )


async def list_deliveries(
    mongo: Mongo, endpoint_id: str, status: str | None, before: datetime | None, limit: int
) -> list[Doc]:
    """Newest first."""
    query: Doc = {"endpoint_id": endpoint_id}
    if status:
        query["status"] = status
    if before:
        query["created_at"] = {"$lt": before}
    return await mongo.db.webhook_deliveries.find(query).sort([("created_at", -1)]).limit(limit).to_list()


async def originals_between(
    tx: Tx, endpoint_id: str, since: datetime, until: datetime | None, only_failed: bool, limit: int
) -> list[Doc]:
    """First deliveries (not replays) created in [since, until), oldest first."""
    query: Doc = {
        "endpoint_id": endpoint_id,
        "created_at": {"$gte": since, **({"$lt": until} if until else {})},
        "replay_of": {"$exists": False},
    }
    if only_failed:
        query["status"] = "failed"
    return (
        await tx.db.webhook_deliveries.find(query, session=tx.session)
        .sort([("created_at", 1)])
        .limit(limit)
        .to_list()
    )


DELIVERY_WORKING = "sending"


def delivery_queue(
    mongo: Mongo, lease_s: float, schedule_s: list[float], endpoint_ids: list[str], owner: str
) -> WorkQueue:
    """Deliveries to `endpoint_ids` (the active endpoints: a disabled one's are held) as work
    items, retried on `schedule_s`; the attempt after the last wait is the last."""
    return scheduled_queue(
        mongo,
        "webhook_deliveries",
        lease_s=lease_s,
        schedule_s=schedule_s,
        working_status=DELIVERY_WORKING,
        query={"endpoint_id": {"$in": endpoint_ids}},
        owner=owner,
    )


async def set_delivery(
    tx: Tx, delivery_id: str, fields: Mapping[str, Any], only_if: str | None = None
) -> bool:
    """Change a delivery (`only_if`: only while it has that status)."""
    match: Doc = {"_id": delivery_id}
    if only_if:
        match["status"] = only_if
    return await set_fields(tx, "webhook_deliveries", match, fields)


# -- attempt log -----------------------------------------------------------------------------


async def add_attempt(tx: Tx, doc: Doc) -> None:
    """One row per attempt, `_id` = `<delivery id>|<attempt number>`."""
    await insert_if_absent(tx, "webhook_attempts", {"_id": f"{doc['delivery_id']}|{doc['attempt']}", **doc})


async def attempts_of(mongo: Mongo, delivery_ids: list[str]) -> list[Doc]:
    """Oldest first."""
    return (
        await mongo.db.webhook_attempts.find({"delivery_id": {"$in": delivery_ids}})
        .sort([("at", 1)])
        .to_list()
    )
