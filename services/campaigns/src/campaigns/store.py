"""Campaigns' repository over its own database.

Every change to a document is read-modify-replace inside `Mongo.transact`, guarded by the
document's `rev`: a whole-document replace keeps types exactly on both MongoDB and nx-27017
(whose top-level `$set` turns datetimes and booleans into strings and integers), and the guard
turns a lost race between replicas into a retry instead of a lost update.

Anything the database compares or sorts by time is an integer of epoch milliseconds (`*_ms`):
nx-27017 compares datetimes at whole-second precision.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo.errors import OperationFailure

from servicekit.mongo import Index, Mongo, Tx
from servicekit.mongo import epoch_ms as ms

from . import domain, funding, metrics

T = TypeVar("T")

INDEXES = [
    Index("campaigns", [("owner_id", 1), ("listed_ms", -1)]),
    Index("campaigns", [("status", 1), ("listed_ms", -1)]),
    Index("campaigns", [("status", 1), ("deadline_ms", 1)]),
    Index("campaigns", [("status", 1), ("totals.funded", -1)]),
    Index("campaigns", [("lat", 1), ("lon", 1)]),
    Index("idempotency", [("created_at", 1)], expire_after_seconds=7 * 24 * 3600),
    Index("needs", [("campaign_id", 1), ("created_ms", 1)]),
    Index("offers", [("need_id", 1), ("created_ms", 1)]),
    Index("updates", [("campaign_id", 1), ("created_ms", -1)]),
    Index("meetups", [("campaign_id", 1), ("starts_ms", 1)]),
    Index("rsvps", [("meetup_id", 1), ("seq", 1)]),
    Index("follows", [("campaign_id", 1)]),
    Index("follows", [("user_id", 1)]),
    Index("pledges", [("campaign_id", 1)]),
    Index("payments", [("campaign_id", 1)]),
    Index("refunds", [("campaign_id", 1)]),
    Index("commitments", [("campaign_id", 1)]),
    Index("backers", [("campaign_id", 1)]),
    Index("labels", [("campaign_id", 1)]),
]
# Created by `ensure_text_index`, not with INDEXES: nx-27017 fails ("constraint failed") to
# re-create an existing text index once the collection holds documents, which would stop a restart.
TEXT_INDEX = [("title", "text"), ("summary", "text"), ("description", "text")]
COLLECTIONS = sorted({i.collection for i in INDEXES} | {"campaigns", "leases"})

NO_DEADLINE_MS = 253_402_300_799_000  # 9999-12-31: drafts sort after every real deadline


class Conflict(Exception):
    """Another writer changed the document between our read and our write: run again."""


def listing_keys(doc: dict[str, Any]) -> dict[str, Any]:
    """Derived fields the list endpoint sorts and filters on, kept in the document."""
    totals = doc.get("totals") or {}
    progress = domain.progress_bp(totals, doc["goal"])
    return {
        "listed_ms": ms(doc.get("published_at") or doc["created_at"]),
        "deadline_ms": ms(doc["deadline"]) if doc.get("deadline") else NO_DEADLINE_MS,
        "closeness": progress if progress < 10_000 else -1,
    }


def empty_totals() -> dict[str, int]:
    return {**funding.totals([], [], [], []), "funded": 0, "progress_bp": 0}


async def save(tx: Tx, collection: str, doc: dict[str, Any]) -> dict[str, Any]:
    """Replace `doc` if nobody changed it since it was read (same `rev`); returns the new doc."""
    rev = int(doc.get("rev", 0))
    new = {**doc, "rev": rev + 1}
    if collection == "campaigns":
        new.update(listing_keys(new))
    result = await tx.db[collection].replace_one({"_id": doc["_id"], "rev": rev}, new, session=tx.session)
    if result.matched_count != 1:
        raise Conflict(f"{collection} {doc['_id']} changed concurrently")
    return new


async def insert(tx: Tx, collection: str, doc: dict[str, Any]) -> dict[str, Any]:
    new = {**doc, "rev": 0}
    if collection == "campaigns":
        new.update(listing_keys(new))
    await tx.db[collection].insert_one(new, session=tx.session)
    return new


def emit_snapshot(tx: Tx, event_type: str, campaign: dict[str, Any]) -> None:
    tx.emit(event_type, campaign["_id"], domain.snapshot(campaign))


async def apply_change(
    tx: Tx,
    kind: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    refunds_before: list[dict[str, Any]] | None = None,
    refunds_after: list[dict[str, Any]] | None = None,
) -> None:
    """One funding record changed from `before` to `after`: move the campaign's totals (and
    its backer count) by the difference of the record's contribution; emit goal_reached once."""
    old = funding.contribution(kind, before, refunds_before or [])
    new = funding.contribution(kind, after, refunds_after or [])
    change = funding.delta(old, new)
    share_change = funding.backer_share(new) - funding.backer_share(old)
    if not any(change.values()):
        return
    cid = after["campaign_id"]
    campaign = await tx.db.campaigns.find_one({"_id": cid}, session=tx.session)
    if campaign is None:
        raise LookupError(f"campaign {cid} vanished")
    totals = {**empty_totals(), **(campaign.get("totals") or {})}
    for key, value in change.items():
        totals[key] += value
    if share_change and kind in ("pledge", "payment"):
        totals["backers_count"] += await _move_backer(tx, cid, after["backer_id"], share_change)
    totals["funded"] = totals["raised"] + totals["pledged"] + totals["matched"]
    totals["progress_bp"] = domain.progress_bp(totals, campaign["goal"])
    changed = {**campaign, "totals": totals}
    if domain.goal_just_reached(changed):
        changed["goal_reached_at"] = tx_now(tx)
        changed["version"] = campaign["version"] + 1
        changed = await save(tx, "campaigns", changed)
        emit_snapshot(tx, "campaign.goal_reached", changed)
        # Counted when staged: a rolled-back transaction may over-count, a metric can live with it.
        metrics.GOALS_REACHED.inc()
        return
    await save(tx, "campaigns", changed)


