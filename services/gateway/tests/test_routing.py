"""Routing and edge protection on the in-process gateway, in front of a real stand-in upstream
(see conftest.py): headers, bodies, outages, limits, the merged API document, the page."""

from __future__ import annotations

import hashlib
import json
import time

import httpx

from servicekit.testing.procs import free_port


async def test_request_id_traceparent_bearer_and_hop_by_hop(gateway, upstream) -> None:
    async with gateway.client() as client:
        r = await client.post(
            "/api/v1/campaigns/echo?x=1",
            content=b'{"a": 1}',
            headers={
                "X-Request-ID": "req-routing-1",
                "Authorization": "Bearer abc",
                "Connection": "keep-alive, X-Secret-Hop",
                "Proxy-Authorization": "Basic c2VjcmV0",
                "Content-Type": "application/json",
            },
        )
    assert r.status_code == 200 and r.headers["x-request-id"] == "req-routing-1"
    seen = next(e for e in reversed(upstream.received) if e["headers"].get("x-request-id") == "req-routing-1")
    assert seen["path"] == "/echo" and seen["query"] == "x=1"
    assert seen["headers"]["authorization"] == "Bearer abc"
    assert "proxy-authorization" not in seen["headers"]
    assert seen["headers"]["traceparent"].startswith("00-")
    assert seen["headers"]["x-forwarded-for"]
    # Hop-by-hop headers of the upstream's answer stay on that hop.
    assert r.headers.get("x-upstream") == "yes" and "keep-alive" not in r.headers.get("connection", "")


async def test_stripe_webhook_body_reaches_payments_byte_identical(gateway, upstream) -> None:
    # Odd spacing, key order and non-ASCII: any re-serialisation would change the bytes.
    body = '{"id":"evt_1",  "type":"payment_intent.succeeded","data":{"object":{"b":2,"a":"é"}}}\n'.encode()
    signature = "t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"
    async with gateway.client() as client:
        r = await client.post(
            "/webhooks/stripe",
            content=body,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json; charset=utf-8"},
        )
    assert r.status_code == 200 and r.json()["sha256"] == hashlib.sha256(body).hexdigest()
    seen = next(e for e in reversed(upstream.received) if e["path"] == "/webhooks/stripe")
    assert seen["body"] == body
    assert seen["headers"]["stripe-signature"] == signature
    assert seen["headers"]["content-type"] == "application/json; charset=utf-8"


async def test_down_upstream_gives_fast_503_and_slow_one_504(make_gateway) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with make_gateway(upstream_payments=dead, upstream_timeout_s=0.5) as gw, gw.client() as client:
        start = time.monotonic()
        down = await client.get("/api/v1/payments/anything")
        assert down.status_code == 503 and down.json()["error"]["code"] == "unavailable"
        posted = await client.post("/api/v1/payments/anything", json={})
        assert posted.status_code == 503
        slow = await client.get("/api/v1/campaigns/slow")
        assert slow.status_code == 504 and slow.json()["error"]["code"] == "upstream_timeout"
        assert time.monotonic() - start < 5  # bounded by the timeouts, not by the upstream's 5 s


async def test_body_limit_security_headers_and_cors(make_gateway) -> None:
    async with (
        make_gateway(max_body_bytes=1000, cors_origins=["https://app.civicfund.test"]) as gw,
        gw.client() as client,
    ):
        big = await client.post("/api/v1/campaigns/echo", content=b"x" * 1001)
        assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"

        async def chunks():  # no Content-Length: the limit still holds
            for _ in range(5):
                yield b"y" * 300

        chunked = await client.post("/api/v1/campaigns/echo", content=chunks())
        assert chunked.status_code == 413
        ok = await client.post("/api/v1/campaigns/echo", content=b"x" * 1000)
        assert ok.status_code == 200

        assert ok.headers["x-content-type-options"] == "nosniff"
        assert ok.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in ok.headers["content-security-policy"]

        allowed = await client.options(
            "/api/v1/campaigns/things/1",
            headers={"Origin": "https://app.civicfund.test", "Access-Control-Request-Method": "GET"},
        )
        assert allowed.headers["access-control-allow-origin"] == "https://app.civicfund.test"
        other = await client.get("/api/v1/campaigns/things/1", headers={"Origin": "https://evil.test"})
        assert "access-control-allow-origin" not in other.headers


