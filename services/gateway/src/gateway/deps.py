"""The gateway's typed dependencies: routes take these instead of looking objects up by name."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends

from servicekit.app import component
from servicekit.auth import Principal, PrincipalDep
from servicekit.errors import DomainError

from .accounts import Accounts
from .clients import CityClients
from .settings import Settings

AccountsDep = Annotated[Accounts, Depends(component(Accounts))]
CityClientsDep = Annotated[CityClients, Depends(component(CityClients))]
SettingsDep = Annotated[Settings, Depends(component(Settings))]
UpstreamClientDep = Annotated[httpx.AsyncClient, Depends(component(httpx.AsyncClient))]
"""The pooled HTTP client to the services (pages.py; the proxy uses its transport directly)."""


def user_principal(principal: PrincipalDep) -> Principal:
    if principal.kind != "user":
        raise DomainError("forbidden", 403, "only people have accounts")
    return principal


UserDep = Annotated[Principal, Depends(user_principal)]
"""A signed-in person (not a city system's client token)."""
