"""Notifications' repository: the in-app inbox (walking skeleton)."""

from __future__ import annotations

from typing import Any

from servicekit.mongo import Index, Mongo, Tx, utcnow

INDEXES = [Index("inbox_items", [("user_id", 1), ("created_at", -1)])]
COLLECTIONS = ["inbox_items"]


async def add_inbox_item(
    tx: Tx, item_id: str, user_id: str, kind: str, title: str, data: dict[str, Any]
) -> None:
    await tx.db.inbox_items.insert_one(
        {
            "_id": item_id,
            "user_id": user_id,
            "kind": kind,
            "title": title,
            "data": data,
            "read": 0,
            "created_at": utcnow(),
        },
        session=tx.session,
    )


async def list_for_user(mongo: Mongo, user_id: str, limit: int = 50) -> list[dict[str, Any]]:
    return (
        await mongo.db.inbox_items.find({"user_id": user_id})
        .sort([("created_at", -1)])
        .limit(limit)
        .to_list()
    )