async def test_rate_limits_answer_429_with_retry_after(make_gateway, new_email) -> None:
    async with (
        make_gateway(rate_limit_sensitive="3/minute", rate_limit_user="5/minute") as gw,
        gw.client() as client,
    ):
        codes = []
        for _ in range(4):
            r = await client.post(
                "/api/v1/auth/login", json={"email": new_email("x"), "password": "whatever pw"}
            )
            codes.append(r.status_code)
        assert codes == [401, 401, 401, 429]
        assert int(r.headers["retry-after"]) >= 1 and r.json()["error"]["code"] == "rate_limited"
        # Other routes still answer from this IP: the strict bucket is per route.
        assert (await client.get("/api/v1/campaigns/things/1")).status_code == 200


async def test_rate_limits_shared_through_redis(make_gateway) -> None:
    # Two gateway replicas on one Redis (127.0.0.1:6379 here) share the counters.
    async with (
        make_gateway(redis_url="redis://127.0.0.1:6379/0", rate_limit_ip="4/minute") as a,
        make_gateway(redis_url="redis://127.0.0.1:6379/0", rate_limit_ip="4/minute") as b,
    ):
        codes = []
        async with a.client() as ca, b.client() as cb:
            for i in range(6):
                codes.append((await (ca if i % 2 else cb).get("/api/v1/campaigns/things/1")).status_code)
        assert codes[:4] == [200] * 4 and codes[4:] == [429, 429]


async def test_merged_openapi(gateway) -> None:
    async with gateway.client() as client:
        doc = (await client.get("/openapi.json")).json()
        docs_page = await client.get("/docs")
    assert docs_page.status_code == 200 and "/openapi.json" in docs_page.text
    paths = doc["paths"]
    # The stand-in serves every upstream: each appears under its public prefix.
    for service in ("campaigns", "payments", "endorsements", "notifications"):
        assert f"/api/v1/{service}/things/{{thing_id}}" in paths
    assert "/api/v1/campaigns/livez" not in paths
    assert "/api/v1/auth/login" in paths and "/oauth/token" in paths
    op = paths["/api/v1/campaigns/things/{thing_id}"]["get"]
    assert op["operationId"].startswith("campaigns_")
    ok_schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok_schema == {"$ref": "#/components/schemas/campaigns.Thing"}
    assert op["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert (
        "campaigns.Thing" in doc["components"]["schemas"]
        and "gateway.LoginIn" in doc["components"]["schemas"]
    )
    refs = {v for v in json.dumps(doc).split('"') if v.startswith("#/components/schemas/")}
    assert {r.removeprefix("#/components/schemas/") for r in refs} <= set(doc["components"]["schemas"])
    assert doc["x-unavailable-services"] == []


