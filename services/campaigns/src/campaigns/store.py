"""Campaigns' repository over its own database: the only module that talks to MongoDB.

One write idiom: `insert` (a new document at `rev` 0), `save` (a whole-document replace guarded by
the `rev` it was read at) and `delete` (by id). A whole-document replace keeps types exactly on
both MongoDB and nx-27017 (whose top-level `$set` turns datetimes and booleans into strings and
integers), and the guard turns a lost race between replicas into a retry instead of a lost update.

Every method that is part of a use case's transaction takes its `Tx`; reads that a route makes
outside any transaction take `tx=None`.

Anything the database compares or sorts by time is an integer of epoch milliseconds (`*_ms`):
nx-27017 compares datetimes at whole-second precision.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from servicekit.errors import DomainError
from servicekit.mongo import Index, Mongo, Tx
from servicekit.mongo import epoch_ms as ms

from . import domain, domain_funding

T = TypeVar("T")
Doc = dict[str, Any]

# A sort's stored key (listing.SORTS's field) -> the name of its unique ordering key under `order`.
ORDER_KEYS = {
    "listed_ms": "newest",
    "deadline_ms": "ending_soon",
    "totals.funded": "most_funded",
    "closeness": "closest_to_goal",
}


INDEXES = [
    # The listing (campaigns_page): an equality on status (and on the city or the category for
    # the discover page's filters) then the sort's `order.*` key, so a page reads `limit` index
    # entries in order whatever the collection's size. See "Datastore notes" in the README.
    *(Index("campaigns", [("status", 1), (f"order.{o}", -1)]) for o in ORDER_KEYS.values()),
    Index("campaigns", [("status", 1), ("municipality", 1), ("order.newest", -1)]),
    Index("campaigns", [("status", 1), ("category", 1), ("order.newest", -1)]),
    Index("campaigns", [("owner_id", 1), ("order.newest", -1)]),
    # Near a point: one page per grid cell the circle's box touches (geo_cells), merged.
    Index("campaigns", [("status", 1), ("geo_cell", 1), ("order.newest", -1)]),
    Index("campaigns", [("status", 1), ("deadline_ms", 1)]),  # due_campaign_ids
    Index("needs", [("campaign_id", 1), ("created_ms", 1)]),
    Index("offers", [("need_id", 1), ("created_ms", 1)]),
    Index("updates", [("campaign_id", 1), ("created_ms", -1)]),
    Index("meetups", [("campaign_id", 1), ("starts_ms", 1)]),
    Index("rsvps", [("meetup_id", 1), ("seq", 1)]),
    Index("follows", [("campaign_id", 1)]),
    Index("follows", [("user_id", 1)]),
    # A deleted account's traces (accounts.py), and the campaigns waiting for an admin's decision.
    Index("updates", [("author_id", 1)]),
    Index("offers", [("from_user_id", 1)]),
    Index("rsvps", [("user_id", 1)]),
    Index("pledges", [("backer_id", 1)]),
    Index("payments", [("backer_id", 1)]),
    Index("backers", [("backer_id", 1)]),
    Index("campaigns", [("pending_decision", 1), ("owner_deleted_ms", 1)]),
    Index("pledges", [("campaign_id", 1)]),
    Index("payments", [("campaign_id", 1)]),
    Index("refunds", [("campaign_id", 1)]),
    Index("commitments", [("campaign_id", 1)]),
    Index("backers", [("campaign_id", 1)]),
    Index("labels", [("campaign_id", 1)]),
    # The project's record (record.py, permits.py).
    Index("permits", [("campaign_id", 1), ("declared_ms", 1)]),
    Index("support_items", [("campaign_id", 1)]),
    # Abuse reports (reports.py): the queue by state in order, and the open ones on one item.
    Index("reports", [("state", 1), ("created_ms", 1)]),
    Index("reports", [("state", 1), ("decided_ms", -1)]),
    Index("reports", [("target_id", 1), ("state", 1)]),
    # What servicekit.jobs.WorkQueue claims closings by (scheduler.py).
    Index("closings", [("status", 1), ("due_ms", 1)]),
    Index("closings", [("status", 1), ("lease_ms", 1)]),
]
CLOSINGS = "closings"
# Created by `ensure_text_index`, not with INDEXES: nx-27017 fails ("constraint failed") to
# re-create an existing text index once the collection holds documents, which would stop a restart.
TEXT_INDEX = [("title", "text"), ("summary", "text"), ("description", "text")]
COLLECTIONS = sorted({i.collection for i in INDEXES} | {"campaigns", "leases", "report_claims", "in_kind"})

NO_DEADLINE_MS = 253_402_300_799_000  # 9999-12-31: drafts sort after every real deadline
# Near a point, campaigns are looked up by grid cell (nx-27017 has no geospatial index, and a
# range on lat and one on lon cannot both use an index): 0.1 degree is about 11 km of latitude,
# so the default 5 km circle touches at most 2 x 3 cells. A bigger box than MAX_GEO_CELLS cells
# is filtered while the sort's index is walked (a wide circle holds many campaigns anyway).
GEO_CELL_DEG = 0.1
MAX_GEO_CELLS = 16


class Conflict(Exception):
    """Another writer changed the document between our read and our write: run again."""


def _session(tx: Tx | None) -> AsyncClientSession | None:
    return tx.session if tx is not None else None


def listing_keys(doc: Doc) -> Doc:
    """Derived fields the list endpoint sorts and filters on, kept in the document."""
    totals = doc.get("totals") or {}
    progress = domain.progress_bp(totals, doc["goal"])
    keys: Doc = {
        "listed_ms": ms(doc.get("published_at") or doc["created_at"]),
        "deadline_ms": ms(doc["deadline"]) if doc.get("deadline") else NO_DEADLINE_MS,
        "closeness": progress if progress < 10_000 else -1,
    }
    lat, lon = doc.get("lat"), doc.get("lon")
    keys["geo_cell"] = geo_cell(float(lat), float(lon)) if lat is not None and lon is not None else None
    values = {**doc, **keys}
    keys["order"] = {name: order_key(sort_value(values, f), doc["_id"]) for f, name in ORDER_KEYS.items()}
    return keys


def geo_cell(lat: float, lon: float) -> str:
    return f"{math.floor(lat / GEO_CELL_DEG)}:{math.floor(lon / GEO_CELL_DEG)}"


def geo_cells(box: tuple[float, float, float, float]) -> list[str] | None:
    """The cells a (min_lat, max_lat, min_lon, max_lon) box touches; None when too many."""
    min_lat, max_lat, min_lon, max_lon = box
    rows = range(math.floor(min_lat / GEO_CELL_DEG), math.floor(max_lat / GEO_CELL_DEG) + 1)
    cols = range(math.floor(min_lon / GEO_CELL_DEG), math.floor(max_lon / GEO_CELL_DEG) + 1)
    if len(rows) * len(cols) > MAX_GEO_CELLS:
        return None
    return [f"{r}:{c}" for r in rows for c in cols]


def order_key(value: Any, doc_id: str) -> str:
    """(value, id) as one string that sorts like the pair: the listing's sort and its cursor are
    then one comparison on one indexed field. A cursor's `(key < v) or (key = v and _id < id)` is an
    `$or`, which nx-27017 evaluates in Python over the whole collection, and on MongoDB an OR of
    two index scans; `order.x < "v id"` is one index range on both."""
    if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value < 10**18:
        raise ValueError(f"not a sortable listing value: {value!r}")
    return f"{value + 1:019d}{doc_id}"


# -- the write idiom ---------------------------------------------------------------------------


async def insert(tx: Tx, collection: str, doc: Doc) -> Doc:
    new = {**doc, "rev": 0}
    if collection == "campaigns":
        new.update(listing_keys(new))
    await tx.db[collection].insert_one(new, session=tx.session)
    return new


async def save(tx: Tx, collection: str, doc: Doc) -> Doc:
    """Replace `doc` if nobody changed it since it was read (same `rev`); returns the new doc."""
    rev = int(doc.get("rev", 0))
    new = {**doc, "rev": rev + 1}
    if collection == "campaigns":
        new.update(listing_keys(new))
    result = await tx.db[collection].replace_one({"_id": doc["_id"], "rev": rev}, new, session=tx.session)
    if result.matched_count != 1:
        raise Conflict(f"{collection} {doc['_id']} changed concurrently")
    return new


async def delete(tx: Tx, collection: str, doc_id: str) -> None:
    await tx.db[collection].delete_one({"_id": doc_id}, session=tx.session)


# -- funding records ---------------------------------------------------------------------------


async def recompute_totals(tx: Tx, campaign_id: str) -> dict[str, int]:
    """The totals derived from scratch from every record (checks and repairs; see domain_funding)."""

    async def all_of(name: str) -> list[Doc]:
        return await tx.db[name].find({"campaign_id": campaign_id}, session=tx.session).to_list()

    campaign = await tx.db.campaigns.find_one({"_id": campaign_id}, session=tx.session) or {}
    return domain_funding.totals(
        await all_of("pledges"),
        await all_of("payments"),
        await all_of("refunds"),
        await all_of("commitments"),
        await all_of("in_kind"),
        funding_model=str(campaign.get("funding_model") or "keep_it_all"),
    )


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


def read_cursor(cursor: str | None) -> tuple[Any, str] | None:
    """The position a client's `cursor` points after (None: from the start)."""
    if not cursor:
        return None
    try:
        return decode_cursor(cursor)
    except ValueError as exc:
        raise DomainError("invalid_cursor", 422, "cursor is not valid for this listing") from exc


