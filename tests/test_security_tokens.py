"""Every service refuses a bad bearer token on a route for people: expired, signed with another
key, `alg=none`, for another audience or issuer, and a city system's client token. Forging them
is the point of these tests (the forging key is never the gateway's).

Two views: each API service in this process, trusting the session's test issuer (so an expired
or wrongly addressed token is refused for that reason and no other); and the running platform,
where the gateway and every service behind it refuse what the real gateway never signed."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from servicekit.signing import SigningKey, access_claims
from servicekit.testing.plugin import TestEnv
from servicekit.testing.server import serve


@dataclass(frozen=True)
class UserRoute:
    """A route only a signed-in person may use; `ok` is what a valid token gets."""

    service: str
    method: str
    path: str
    ok: int
    json: dict[str, Any] | None = None


ROUTES = [
    UserRoute("campaigns", "PUT", "/campaigns/cmp_does_not_exist/follow", 404),
    UserRoute("payments", "GET", "/me/pledges", 200),
    UserRoute("endorsements", "POST", "/labels", 404, {"campaign_id": "cmp_does_not_exist"}),
    UserRoute("notifications", "GET", "/me", 200),
]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def unsigned(claims: dict[str, Any], kid: str) -> str:
    """`alg=none`: a token anyone can write."""
    return f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64(claims)}."


def header_kid(token: str) -> str:
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]


def claims_of(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def bad_tokens(good: str, trusted: SigningKey | None) -> dict[str, tuple[str, int]]:
    """Name -> (token, expected status). With the `trusted` key (the services' issuer in this
    process) expired, other-audience, other-issuer and client tokens are signed correctly, so
    only the claim is wrong."""
    claims = claims_of(good)
    kid = header_kid(good)
    stranger = SigningKey(SigningKey.generate().private_key, kid=kid)  # same kid, another key
    payload = base64.urlsafe_b64encode(json.dumps({**claims, "exp": claims["exp"] + 3600}).encode())
    parts = good.split(".")
    out = {
        "wrong_key": (stranger.sign(claims), 401),
        "alg_none": (unsigned(claims, kid), 401),
        "tampered": (f"{parts[0]}.{payload.decode().rstrip('=')}.{parts[2]}", 401),
        "garbage": ("not-a-token", 401),
    }
    if trusted is not None:
        now = time.time()
        base = {"issuer": claims["iss"], "audience": claims["aud"], "ttl_s": 600}
        expired = access_claims(claims["sub"], **base, now=now - 3600)
        out["expired"] = (trusted.sign(expired), 401)
        out["other_audience"] = (
            trusted.sign(access_claims(claims["sub"], **{**base, "audience": "elsewhere"})),
            401,
        )
        out["other_issuer"] = (
            trusted.sign(access_claims(claims["sub"], **{**base, "issuer": "not-the-gateway"})),
            401,
        )
        client = access_claims(
            "cli_montreuil", **base, roles=[], municipalities={"montreuil": "system"}, kind="client"
        )
        out["client_token"] = (trusted.sign(client), 403)
    return out


async def _check(
    client: httpx.AsyncClient, route: UserRoute, prefix: str, good: str, trusted: SigningKey | None
) -> list[str]:
    failures = []

    async def answer(token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await client.request(route.method, prefix + route.path, json=route.json, headers=headers)

    control = await answer(good)
    if control.status_code != route.ok:
        failures.append(f"{route.service} valid token: {control.status_code} {control.text[:200]}")
    if (await answer(None)).status_code != 401:
        failures.append(f"{route.service} without a token: not 401")
    for name, (token, expected) in bad_tokens(good, trusted).items():
        got = await answer(token)
        if got.status_code != expected:
            failures.append(
                f"{route.service} {name}: {got.status_code} (expected {expected}) {got.text[:200]}"
            )
    return failures


# -- each service in this process, trusting the session's test issuer --------------------------


def _builders() -> dict[str, Callable[[TestEnv, str], Any]]:
    from campaigns.app import build as campaigns
    from campaigns.settings import Settings as CampaignsSettings
    from endorsements.app import build as endorsements
    from endorsements.settings import Settings as EndorsementsSettings
    from notifications.app import build as notifications
    from notifications.settings import Settings as NotificationsSettings
    from payments.app import build as payments
    from payments.settings import Settings as PaymentsSettings

    def ns(env: TestEnv, service: str) -> str:
        return f"{env.namespace}tok{service[:3]}."

    return {
        "campaigns": lambda env, _s: campaigns(
            env.settings(
                CampaignsSettings, "campaigns", bus_namespace=ns(env, "campaigns"), deadline_tick_s=3600
            )
        ),
        "payments": lambda env, stripe: payments(
            env.settings(
                PaymentsSettings,
                "payments",
                bus_namespace=ns(env, "payments"),
                stripe_api_base=stripe,
                stripe_secret_key="sk_test_tokens",
                stripe_local_webhook=False,
            )
        ),
        "endorsements": lambda env, _s: endorsements(
            env.settings(EndorsementsSettings, "endorsements", bus_namespace=ns(env, "endorsements"))
        ),
        "notifications": lambda env, _s: notifications(
            env.settings(NotificationsSettings, "notifications", bus_namespace=ns(env, "notifications"))
        ),
    }


@pytest.fixture(scope="module")
async def services(env: TestEnv, localstripe_url: str) -> AsyncIterator[dict[str, str]]:
    urls: dict[str, str] = {}
    async with AsyncExitStack() as stack:
        for name, build in _builders().items():
            urls[name] = await stack.enter_async_context(serve(build(env, localstripe_url)))
        yield urls


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.service)
async def test_each_service_refuses_bad_tokens(
    route: UserRoute, services: dict[str, str], env: TestEnv
) -> None:
    assert env.issuer is not None
    good = env.issuer.token(f"usr_tok_{route.service}")
    async with httpx.AsyncClient(base_url=services[route.service], timeout=15) as client:
        failures = await _check(client, route, "", good, env.issuer.key)
    assert not failures, "\n".join(failures)


# -- the running platform: what the real gateway never signed ---------------------------------


async def test_the_platform_refuses_tokens_the_gateway_never_signed(gateway_url: str, make_account) -> None:
    account = await make_account(verified=False)
    gateway = UserRoute("gateway", "GET", "/api/v1/auth/me", 200)
    failures: list[str] = []
    async with httpx.AsyncClient(base_url=gateway_url, timeout=15) as client:
        failures += await _check(client, gateway, "", account.access_token, None)
        for route in ROUTES:
            failures += await _check(client, route, f"/api/v1/{route.service}", account.access_token, None)
    assert not failures, "\n".join(failures)