async def test_campaign_page_gathers_parts_and_degrades(gateway, upstream, signup) -> None:
    session = await signup()
    bearer = {"Authorization": f"Bearer {session['access_token']}"}
    async with gateway.client() as client:
        page = await client.get("/api/v1/pages/campaigns/cmp_1", headers=bearer)
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["campaign"]["id"] == "cmp_1" and body["totals"] == {"raised": 2500, "currency": "EUR"}
        assert body["labels"] == [{"municipality": "montreuil", "status": "granted"}]
        assert body["commitments"] == [{"municipality": "montreuil", "cap": 100000}]
        assert body["my_pledge"]["id"] == "plg_1" and body["unavailable"] == []

        anonymous = (await client.get("/api/v1/pages/campaigns/cmp_1")).json()
        assert anonymous["my_pledge"] is None and anonymous["unavailable"] == []

        upstream.labels_status = 500
        broken = (await client.get("/api/v1/pages/campaigns/cmp_1", headers=bearer)).json()
        assert (
            broken["labels"] is None and broken["commitments"] is None and broken["unavailable"] == ["labels"]
        )
        assert broken["campaign"]["id"] == "cmp_1" and broken["my_pledge"]["id"] == "plg_1"

        upstream.labels_status, upstream.labels_delay_s = 200, 3.0  # slower than page_part_timeout_s
        slow = (await client.get("/api/v1/pages/campaigns/cmp_1", headers=bearer)).json()
        assert slow["unavailable"] == ["labels"] and slow["campaign"]["id"] == "cmp_1"
        upstream.labels_delay_s = 0.0

        missing = await client.get("/api/v1/pages/campaigns/missing")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_unknown_service_and_errors_are_json(gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        r = await client.get("/api/v1/nosuch/thing")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await client.get("/api/v1/auth/me")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


async def test_odd_paths_are_forwarded_encoded_as_received(gateway, upstream) -> None:
    # Control and non-ASCII characters in a path segment: forwarded as sent, never a gateway 500.
    async with gateway.client() as client:
        r = await client.get("/api/v1/campaigns/things/%F2%A6%B1%92Q%C3%AE%C3%84~%C3%AF%0E%20x")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "\U000a6c52QîÄ~ï\x0e x"


async def test_upstream_cookies_reach_the_client_but_are_never_kept(gateway, upstream) -> None:
    async with gateway.client() as first:
        r = await first.get("/api/v1/campaigns/set-cookie")
        assert "upstream_session=for-one-user-only" in r.headers["set-cookie"]
    async with httpx.AsyncClient(base_url=gateway.url) as second:
        await second.post(
            "/api/v1/campaigns/echo", content=b"{}", headers={"X-Request-ID": "req-cookie-check"}
        )
    seen = next(
        e for e in reversed(upstream.received) if e["headers"].get("x-request-id") == "req-cookie-check"
    )
    assert "cookie" not in seen["headers"]


async def test_unknown_methods_get_405_with_allow_and_odd_requests_pass_intact(gateway, upstream) -> None:
    async with gateway.client() as client:
        # The gateway's own path: 405 naming its methods, not the catch-all's "no service auth".
        own = await client.put("/api/v1/auth/login", json={})
        assert own.status_code == 405 and own.headers["allow"] == "POST"
        assert own.json()["error"]["code"] == "method_not_allowed"
        assert (await client.options("/api/v1/auth/login")).headers["allow"] == "POST"
        # A service's path: every method goes on, the service answers which ones it takes.
        for method in ("OPTIONS", "TRACE", "DELETE"):
            proxied = await client.request(method, "/api/v1/campaigns/echo", content=b'{"a": 1}')
            assert proxied.status_code == 405 and proxied.headers["allow"] == "POST", method
        # The TRACE's body was not forwarded with its length, so the pooled connection it used
        # still reads the next request right.
        after = await client.post("/api/v1/campaigns/echo", content=b'{"b": 2}')
        assert after.status_code == 200
        # A header value that is not ASCII reaches the service (which judges it), not a 500.
        odd = await client.post(
            "/api/v1/campaigns/echo", content=b"{}", headers={"Idempotency-Key": "cl\xe9-1".encode("latin-1")}
        )
        assert odd.status_code == 200
    seen = next(e for e in reversed(upstream.received) if e["path"] == "/echo")
    # The transport writes header values as UTF-8: the same character, other bytes.
    assert seen["headers"]["idempotency-key"].encode("latin-1").decode() == "cl\xe9-1"


async def test_head_answers_without_a_body_and_keeps_the_connection_usable(gateway, upstream) -> None:
    # A HEAD answer announces a length but has no body: the proxy must neither wait for those
    # bytes nor send any, and the pooled connections on both sides must read the next answer right.
    async with gateway.client() as client:
        for _ in range(3):
            head = await client.head("/api/v1/campaigns/things/1")
            assert head.status_code == 405 and head.content == b""
            assert int(head.headers["content-length"]) > 0
        after = await client.get("/api/v1/campaigns/things/1")
    assert after.status_code == 200 and after.json() == {"id": "1", "name": "a thing"}
