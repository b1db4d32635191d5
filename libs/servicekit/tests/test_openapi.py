"""The document a service serves lists every error answer its routes can give, with the platform
Error body; parameters are never `null`; an unknown method on a known path is 405 with `Allow`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel, TypeAdapter, ValidationError

from servicekit.app import create_service_app
from servicekit.auth import AdminDep, OptionalPrincipalDep
from servicekit.fields import IsoDatetime
from servicekit.idempotency import OptionalIdempotencyKey
from servicekit.settings import ServiceSettings
from servicekit.testing.server import serve


class GiftIn(BaseModel):
    title: str


router = APIRouter()


@router.get("/gifts")
async def list_gifts(viewer: OptionalPrincipalDep, before: IsoDatetime | None = Query(None)) -> list[str]:
    return [] if before is None else [before.isoformat()]


@router.post("/gifts", status_code=201)
async def give(body: GiftIn, admin: AdminDep, key: OptionalIdempotencyKey = None) -> dict:
    return {}


@router.get("/gifts/{gift_id}")
async def gift(gift_id: str) -> dict:
    return {}


@router.patch("/gifts/{gift_id}", responses={400: {"description": "a ribbon that is not valid"}})
async def wrap(gift_id: str) -> dict:
    return {}


def _app() -> FastAPI:
    return create_service_app(
        ServiceSettings(), title="kit", routers=[router], use_mongo=False, use_bus=False
    )


def _op(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return doc["paths"][path][method]


def test_every_operation_lists_the_errors_its_route_can_give() -> None:
    doc = _app().openapi()
    statuses = {
        (path, method): sorted(int(s) for s in op["responses"])
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }
    assert statuses[("/gifts", "get")] == [200, 401, 403, 422]  # a token may be sent: bad, or a client's
    assert statuses[("/gifts", "post")] == [201, 400, 401, 403, 404, 409, 422]
    assert statuses[("/gifts/{gift_id}", "get")] == [200, 404, 422]
    assert statuses[("/gifts/{gift_id}", "patch")] == [200, 400, 404, 409, 422]
    for (path, method), codes in statuses.items():
        for code in (c for c in codes if c >= 400):
            body = _op(doc, path, method)["responses"][str(code)]["content"]["application/json"]
            assert body["schema"] == {"$ref": "#/components/schemas/Error"}, (path, method, code)
            assert set(body["example"]["error"]) >= {"code", "message"}
    # The route's own words stay; FastAPI's {"detail": ...} validation body is gone.
    assert (
        _op(doc, "/gifts/{gift_id}", "patch")["responses"]["400"]["description"]
        == "a ribbon that is not valid"
    )
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]
    # Stable operation ids: the route's name (the gateway prefixes the service).
    assert _op(doc, "/gifts", "post")["operationId"] == "give"


def test_parameters_are_never_null() -> None:
    doc = _app().openapi()
    params = {p["name"]: p for p in _op(doc, "/gifts", "post")["parameters"]}
    key = params["Idempotency-Key"]
    assert key["required"] is False
    assert (
        key["schema"]["type"] == "string" and key["schema"]["minLength"] == 8 and "anyOf" not in key["schema"]
    )
    before = next(p for p in _op(doc, "/gifts", "get")["parameters"] if p["name"] == "before")
    assert before["schema"]["format"] == "date-time" and "anyOf" not in before["schema"]


def test_a_date_time_is_never_a_number() -> None:
    adapter = TypeAdapter(IsoDatetime)
    assert adapter.validate_python("2026-05-01T12:00:00Z").year == 2026
    for number in ("0.5", "1700000000", 0.5, 1700000000):
        with pytest.raises(ValidationError):
            adapter.validate_python(number)


async def test_an_unknown_method_is_405_with_every_method_of_the_path() -> None:
    async with serve(_app(), ready_path="/livez") as base, httpx.AsyncClient(base_url=base) as client:
        for method in ("PUT", "DELETE", "OPTIONS", "TRACE"):
            answer = await client.request(method, "/gifts/g-1")
            assert answer.status_code == 405, method
            # Starlette would name only the first route's methods (GET).
            assert answer.headers["allow"] == "GET, PATCH"
            assert answer.json()["error"]["code"] == "method_not_allowed"
        assert (await client.put("/gifts")).headers["allow"] == "GET, POST"
        assert (await client.put("/nowhere")).status_code == 404
        refused = await client.get("/gifts", params={"before": "0.5"})
        assert refused.status_code == 422 and refused.json()["error"]["details"][0]["loc"] == [
            "query",
            "before",
        ]
        assert (await client.get("/gifts", params={"before": "2026-05-01T12:00:00Z"})).status_code == 200
