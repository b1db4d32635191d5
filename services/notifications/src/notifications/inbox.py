"""Use cases: the caller's in-app inbox (list, unread count, mark read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from servicekit.errors import DomainError
from servicekit.logging import get_logger
from servicekit.mongo import Mongo, Tx

from . import store
from .domain import locale_of
from .links import message_context
from .rendering import render

log = get_logger(__name__)
MAX_ITEM_ID = 600  # longer than any `<event id>|<user>|<channel>`: refuse without a query


@dataclass(frozen=True)
class Entry:
    id: str
    kind: str
    title: str
    data: dict[str, Any]
    link: str | None
    read: bool
    created_at: datetime


@dataclass(frozen=True)
class Page:
    items: list[Entry]
    unread: int


async def reader_locale(mongo: Mongo, user_id: str) -> str:
    return locale_of((await store.find_user(mongo, user_id) or {}).get("locale"))


def _entry(base_url: str, doc: dict[str, Any], locale: str) -> Entry:
    # Titles are rendered when read, in the reader's current language.
    context = message_context(base_url, doc, None)
    try:
        title = render(doc["kind"], locale, context).title
    except Exception:  # a template bug must not take the whole inbox down
        log.exception("inbox_title_render_failed", item_id=doc["_id"])
        title = doc["kind"]
    return Entry(
        id=doc["_id"],
        kind=doc["kind"],
        title=title,
        data=dict(doc["context"].get("d", {})),
        link=context["action_url"],
        read=bool(doc["read"]),
        created_at=doc["created_at"],
    )


async def page(
    mongo: Mongo, base_url: str, user_id: str, limit: int, unread_only: bool, before: datetime | None
) -> Page:
    locale = await reader_locale(mongo, user_id)
    docs = await store.list_for_user(mongo, user_id, limit, unread_only, before)
    return Page(
        items=[_entry(base_url, d, locale) for d in docs], unread=await store.unread_count(mongo, user_id)
    )


async def unread(mongo: Mongo, user_id: str) -> int:
    return await store.unread_count(mongo, user_id)


async def mark_read(mongo: Mongo, user_id: str, item_id: str) -> int:
    """Returns the new unread count; 404 for an item that is not the caller's."""
    if len(item_id) > MAX_ITEM_ID:
        raise DomainError("not_found", 404, "no such inbox item")

    async def mark(tx: Tx) -> bool:
        return await store.mark_read(tx, item_id, user_id)

    if not await mongo.transact(mark):
        raise DomainError("not_found", 404, "no such inbox item")
    return await store.unread_count(mongo, user_id)


async def mark_all_read(mongo: Mongo, user_id: str) -> int:
    async def mark(tx: Tx) -> None:
        await store.mark_all_read(tx, user_id)

    await mongo.transact(mark)
    return await store.unread_count(mongo, user_id)
