"""Typed dependencies of the routes: the service's components, by type (servicekit registers
them at start-up), so a route declares what it uses and nothing is looked up by string key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from servicekit.app import component
from servicekit.auth import AdminDep, OptionalPrincipalDep, PrincipalDep
from servicekit.idempotency import IdempotencyDep, IdempotencyKey, OptionalIdempotencyKey
from servicekit.mongo import Mongo

from .settings import Settings

MongoDep = Annotated[Mongo, Depends(component(Mongo))]
SettingsDep = Annotated[Settings, Depends(component(Settings))]

__all__ = [
    "AdminDep",
    "IdempotencyDep",
    "IdempotencyKey",
    "MongoDep",
    "OptionalIdempotencyKey",
    "OptionalPrincipalDep",
    "PrincipalDep",
    "SettingsDep",
]
