"""Typed dependencies for the routes: `mongo: MongoDep`, never a lookup by string key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from servicekit.auth import Principal, current_principal
from servicekit.mongo import Mongo

from .settings import Settings


def get_mongo(request: Request) -> Mongo:
    mongo = request.app.state.ctx.mongo
    assert mongo is not None, "notifications always runs with its database"
    return mongo


def get_settings(request: Request) -> Settings:
    return request.app.state.ctx.settings


MongoDep = Annotated[Mongo, Depends(get_mongo)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
