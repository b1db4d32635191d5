"""The proxied requests' fast path (fastpath.py) does what the middleware stack does for the
gateway's own routes: request ids, shared rate-limit counters, security headers, metrics, error
bodies. Cross-origin requests still take the stack (CORS)."""

from __future__ import annotations

import re

from servicekit.testing.procs import free_port


def _security_headers_present(headers) -> bool:
    return (
        headers["x-content-type-options"] == "nosniff"
        and headers["x-frame-options"] == "DENY"
        and "frame-ancestors 'none'" in headers["content-security-policy"]
    )


async def test_proxied_and_own_routes_share_the_ip_window_and_429_is_the_platform_error(
    make_gateway,
) -> None:
    async with make_gateway(rate_limit_ip="3/minute") as gw, gw.client() as client:
        first = await client.get("/api/v1/campaigns/things/1")
        own = await client.get("/api/v1/auth/me")  # the gateway's own route: the middleware stack
        second = await client.get("/api/v1/campaigns/things/2")
        over = await client.get("/api/v1/campaigns/things/3", headers={"X-Request-ID": "req-fast-429"})
        own_over = await client.get("/api/v1/auth/me")
    assert [first.status_code, own.status_code, second.status_code] == [200, 401, 200]
    assert over.status_code == 429 and own_over.status_code == 429
    assert over.json()["error"] == {
        "code": "rate_limited",
        "message": "too many requests, slow down",
        "request_id": "req-fast-429",
    }
    assert 1 <= int(over.headers["retry-after"]) <= 60
    assert over.headers["x-request-id"] == "req-fast-429"
    assert _security_headers_present(over.headers)


async def test_per_user_limit_counts_the_token_holder_on_proxied_routes(make_gateway, signup) -> None:
    async with make_gateway(rate_limit_user="2/minute") as gw, gw.client() as client:
        token = (await signup(gw=gw))["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        codes = [
            (await client.get("/api/v1/campaigns/things/1", headers=bearer)).status_code for _ in range(3)
        ]
        anonymous = await client.get("/api/v1/campaigns/things/1")
    # The sign-up's own requests carry no token: the user's bucket starts with the proxied ones.
    assert codes == [200, 200, 429]
    assert anonymous.status_code == 200


async def test_request_id_made_sent_upstream_and_counted(gateway, upstream) -> None:
    async with gateway.client() as client:
        before = await client.get("/metrics")
        r = await client.get("/api/v1/campaigns/things/fast-1")
        after = await client.get("/metrics")
    request_id = r.headers["x-request-id"]
    assert r.status_code == 200 and re.fullmatch(r"[0-9a-f]{32}", request_id)
    seen = next(e for e in reversed(upstream.received) if e["path"] == "/things/fast-1")
    assert seen["headers"]["x-request-id"] == request_id
    # The trace id is the request id, so logs and traces line up.
    assert seen["headers"]["traceparent"].split("-")[1] == request_id
    assert _security_headers_present(r.headers)

    def count(text: str) -> float:
        line = next(
            (
                line
                for line in text.splitlines()
                if line.startswith("http_requests_total{")
                and 'service="gateway"' in line
                and 'method="GET"' in line
                and 'route="unmatched"' in line
                and 'status="200"' in line
            ),
            None,
        )
        return float(line.rsplit(" ", 1)[1]) if line else 0.0

    assert count(after.text) >= count(before.text) + 1


async def test_upstream_down_answer_carries_request_id_and_edge_headers(make_gateway) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with make_gateway(upstream_payments=dead) as gw, gw.client() as client:
        r = await client.get("/api/v1/payments/anything", headers={"X-Request-ID": "req-fast-503"})
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "unavailable" and r.json()["error"]["request_id"] == "req-fast-503"
    assert r.headers["x-request-id"] == "req-fast-503" and _security_headers_present(r.headers)


async def test_cross_origin_and_unsized_bodies_still_take_the_middleware_stack(make_gateway) -> None:
    async with (
        make_gateway(cors_origins=["https://app.civicfund.test"], max_body_bytes=1000) as gw,
        gw.client() as client,
    ):
        allowed = await client.get(
            "/api/v1/campaigns/things/1", headers={"Origin": "https://app.civicfund.test"}
        )

        async def chunks():
            for _ in range(5):
                yield b"y" * 300

        unsized = await client.post("/api/v1/campaigns/echo", content=chunks())
        declared = await client.post("/api/v1/campaigns/echo", content=b"x" * 1001)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.civicfund.test"
    assert unsized.status_code == 413 and declared.status_code == 413
