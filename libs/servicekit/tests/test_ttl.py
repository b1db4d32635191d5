"""TTL indexes on nx-27017: a plain index, and expired rows deleted by servicekit's own purge.

nx-27017 honours `expireAfterSeconds` with a full scan on every read of the collection; off a
replica set `Mongo` declares the index without expiry and purges in bounded batches instead.
Against the session's real nx-27017."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pymongo import AsyncMongoClient

from servicekit import mongo as mongo_module
from servicekit.mongo import Index, Mongo, utcnow
from servicekit.settings import ServiceSettings
from servicekit.testing.helpers import eventually
from servicekit.testing.plugin import TestEnv

HOUR = 3600
EXPIRING = Index("sessions", [("expires_at", 1)], expire_after_seconds=HOUR)


def _mongo(env: TestEnv) -> Mongo:
    return Mongo(env.settings(ServiceSettings, "ttl"))


async def test_a_ttl_index_on_nx_is_plain_and_the_purge_deletes_only_expired_rows(env: TestEnv) -> None:
    mongo = _mongo(env)
    await mongo.connect([EXPIRING])
    try:
        info = await mongo.db.sessions.index_information()
        mine = [i for i in info.values() if i["key"] == [("expires_at", 1)]]
        assert len(mine) == 1 and "expireAfterSeconds" not in mine[0]
        assert mongo.expiring == [EXPIRING]

        now = utcnow()
        await mongo.db.sessions.insert_many(
            [
                {"_id": "old", "expires_at": now - timedelta(seconds=HOUR + 60)},
                {"_id": "live", "expires_at": now - timedelta(seconds=HOUR - 60)},
                {"_id": "future", "expires_at": now + timedelta(days=1)},
                {"_id": "no-field"},
                {"_id": "a-number", "expires_at": 5},  # MongoDB's TTL ignores non-dates too
                {"_id": "set-old", "expires_at": now},
                {"_id": "set-live", "expires_at": now},
            ]
        )
        # A top-level `$set` datetime is stored by nx-27017 as an ISO string: it expires all the same.
        await mongo.db.sessions.update_one(
            {"_id": "set-old"}, {"$set": {"expires_at": now - timedelta(seconds=2 * HOUR)}}
        )
        await mongo.db.sessions.update_one({"_id": "set-live"}, {"$set": {"expires_at": now}})
        assert isinstance((await mongo.db.sessions.find_one({"_id": "set-old"}) or {})["expires_at"], str)

        # Reads no longer purge (nx-27017's per-read TTL scan is off): the expired row is still there.
        assert await mongo.db.sessions.find_one({"_id": "old"}) is not None

        assert await mongo.purge_expired() is False  # not a full batch: nothing more to do
        left = sorted(d["_id"] for d in await mongo.db.sessions.find({}, {"_id": 1}).to_list())
        assert left == ["a-number", "future", "live", "no-field", "set-live"]
        # Later, the row that was live expires too.
        assert await mongo.purge_expired(now=now + timedelta(seconds=120)) is False
        left = sorted(d["_id"] for d in await mongo.db.sessions.find({}, {"_id": 1}).to_list())
        assert left == ["a-number", "future", "no-field", "set-live"]
    finally:
        await mongo.close()


async def test_the_purge_works_in_bounded_batches(env: TestEnv) -> None:
    mongo = _mongo(env)
    await mongo.connect([EXPIRING])
    try:
        old = utcnow() - timedelta(seconds=2 * HOUR)
        await mongo.db.sessions.insert_many([{"_id": f"old-{i}", "expires_at": old} for i in range(7)])
        await mongo.db.sessions.insert_one({"_id": "live", "expires_at": utcnow()})
        assert await mongo.purge_expired(batch=3) is True
        assert await mongo.db.sessions.count_documents({}) == 5
        assert await mongo.purge_expired(batch=3) is True
        assert await mongo.purge_expired(batch=3) is False  # the last one, then none
        assert [d["_id"] for d in await mongo.db.sessions.find({}, {"_id": 1}).to_list()] == ["live"]
    finally:
        await mongo.close()


async def test_an_existing_ttl_index_is_replaced_then_rows_are_purged_at_start_and_periodically(
    env: TestEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A datastore made by an earlier version (a real TTL index, expired rows already there):
    at start-up the index becomes plain and what expired is deleted; then the job started by
    `connect` deletes what expires later."""
    monkeypatch.setattr(mongo_module, "TTL_PURGE_INTERVAL_S", 0.2)
    settings = env.settings(ServiceSettings, "ttl")
    raw = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    try:
        db = raw[settings.database_name]
        await db.create_collection("sessions")
        await db.sessions.create_index([("expires_at", 1)], expireAfterSeconds=HOUR)
        old = utcnow() - timedelta(seconds=2 * HOUR)
        # Nothing reads them on this client: nx-27017 would purge them itself on a read.
        await db.sessions.insert_many(
            [{"_id": "old", "expires_at": old}, {"_id": "live", "expires_at": utcnow()}]
        )
    finally:
        await raw.close()

    mongo = Mongo(settings)
    await mongo.connect([EXPIRING])
    try:
        info = await mongo.db.sessions.index_information()
        mine = [i for i in info.values() if i["key"] == [("expires_at", 1)]]
        assert len(mine) == 1 and "expireAfterSeconds" not in mine[0]
        assert await mongo.db.sessions.find_one({"_id": "old"}) is None
        assert mongo._purge_task is not None and not mongo._purge_task.done()

        await mongo.db.sessions.insert_one({"_id": "later", "expires_at": old})

        async def purged() -> bool:
            return await mongo.db.sessions.find_one({"_id": "later"}) is None

        await eventually(purged, timeout=10)
        assert await mongo.db.sessions.find_one({"_id": "live"}) is not None
    finally:
        await mongo.close()
    assert mongo._purge_task is None
