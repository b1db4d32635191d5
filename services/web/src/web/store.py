"""The only code of the site that touches its database: sessions. The site keeps no business
data; everything else lives in the services behind the gateway."""

from __future__ import annotations

from typing import Any

from servicekit.mongo import Index, Mongo, epoch_ms

COLLECTIONS = ["sessions"]
INDEXES = [
    # Expired sessions go away by themselves (the TTL field is a datetime; expiry in ms is checked on read).
    Index("sessions", [("expires", 1)], expire_after_seconds=0),
    Index("sessions", [("user_id", 1)]),
]


class SessionStore:
    def __init__(self, mongo: Mongo) -> None:
        self.mongo = mongo

    async def get(self, sid_hash: str) -> dict[str, Any] | None:
        doc = await self.mongo.db.sessions.find_one({"_id": sid_hash})
        if doc is None or int(doc.get("expires_ms", 0)) <= epoch_ms():
            return None
        return doc

    async def put(self, doc: dict[str, Any]) -> None:
        await self.mongo.db.sessions.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def delete(self, sid_hash: str) -> None:
        await self.mongo.db.sessions.delete_one({"_id": sid_hash})
