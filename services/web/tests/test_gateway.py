"""The site's door to the API over real HTTP: a small server stands in for the gateway (it
echoes what reached it), so what the site sends is checked on the wire. Typed client calls and
calls by path share one pooled connection; each caller's token, request id and address
headers stay its own; a refusal is `ApiFailure` with the platform error body's fields; a
platform that does not answer is 503."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from servicekit.testing.procs import free_port
from web.gateway import ApiFailure, Gateway, RoutedClient


async def echo(request: Request) -> Response:
    if request.url.path.endswith("/cmp_refused"):
        body = {"error": {"code": "validation_error", "message": "bad goal", "request_id": "req-x",
                          "details": [{"loc": ["body", "goal"], "msg": "must be positive"}]}}  # fmt: skip
        return JSONResponse(body, status_code=422)
    if request.method == "DELETE":
        return Response(status_code=204)
    return JSONResponse(
        {
            "path": request.scope["raw_path"].decode(),
            "query": sorted(request.query_params.multi_items()),
            "headers": {k: v for k, v in request.headers.items() if k.startswith(("x-", "authorization"))},
        }
    )


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    app = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST", "DELETE"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the stand-in gateway did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


async def test_typed_calls_carry_each_callers_headers_on_one_connection(upstream: str) -> None:
    gateway = Gateway(upstream, 5.0, proxy_secret="s3cret")
    try:
        amina = gateway.client("tok-amina", request_id="req-1", client_ip="203.0.113.9")
        lucas = gateway.client("tok-lucas", request_id="req-2")
        # The stand-in answers what it received, not a campaign: read the answers untyped.
        echoed_amina, echoed_lucas = await asyncio.gather(
            amina.campaigns_get_campaign("cmp 1/2"), lucas.campaigns_list_campaigns(mine=True, limit=5)
        )
        echoed_amina, echoed_lucas = cast(Any, echoed_amina), cast(Any, echoed_lucas)
        assert echoed_amina["path"] == "/api/v1/campaigns/campaigns/cmp%201%2F2"
        assert echoed_amina["headers"] == {
            "authorization": "Bearer tok-amina",
            "x-request-id": "req-1",
            "x-site-secret": "s3cret",
            "x-client-ip": "203.0.113.9",
        }
        # No address given: no proxy headers (only the site, with the secret, speaks for a visitor).
        assert echoed_lucas["headers"] == {"authorization": "Bearer tok-lucas", "x-request-id": "req-2"}
        assert echoed_lucas["query"] == [["limit", "5"], ["mine", "true"]]
        assert amina._client is lucas._client is gateway.http
    finally:
        await gateway.close()


async def test_calls_by_path_share_the_transport(upstream: str) -> None:
    gateway = Gateway(upstream, 5.0)
    try:
        echoed = await gateway.call(
            "GET", "/api/v1/campaigns/campaigns", params={"q": "", "city": None, "limit": 3},
            headers={"Idempotency-Key": "k-1"}, request_id="req-3", client_ip="203.0.113.9",
        )  # fmt: skip
        assert echoed["query"] == [["limit", "3"]]  # empty and missing values are not sent
        # Without a proxy secret the site does not claim to speak for the visitor's address.
        assert echoed["headers"] == {"x-request-id": "req-3"}
        assert await gateway.call("DELETE", "/api/v1/campaigns/campaigns/c1/follow", token="t") is None
    finally:
        await gateway.close()


async def test_a_refusal_is_an_api_failure_with_the_error_body(upstream: str) -> None:
    gateway = Gateway(upstream, 5.0)
    try:
        with pytest.raises(ApiFailure) as typed:
            await gateway.client("t").campaigns_get_campaign("cmp_refused")
        with pytest.raises(ApiFailure) as by_path:
            await gateway.call("GET", "/api/v1/campaigns/campaigns/cmp_refused")
        for failure in (typed.value, by_path.value):
            assert (failure.status, failure.code, failure.message) == (422, "validation_error", "bad goal")
            assert failure.request_id == "req-x"
            assert failure.field_errors() == {"goal": "must be positive"}
    finally:
        await gateway.close()


async def test_a_routed_client_sends_through_the_given_function(upstream: str) -> None:
    gateway = Gateway(upstream, 5.0)
    sent: list[tuple[str, str]] = []

    async def send(method: str, url: str, **kwargs: Any) -> httpx.Response:
        sent.append((method, url))
        return await gateway.send(method, url, token="tok-routed", **kwargs)

    try:
        echoed: Any = await RoutedClient(send, gateway.http).notifications_my_inbox(limit=2)
        assert sent == [("GET", "/api/v1/notifications/me")]
        assert echoed["headers"] == {"authorization": "Bearer tok-routed"}
        assert echoed["query"] == [["limit", "2"]]
    finally:
        await gateway.close()


async def test_a_platform_that_does_not_answer_is_503() -> None:
    gateway = Gateway(f"http://127.0.0.1:{free_port()}", 2.0)
    try:
        with pytest.raises(ApiFailure) as down:
            await gateway.client().endorsements_list_municipalities()
        assert (down.value.status, down.value.code) == (503, "unavailable")
    finally:
        await gateway.close()