async def _move_backer(tx: Tx, campaign_id: str, backer_id: str, amount: int) -> int:
    """Add to what one backer gives the campaign; returns the change in the backer count."""
    key = f"{campaign_id}|{backer_id}"
    backer = await tx.db.backers.find_one({"_id": key}, session=tx.session)
    before = int(backer["amount"]) if backer else 0
    after = before + amount
    if backer is None:
        await insert(
            tx, "backers", {"_id": key, "campaign_id": campaign_id, "backer_id": backer_id, "amount": after}
        )
    else:
        await save(tx, "backers", {**backer, "amount": after})
    return int(after > 0) - int(before > 0)


async def recompute_totals(tx: Tx, campaign_id: str) -> dict[str, int]:
    """The totals derived from scratch from every record (checks and repairs; see funding.py)."""

    async def all_of(name: str) -> list[dict[str, Any]]:
        return await tx.db[name].find({"campaign_id": campaign_id}, session=tx.session).to_list()

    return funding.totals(
        await all_of("pledges"),
        await all_of("payments"),
        await all_of("refunds"),
        await all_of("commitments"),
    )


def tx_now(_tx: Tx) -> datetime:
    return datetime.now(UTC)


# -- cursors -----------------------------------------------------------------------------------


def encode_cursor(value: Any, doc_id: str) -> str:
    raw = json.dumps([value, doc_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, str]:
    """Raises ValueError on anything that is not a cursor this service made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, doc_id = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise ValueError("malformed cursor") from exc
    if not isinstance(doc_id, str) or isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("malformed cursor")
    return value, doc_id


def after_cursor(key: str, direction: int, value: Any, doc_id: str) -> dict[str, Any]:
    op = "$lt" if direction < 0 else "$gt"
    return {"$or": [{key: {op: value}}, {key: value, "_id": {op: doc_id}}]}


def sort_value(doc: dict[str, Any], key: str) -> Any:
    value: Any = doc
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class CampaignStore:
    def __init__(self, mongo: Mongo) -> None:
        self.mongo = mongo
        self.db = mongo.db

    async def run(self, fn: Callable[[Tx], Awaitable[T]], attempts: int = 4) -> T:
        """`transact`, run again when a guarded replace lost a race."""
        for attempt in range(attempts):
            try:
                return await self.mongo.transact(fn)
            except Conflict:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    async def ensure_text_index(self) -> None:
        try:
            await self.db.campaigns.create_index(TEXT_INDEX, name="campaign_text")
        except OperationFailure:
            # nx-27017 refuses to re-create it (and does not list text indexes): it exists if a
            # text search runs; otherwise this raises and the service does not start.
            await self.db.campaigns.find_one({"$text": {"$search": "probe"}})

    async def get(self, campaign_id: str) -> dict[str, Any] | None:
        return await self.db.campaigns.find_one({"_id": campaign_id})

    async def labels(self, campaign_id: str) -> list[dict[str, Any]]:
        return await self.db.labels.find({"campaign_id": campaign_id, "status": "granted"}).to_list()

    async def commitments(self, campaign_id: str) -> list[dict[str, Any]]:
        return await self.db.commitments.find({"campaign_id": campaign_id}).to_list()

    async def find_page(
        self, query: dict[str, Any], sort: list[tuple[str, int]], limit: int
    ) -> list[dict[str, Any]]:
        return await self.db.campaigns.find(query).sort(sort).limit(limit).to_list()