def _after(key: str, direction: int, value: Any, doc_id: str) -> Doc:
    op = "$lt" if direction < 0 else "$gt"
    return {"$or": [{key: {op: value}}, {key: value, "_id": {op: doc_id}}]}


def sort_value(doc: Doc, key: str) -> Any:
    value: Any = doc
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@dataclass(frozen=True)
class CampaignQuery:
    """What the listing filters on; every field left empty filters nothing."""

    statuses: list[str] = field(default_factory=list)
    owner_id: str | None = None
    municipality: str | None = None
    category: str | None = None
    funding_model: str | None = None
    labelled_by: str | None = None
    text: str | None = None
    # (min_lat, max_lat, min_lon, max_lon)
    box: tuple[float, float, float, float] | None = None
    geo_cell: str | None = None  # one cell of the box (set by campaigns_page)

    def clauses(self) -> list[Doc]:
        """Scalar equalities are `$eq`: nx-27017 runs a bare one on a field no index is named
        after as an array-containment test no index serves, `$eq` as a comparison it looks up
        in the compound indexes (the same match on MongoDB). `labelled_by` is an array."""
        out: list[Doc] = []
        if self.owner_id is not None:
            out.append({"owner_id": {"$eq": self.owner_id}})
        else:  # hidden by moderation (reports.py): only its owner still lists it, with mine=true
            out.append({"hidden": {"$ne": True}})
        if len(self.statuses) == 1:
            out.append({"status": {"$eq": self.statuses[0]}})
        elif self.statuses:
            out.append({"status": {"$in": self.statuses}})
        for name in ("municipality", "category", "funding_model"):
            value = getattr(self, name)
            if value is not None:
                out.append({name: {"$eq": value}})
        if self.labelled_by is not None:
            out.append({"labelled_by": self.labelled_by})
        if self.geo_cell is not None:
            out.append({"geo_cell": {"$eq": self.geo_cell}})
        if self.box is not None:
            min_lat, max_lat, min_lon, max_lon = self.box
            out.append({"lat": {"$gte": min_lat, "$lte": max_lat}, "lon": {"$gte": min_lon, "$lte": max_lon}})
        return out


