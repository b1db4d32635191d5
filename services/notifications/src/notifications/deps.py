"""Typed dependencies for the routes (`mongo: MongoDep`), resolved from the service's
components by type, never looked up by string key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from servicekit.app import component
from servicekit.auth import PrincipalDep
from servicekit.mongo import Mongo

from .settings import Settings

MongoDep = Annotated[Mongo, Depends(component(Mongo))]
SettingsDep = Annotated[Settings, Depends(component(Settings))]

__all__ = ["MongoDep", "PrincipalDep", "SettingsDep"]
