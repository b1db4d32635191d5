"""Typed dependencies, DomainError mapping and what the app factory provides, over real HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends

from servicekit.app import ContextDep, MongoDep, ServiceContext, component, create_service_app
from servicekit.auth import AdminDep, OptionalPrincipalDep, PrincipalDep
from servicekit.components import Components
from servicekit.errors import ApiError, DomainError
from servicekit.idempotency import Idempotency, IdempotencyDep
from servicekit.mongo import Index, Mongo
from servicekit.settings import ServiceSettings
from servicekit.testing.plugin import TestEnv
from servicekit.testing.server import serve


class Shelf:
    def __init__(self) -> None:
        self.books = ["dune"]

    def take(self, title: str) -> str:
        if title not in self.books:
            raise DomainError("book_not_on_shelf", 404, f"no {title} here", details={"title": title})
        return title


class KitSettings(ServiceSettings):
    shelf_name: str = "main"


ShelfDep = Annotated[Shelf, Depends(component(Shelf))]
SettingsDep = Annotated[KitSettings, Depends(component(KitSettings))]
router = APIRouter()


@router.get("/books/{title}")
async def take_book(title: str, shelf: ShelfDep, settings: SettingsDep, principal: PrincipalDep) -> dict:
    return {"title": shelf.take(title), "shelf": settings.shelf_name, "by": principal.sub}


@router.get("/whoami")
async def whoami(
    principal: OptionalPrincipalDep, ctx: ContextDep, idem: IdempotencyDep, mongo: MongoDep
) -> dict:
    assert isinstance(idem, Idempotency) and ctx.get(Mongo) is ctx.mongo is mongo
    return {"sub": principal.sub if principal else None, "service": ctx.settings.service_name}


@router.get("/admin")
async def admin_only(principal: AdminDep) -> dict:
    return {"ok": True}


@router.post("/refusals/{kind}")
async def refuse(kind: str) -> dict:
    if kind == "default":
        raise DomainError("campaign_closed")  # a domain module raising with only a code
    if kind == "api":
        raise ApiError(402, "card_declined", "the card was declined")
    raise DomainError("bad_transition", 422, "cannot publish a draft twice", details=[{"from": "live"}])


class Unprovided:
    pass


@router.get("/missing")
async def missing(thing: Annotated[Unprovided, Depends(component(Unprovided))]) -> dict:
    return {}


async def _start(ctx: ServiceContext) -> None:
    ctx.provide(Shelf())


def _app(env: TestEnv, test_contracts: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    settings = env.settings(KitSettings, "kitdeps", contracts_dir=str(test_contracts), shelf_name="left")
    return create_service_app(
        settings, title="kit", routers=[router], on_startup=[_start], use_bus=False, **kwargs
    )


async def test_typed_components_and_principals(env: TestEnv, test_contracts: Path) -> None:
    app = _app(env, test_contracts)
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        auth = env.issuer.headers("u-9")
        book = await client.get("/books/dune", headers=auth)
        assert book.json() == {"title": "dune", "shelf": "left", "by": "u-9"}
        assert (await client.get("/books/dune")).json()["error"]["code"] == "unauthenticated"
        assert (await client.get("/whoami")).json() == {"sub": None, "service": "kitdeps"}
        assert (await client.get("/whoami", headers=auth)).json()["sub"] == "u-9"
        assert (await client.get("/admin", headers=auth)).status_code == 403
        assert (await client.get("/admin", headers=env.issuer.headers(roles=["admin"]))).status_code == 200
        # A component nobody provided is a wiring bug: a 500 with the platform body, no trace.
        broken = await client.get("/missing")
        assert broken.status_code == 500 and broken.json()["error"]["code"] == "internal_error"
        ctx: ServiceContext = app.state.ctx
        assert ctx.get(ServiceSettings) is ctx.get(KitSettings) is ctx.settings
        assert ctx.get(ServiceContext) is ctx


async def test_domain_errors_map_to_the_platform_body(env: TestEnv, test_contracts: Path) -> None:
    app = _app(env, test_contracts)
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        default = await client.post("/refusals/default", headers={"X-Request-ID": "rid-1"})
        assert default.status_code == 409
        assert default.json() == {
            "error": {"code": "campaign_closed", "message": "campaign closed", "request_id": "rid-1"}
        }
        api = await client.post("/refusals/api")
        assert api.status_code == 402 and api.json()["error"]["code"] == "card_declined"
        detailed = (await client.post("/refusals/detailed")).json()["error"]
        assert detailed["code"] == "bad_transition" and detailed["details"] == [{"from": "live"}]
        missing_book = await client.get("/books/emma", headers=env.issuer.headers("u-1"))
        assert missing_book.status_code == 404
        assert missing_book.json()["error"]["details"] == {"title": "emma"}


def test_api_error_is_a_domain_error() -> None:
    err = ApiError(403, "forbidden", "no")
    assert isinstance(err, DomainError) and (err.status, err.code, err.message) == (403, "forbidden", "no")


def test_components_by_type() -> None:
    parts = Components()
    shelf = parts.provide(Shelf())
    assert parts.get(Shelf) is shelf and parts.has(Shelf)
    parts.provide("a string", as_type=Shelf)  # providing again replaces
    assert parts.get(Shelf) == "a string"
    with pytest.raises(LookupError, match="Unprovided"):
        parts.get(Unprovided)
    assert component(Shelf) is component(Shelf)  # one callable per type: FastAPI dedupes it


async def test_factory_registers_the_idempotency_index_unless_the_service_declares_one(
    env: TestEnv, test_contracts: Path
) -> None:
    app = _app(env, test_contracts)
    async with serve(app):
        # On nx-27017 a TTL index is a plain one that the service's Mongo purges (test_ttl.py).
        ttl = [i for i in app.state.ctx.mongo.expiring if i.collection == "idempotency"]
        assert [(i.keys, i.expire_after_seconds) for i in ttl] == [([("created_at", 1)], 30 * 24 * 3600)]
    own = _app(
        env, test_contracts, indexes=[Index("idempotency", [("created_at", 1)], expire_after_seconds=3600)]
    )
    async with serve(own):
        ttl = [i for i in own.state.ctx.mongo.expiring if i.collection == "idempotency"]
        assert [(i.keys, i.expire_after_seconds) for i in ttl] == [([("created_at", 1)], 3600)]
        info = await own.state.ctx.mongo.db.idempotency.index_information()
        assert len([i for i in info.values() if i.get("key") == [("created_at", 1)]]) == 1
