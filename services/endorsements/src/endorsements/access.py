"""Who may act for a city: the officials collection is the authority (a removed official
loses access at once, whatever an older token says).

Routes naming the city in their path authorise with the dependencies below; routes naming an
object (a label, a proposal) authorise in their use case, once the object says which city."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends

from servicekit.auth import CallerDep, Principal
from servicekit.errors import DomainError
from servicekit.mongo import utcnow

from . import store
from .deps import MongoDep, PrincipalDep
from .fields import Slug
from .officials.domain import role_allows


async def require_official(
    src: store.Source, principal: Principal, slug: str, action: str, allow_admin: bool = False
) -> str:
    """The caller's role in `slug` if it allows `action`; 403 otherwise."""
    if allow_admin and principal.is_admin:
        return "admin"
    role = await store.official_role(src, slug, principal.sub)
    if not role_allows(role, action):
        who = f"a {role} of {slug}" if role else f"not an official of {slug}"
        raise DomainError("forbidden", 403, f"you are {who}; this needs {action.replace('_', ' ')} rights")
    return role  # type: ignore[return-value]


async def require_active(src: store.Source, muni: dict[str, Any]) -> None:
    if not await store.city_active(src, muni, utcnow()):
        raise DomainError(
            "subscription_inactive",
            402,
            f"{muni['name']} has no active subscription or trial: labels, calls and match funds are paused",
        )


@dataclass(frozen=True)
class CityOfficial:
    """An official (or admin, where allowed) acting for the city in the route's path."""

    principal: Principal
    slug: str
    role: str
    municipality: dict[str, Any] | None  # None when the route does not load the city first


def official_of(
    action: str, allow_admin: bool = False, load_city: bool = True
) -> Callable[..., Awaitable[CityOfficial]]:
    """A dependency: 404 for an unknown city (when `load_city`), then 403 unless the caller's
    role there allows `action`."""

    async def dependency(slug: Slug, principal: PrincipalDep, mongo: MongoDep) -> CityOfficial:
        muni = await store.municipality(mongo.db, slug) if load_city else None
        role = await require_official(mongo.db, principal, slug, action, allow_admin)
        return CityOfficial(principal, slug, role, muni)

    return dependency


def official_or_system_of(action: str, load_city: bool = True) -> Callable[..., Awaitable[CityOfficial]]:
    """A dependency for the city-system routes: the city's own systems (client token of
    `slug`, role `system`) or an official whose role allows `action`; 403 for anyone else,
    another city's systems included (404 first for an unknown city, when `load_city`)."""

    async def dependency(slug: Slug, caller: CallerDep, mongo: MongoDep) -> CityOfficial:
        muni = await store.municipality(mongo.db, slug) if load_city else None
        if caller.is_client:
            if not caller.is_client_of(slug):
                raise DomainError("forbidden", 403, f"this client token is not {slug}'s")
            return CityOfficial(caller, slug, "system", muni)
        return CityOfficial(caller, slug, await require_official(mongo.db, caller, slug, action), muni)

    return dependency


def may_read_city(principal: Principal | None, slug: str) -> None:
    """A client token reads only its own city's objects (a person goes on to the usual checks)."""
    if principal is not None and principal.is_client and not principal.is_client_of(slug):
        raise DomainError("forbidden", 403, f"this client token is not {slug}'s")


Reviewer = Annotated[CityOfficial, Depends(official_of("label"))]
"""A reviewer or manager of the city."""
Manager = Annotated[CityOfficial, Depends(official_of("commit_funds"))]
"""A manager of the city (money)."""
ReviewerOrSystem = Annotated[CityOfficial, Depends(official_or_system_of("label"))]
"""A reviewer or manager of the city, or the city's own system (client token)."""
ManagerOrSystem = Annotated[CityOfficial, Depends(official_or_system_of("commit_funds", load_city=False))]
"""A manager of the city, or the city's own system (client token)."""
CallRunner = Annotated[CityOfficial, Depends(official_of("run_calls"))]
"""A manager of the city (calls for projects)."""
OfficialsManager = Annotated[CityOfficial, Depends(official_of("manage_officials", allow_admin=True))]
"""A manager of the city, or an admin."""
OfficialsReader = Annotated[CityOfficial, Depends(official_of("label", allow_admin=True))]
"""Any official of the city, or an admin."""
CityEditor = Annotated[
    CityOfficial, Depends(official_of("manage_officials", allow_admin=True, load_city=False))
]
"""A manager of the city, or an admin (the use case loads the city in its transaction)."""