class CampaignStore:
    def __init__(self, db: AsyncDatabase, mongo: Mongo | None = None) -> None:
        self.db = db
        self.mongo = mongo

    @classmethod
    def of(cls, tx: Tx) -> CampaignStore:
        """The store over a transaction someone else opened (an event handler's)."""
        return cls(tx.db)

    async def run(self, fn: Callable[[Tx], Awaitable[T]], attempts: int = 4) -> T:
        """`transact`, run again when a guarded replace lost a race."""
        assert self.mongo is not None, "a store made with CampaignStore.of(tx) runs inside that tx"
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

    async def ensure_listing_keys(self) -> int:
        """Give campaigns stored before a listing key existed their keys (derived fields: a save
        recomputes them); returns how many it changed."""
        stale = await self.db.campaigns.find({"geo_cell": {"$exists": False}}, {"_id": 1}).to_list()
        for doc in stale:

            async def refresh(tx: Tx, doc_id: str = doc["_id"]) -> None:
                current = await self.campaign(doc_id, tx)
                if current is not None:
                    await save(tx, "campaigns", current)

            await self.run(refresh)
        return len(stale)

    async def by_id(self, collection: str, doc_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db[collection].find_one({"_id": doc_id}, session=_session(tx))

    # -- campaigns ---------------------------------------------------------------------------

    async def campaign(self, campaign_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.by_id("campaigns", campaign_id, tx)

    async def campaigns_page(
        self,
        query: CampaignQuery,
        sort: tuple[str, int],
        after: tuple[Any, str] | None,
        limit: int,
    ) -> list[Doc]:
        """Up to `limit` campaigns in `sort` order (ties by id), strictly after `after`.

        Several statuses (an admin's or a mine=true listing) are one indexed page per status,
        and a box near a point one page per grid cell, merged: `$in` is a scan on nx-27017."""
        key, direction = sort
        order_field = f"order.{ORDER_KEYS[key]}"
        parts: list[CampaignQuery] = []
        if len(query.statuses) > 1:
            parts = [replace(query, statuses=[status]) for status in query.statuses]
        elif query.box is not None and query.geo_cell is None:
            parts = [replace(query, geo_cell=cell) for cell in geo_cells(query.box) or []]
        if parts:
            pages = [await self.campaigns_page(part, sort, after, limit) for part in parts]
            merged = heapq.merge(*pages, key=lambda d: d["order"][ORDER_KEYS[key]], reverse=direction < 0)
            return list(itertools.islice(merged, limit))
        conditions = query.clauses()
        if after is not None:
            try:
                position = order_key(*after)
            except ValueError as exc:
                raise DomainError("invalid_cursor", 422, "cursor is not valid for this listing") from exc
            conditions.append({order_field: {"$lt" if direction < 0 else "$gt": position}})
        mongo_query: Doc = {"$text": {"$search": query.text}} if query.text else {}
        # One flat filter: nx-27017 runs a filter in SQL (and through an index) only without
        # `$and`/`$or`; a condition whose field repeats stays under `$and`.
        rest: list[Doc] = []
        for condition in conditions:
            for name, value in condition.items():
                if name.startswith("$") or name in mongo_query:
                    rest.append({name: value})
                else:
                    mongo_query[name] = value
        if rest:
            mongo_query["$and"] = rest
        cursor = self.db.campaigns.find(mongo_query).sort([(order_field, direction)])
        return await cursor.limit(limit).to_list()

    async def due_campaign_ids(self, now_ms: int, limit: int) -> list[str]:
        """Live campaigns whose deadline passed and that did not ask payments for their tally
        yet (closing.py), the most overdue first."""
        query = {
            "status": "live",
            "deadline_ms": {"$lte": now_ms},
            "closing.requested_at": {"$exists": False},
        }
        docs = (
            await self.db.campaigns.find(query, {"_id": 1}).sort([("deadline_ms", 1)]).limit(limit).to_list()
        )
        return [d["_id"] for d in docs]

    # -- labels ------------------------------------------------------------------------------

    async def granted_labels(self, campaign_id: str, tx: Tx | None = None) -> list[Doc]:
        return await self.db.labels.find(
            {"campaign_id": campaign_id, "status": "granted"}, session=_session(tx)
        ).to_list()

    # -- the project's record: permits, city support confirmed, commitments ------------------

    async def permits(self, campaign_id: str, tx: Tx | None = None) -> list[Doc]:
        cursor = self.db.permits.find({"campaign_id": campaign_id}, session=_session(tx))
        return await cursor.sort([("declared_ms", 1), ("_id", 1)]).to_list()

    async def support_items(self, campaign_id: str) -> list[Doc]:
        return await self.db.support_items.find({"campaign_id": campaign_id}).to_list()

    async def labels_of(self, campaign_id: str) -> list[Doc]:
        return await self.db.labels.find({"campaign_id": campaign_id}).to_list()

    async def commitments_of(self, campaign_id: str) -> list[Doc]:
        return await self.db.commitments.find({"campaign_id": campaign_id}).to_list()

    # -- needs and offers --------------------------------------------------------------------

    async def need(self, campaign_id: str, need_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.needs.find_one(
            {"_id": need_id, "campaign_id": campaign_id}, session=_session(tx)
        )

    async def needs(self, campaign_id: str) -> list[Doc]:
        return (
            await self.db.needs.find({"campaign_id": campaign_id})
            .sort([("created_ms", 1), ("_id", 1)])
            .to_list()
        )

    async def offer(self, need_id: str, offer_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.offers.find_one({"_id": offer_id, "need_id": need_id}, session=_session(tx))

    async def offers(
        self, campaign_id: str, need_id: str, from_user_id: str | None = None, tx: Tx | None = None
    ) -> list[Doc]:
        """A need's offers in the order they came (only one person's when `from_user_id`)."""
        query: Doc = {"need_id": need_id, "campaign_id": campaign_id, "hidden": {"$ne": True}}
        if from_user_id is not None:
            query["from_user_id"] = from_user_id
        cursor = self.db.offers.find(query, session=_session(tx))
        return await cursor.sort([("created_ms", 1), ("_id", 1)]).to_list()

    async def offers_of_need(self, tx: Tx, need_id: str) -> list[Doc]:
        return await self.db.offers.find({"need_id": need_id}, session=tx.session).to_list()

    # -- updates -----------------------------------------------------------------------------

    async def updates_page(self, campaign_id: str, after: tuple[Any, str] | None, limit: int) -> list[Doc]:
        """Newest first, strictly after the cursor position `after` (created_ms, id)."""
        conditions: list[Doc] = [{"campaign_id": campaign_id}, {"hidden": {"$ne": True}}]
        if after is not None:
            conditions.append(_after("created_ms", -1, *after))
        cursor = self.db.updates.find({"$and": conditions}).sort([("created_ms", -1), ("_id", -1)])
        return await cursor.limit(limit).to_list()

    # -- meetups and RSVPs -------------------------------------------------------------------

    async def meetup(self, campaign_id: str, meetup_id: str, tx: Tx | None = None) -> Doc | None:
        return await self.db.meetups.find_one(
            {"_id": meetup_id, "campaign_id": campaign_id}, session=_session(tx)
        )

    async def meetups(self, campaign_id: str, now_ms: int, past: bool, limit: int) -> list[Doc]:
        """Upcoming meetups soonest first, or (`past`) those already started, latest first."""
        when = {"$lt": now_ms} if past else {"$gte": now_ms}
        cursor = self.db.meetups.find({"campaign_id": campaign_id, "starts_ms": when})
        return await cursor.sort([("starts_ms", -1 if past else 1)]).limit(limit).to_list()

    async def rsvps(self, meetup_id: str, tx: Tx | None = None) -> list[Doc]:
        """In the order they were made."""
        return (
            await self.db.rsvps.find({"meetup_id": meetup_id}, session=_session(tx))
            .sort([("seq", 1)])
            .to_list()
        )

    # -- follows -----------------------------------------------------------------------------

    async def followers_count(self, tx: Tx, campaign_id: str) -> int:
        return await self.db.follows.count_documents({"campaign_id": campaign_id}, session=tx.session)

    async def followed_by(self, user_id: str, limit: int) -> list[Doc]:
        """The campaigns a person follows, most recently followed first (follows' user_id index)."""
        follows = (
            # Epoch ms: nx-27017 orders datetimes at one-second resolution.
            await self.db.follows.find({"user_id": user_id}, {"campaign_id": 1, "at_ms": 1})
            .sort([("at_ms", -1)])
            .limit(limit)
            .to_list()
        )
        ids = [f["campaign_id"] for f in follows]
        if not ids:
            return []
        found = {d["_id"]: d for d in await self.db.campaigns.find({"_id": {"$in": ids}}).to_list()}
        return [found[i] for i in ids if i in found]

    # -- a deleted account's traces (accounts.py) --------------------------------------------

    async def traces_of(self, tx: Tx, user_id: str) -> dict[str, list[Doc]]:
        """Every document that names `user_id`, by collection (each found through an index)."""
        fields = {
            "campaigns": "owner_id",
            "updates": "author_id",
            "offers": "from_user_id",
            "rsvps": "user_id",
            "follows": "user_id",
            "pledges": "backer_id",
            "payments": "backer_id",
            "backers": "backer_id",
        }
        return {
            collection: await self.db[collection].find({field: user_id}, session=tx.session).to_list()
            for collection, field in fields.items()
        }

    async def awaiting_owner_decision(self, limit: int) -> list[Doc]:
        """Campaigns whose owner deleted their account, the longest waiting first."""
        cursor = self.db.campaigns.find({"pending_decision": "owner_deleted"})
        return await cursor.sort([("owner_deleted_ms", 1), ("_id", 1)]).limit(limit).to_list()

    # -- funding records ---------------------------------------------------------------------

    async def refunds_of_payment(self, tx: Tx, payment_id: str) -> list[Doc]:
        return await self.db.refunds.find({"payment_id": payment_id}, session=tx.session).to_list()

    async def funding_records(self, tx: Tx, collection: str, campaign_id: str) -> list[Doc]:
        """Every record of one kind (pledges, commitments ...) of a campaign."""
        return await self.db[collection].find({"campaign_id": campaign_id}, session=tx.session).to_list()

    # -- abuse reports -----------------------------------------------------------------------

    async def reports_page(self, states: list[str], after: tuple[Any, str] | None, limit: int) -> list[Doc]:
        """Open reports oldest first (a queue); decided ones most recently decided first."""
        key, direction = ("created_ms", 1) if states == ["open"] else ("decided_ms", -1)
        conditions: list[Doc] = [{"state": {"$in": states}}]
        if after is not None:
            conditions.append(_after(key, direction, *after))
        cursor = self.db.reports.find({"$and": conditions}).sort([(key, direction), ("_id", direction)])
        return await cursor.limit(limit).to_list()

    async def open_reports_on(self, tx: Tx, target_id: str) -> list[Doc]:
        return await self.db.reports.find(
            {"target_id": target_id, "state": "open"}, session=tx.session
        ).to_list()
