"""Use cases: preferences per category and channel, and unsubscribe links (no login: the
signed token says who and what)."""

from __future__ import annotations

from dataclasses import dataclass

from servicekit.errors import DomainError
from servicekit.mongo import Mongo, Tx

from . import store
from .domain import (
    CATEGORIES,
    CATEGORY_LABELS,
    Preferences,
    effective_preferences,
    locale_of,
    merge_preferences,
    unsubscribe_all,
)
from .tokens import BadToken, verify_unsubscribe


@dataclass(frozen=True)
class CategoryView:
    email: bool
    inapp: bool
    locked: bool
    label: str


@dataclass(frozen=True)
class UnsubscribeLink:
    user_id: str
    category: str  # a category, or "all"
    locale: str

    @property
    def label(self) -> str:
        """The category's name in the user's language ("" for "all")."""
        return CATEGORY_LABELS.get(self.category, {}).get(self.locale, "")


async def _locale(mongo: Mongo, user_id: str) -> str:
    return locale_of((await store.find_user(mongo, user_id) or {}).get("locale"))


async def effective(mongo: Mongo, user_id: str) -> dict[str, CategoryView]:
    """Every category with what the user gets on each channel, labelled in their language."""
    locale = await _locale(mongo, user_id)
    eff = effective_preferences(await store.get_preferences(mongo, user_id))
    return {name: CategoryView(**values, label=CATEGORY_LABELS[name][locale]) for name, values in eff.items()}


async def change(mongo: Mongo, user_id: str, changes: Preferences) -> dict[str, CategoryView]:
    """Partial: only the categories and channels given change."""
    unknown = [c for c in changes if c not in CATEGORIES]
    if unknown:
        raise DomainError(
            "unknown_category",
            422,
            f"unknown categories: {', '.join(sorted(unknown))}",
            details=[{"known": sorted(CATEGORIES)}],
        )

    async def save(tx: Tx) -> None:
        current = await store.get_preferences(tx, user_id)
        try:
            merged = merge_preferences(current, changes)
        except ValueError as exc:
            raise DomainError("locked_category", 422, str(exc)) from exc
        await store.save_preferences(tx, user_id, merged)

    await mongo.transact(save)
    return await effective(mongo, user_id)


async def read_unsubscribe_link(mongo: Mongo, secret: str, token: str) -> UnsubscribeLink:
    """Who and what a link unsubscribes (400 `invalid_token` for a forged or altered one)."""
    try:
        user_id, category = verify_unsubscribe(secret, token)
    except BadToken as exc:
        raise DomainError("invalid_token", 400, "this unsubscribe link is not valid") from exc
    if category != "all" and (category not in CATEGORIES or CATEGORIES[category].locked):
        raise DomainError("invalid_token", 400, "this unsubscribe link is not valid")
    return UnsubscribeLink(user_id, category, await _locale(mongo, user_id))


async def unsubscribe(mongo: Mongo, secret: str, token: str) -> UnsubscribeLink:
    """Turns the link's category (or every optional email) off."""
    link = await read_unsubscribe_link(mongo, secret, token)

    async def save(tx: Tx) -> None:
        current = await store.get_preferences(tx, link.user_id)
        merged = (
            unsubscribe_all(current)
            if link.category == "all"
            else merge_preferences(current, {link.category: {"email": False}})
        )
        await store.save_preferences(tx, link.user_id, merged)

    await mongo.transact(save)
    return link
