"""The app factory over real HTTP: health, readiness under a broker outage, request ids,
metrics by route template, the platform error body."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from servicekit.app import create_service_app
from servicekit.auth import Principal, current_principal
from servicekit.errors import ApiError
from servicekit.settings import ServiceSettings
from servicekit.testing.helpers import eventually
from servicekit.testing.plugin import TestEnv
from servicekit.testing.proxy import CuttableProxy
from servicekit.testing.server import serve

router = APIRouter()


class ThingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=10)


@router.post("/things/{thing_id}")
async def put_thing(thing_id: str, body: ThingIn, principal: Principal = Depends(current_principal)) -> dict:
    if thing_id == "taken":
        raise ApiError(409, "thing_taken", "that thing exists already")
    return {"id": thing_id, "owner": principal.sub, "name": body.name}


def _app(env: TestEnv, test_contracts: Path, **overrides: object):  # type: ignore[no-untyped-def]
    settings = env.settings(ServiceSettings, "kitapp", contracts_dir=str(test_contracts), **overrides)
    return create_service_app(settings, title="kit", routers=[router])


async def test_readyz_follows_the_broker(env: TestEnv, test_contracts: Path) -> None:
    proxy = await CuttableProxy("127.0.0.1", 5672).start()
    vhost_path = env.amqp_url.split("5672", 1)[1]
    try:
        app = _app(env, test_contracts, amqp_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}{vhost_path}")
        async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/livez")).json() == {"status": "ok"}
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["checks"] == {
                "mongo": True,
                "broker": True,
                "consumers": True,
            }
            proxy.cut()

            async def unready() -> bool:
                response = await client.get("/readyz")
                return response.status_code == 503 and response.json()["checks"]["broker"] is False

            await eventually(unready)
            assert (await client.get("/livez")).status_code == 200  # alive, just not ready
            proxy.restore()
            await eventually(lambda: _status(client, "/readyz", 200), timeout=20)
    finally:
        await proxy.stop()


async def _status(client: httpx.AsyncClient, path: str, expected: int) -> bool:
    return (await client.get(path)).status_code == expected


async def test_request_id_errors_and_metrics(env: TestEnv, test_contracts: Path) -> None:
    app = _app(env, test_contracts)
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        auth = env.issuer.headers("u-1")
        ok = await client.post(
            "/things/t1", json={"name": "bench"}, headers={**auth, "X-Request-ID": "abc-123"}
        )
        assert ok.status_code == 200 and ok.json()["owner"] == "u-1"
        assert ok.headers["x-request-id"] == "abc-123"
        assert len((await client.get("/livez")).headers["x-request-id"]) == 32  # created when absent

        unknown_field = await client.post("/things/t1", json={"name": "x", "admin": True}, headers=auth)
        assert unknown_field.status_code == 422
        body = unknown_field.json()["error"]
        assert body["code"] == "validation_error" and body["details"][0]["loc"] == ["body", "admin"]
        assert body["request_id"] == unknown_field.headers["x-request-id"]

        conflict = await client.post("/things/taken", json={"name": "x"}, headers=auth)
        assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "thing_taken"
        assert (await client.post("/things/t1", json={"name": "x"})).json()["error"][
            "code"
        ] == "unauthenticated"
        bad = await client.post(
            "/things/t1", json={"name": "x"}, headers={"Authorization": "Bearer nonsense"}
        )
        assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_token"
        assert (await client.get("/nothing-here")).json()["error"]["code"] == "not_found"

        metrics = (await client.get("/metrics")).text
        assert 'route="/things/{thing_id}",service="kitapp",status="409"' in metrics
        assert "/things/taken" not in metrics  # labelled by template, not by raw path
        assert 'outbox_backlog{service="kitapp"}' in metrics
