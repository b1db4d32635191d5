"""Who may act for a city: the officials collection is the authority (a removed official
loses access at once, whatever an older token says)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pymongo.asynchronous.database import AsyncDatabase

from servicekit.app import ServiceContext
from servicekit.auth import Principal
from servicekit.errors import ApiError
from servicekit.mongo import utcnow

from . import store
from .domain_officials import role_allows


def ctx_of(request: Request) -> ServiceContext:
    return request.app.state.ctx


def db_of(request: Request) -> AsyncDatabase:
    mongo = ctx_of(request).mongo
    assert mongo is not None
    return mongo.db


async def require_official(
    db: AsyncDatabase, principal: Principal, slug: str, action: str, allow_admin: bool = False
) -> str:
    """The caller's role in `slug` if it allows `action`; 403 otherwise."""
    if allow_admin and principal.is_admin:
        return "admin"
    role = await store.official_role(db, slug, principal.sub)
    if not role_allows(role, action):
        who = f"a {role} of {slug}" if role else f"not an official of {slug}"
        raise ApiError(403, "forbidden", f"you are {who}; this needs {action.replace('_', ' ')} rights")
    return role  # type: ignore[return-value]


async def require_active(db: AsyncDatabase, muni: dict[str, Any], session: Any = None) -> None:
    if not await store.city_active(db, muni, utcnow(), session=session):
        raise ApiError(
            402,
            "subscription_inactive",
            f"{muni['name']} has no active subscription or trial: labels, calls and match funds are paused",
        )
