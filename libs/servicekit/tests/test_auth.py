"""JWT verification against a real JWKS endpoint."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter

from servicekit.app import create_service_app
from servicekit.auth import (
    AdminDep,
    CallerDep,
    JwksVerifier,
    OptionalCallerDep,
    OptionalPrincipalDep,
    PrincipalDep,
)
from servicekit.errors import ApiError
from servicekit.settings import ServiceSettings
from servicekit.signing import SigningKey, access_claims
from servicekit.testing.plugin import TestEnv, TokenIssuer
from servicekit.testing.server import serve


@pytest.fixture
def verifier(env: TestEnv) -> JwksVerifier:
    return JwksVerifier(env.jwks_url, "civicfund-gateway", "civicfund")


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


async def test_valid_token_gives_the_principal(verifier: JwksVerifier, token_issuer: TokenIssuer) -> None:
    token = token_issuer.token("u-1", roles=["citizen"], municipalities={"montreuil": "manager"})
    principal = await verifier.verify(token)
    assert principal.sub == "u-1"
    assert principal.is_official_of("montreuil", "manager")
    assert not principal.is_official_of("lyon")
    assert not principal.is_admin


@pytest.mark.parametrize(
    "make_token, reason",
    [
        (lambda i: i.token("u", ttl_s=-60), "expired"),
        (
            lambda i: SigningKey(SigningKey.generate().private_key, kid=i.key.kid).sign(
                access_claims("u", issuer=i.issuer, audience=i.audience, ttl_s=60)
            ),
            "signature",
        ),
        (
            lambda i: SigningKey.generate().sign(
                access_claims("u", issuer=i.issuer, audience=i.audience, ttl_s=60)
            ),
            "unknown key",
        ),
        (lambda i: i.token("u", aud="someone-else"), "audience"),
        (lambda i: i.token("u", iss="evil"), "issuer"),
    ],
    ids=["expired", "wrong-key-same-kid", "unknown-kid", "wrong-audience", "wrong-issuer"],
)
async def test_bad_tokens_are_rejected(
    verifier: JwksVerifier, token_issuer: TokenIssuer, make_token, reason
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as err:
        await verifier.verify(make_token(token_issuer))
    assert err.value.status == 401
    assert err.value.code == "invalid_token"


async def test_tampered_token_is_rejected(verifier: JwksVerifier, token_issuer: TokenIssuer) -> None:
    header, payload, signature = token_issuer.token("u-1").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    with pytest.raises(ApiError):
        await verifier.verify(f"{header}.{_b64(claims)}.{signature}")


async def test_alg_none_is_rejected(verifier: JwksVerifier, token_issuer: TokenIssuer) -> None:
    claims = access_claims("u-1", issuer="civicfund-gateway", audience="civicfund", ttl_s=60, roles=["admin"])
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': token_issuer.key.kid})}.{_b64(claims)}."
    with pytest.raises(ApiError):
        await verifier.verify(unsigned)
    hs = f"{_b64({'alg': 'HS256', 'kid': token_issuer.key.kid})}.{_b64(claims)}.c2ln"
    with pytest.raises(ApiError):
        await verifier.verify(hs)


async def test_rotated_key_is_fetched_on_unknown_kid(
    verifier: JwksVerifier, token_issuer: TokenIssuer
) -> None:
    await verifier.verify(token_issuer.token("u-1"))  # caches the current JWKS
    new_key = SigningKey.generate()
    token_issuer.extra_keys.append(new_key)
    try:
        verifier._fetched_at = time.monotonic() - 60  # the refresh throttle has passed
        token = new_key.sign(access_claims("u-2", issuer="civicfund-gateway", audience="civicfund", ttl_s=60))
        assert (await verifier.verify(token)).sub == "u-2"
    finally:
        token_issuer.extra_keys.remove(new_key)


# -- client tokens: refused by default, admitted only where a route opts in ------------------

_kit = APIRouter()


@_kit.get("/person")
async def _person(principal: PrincipalDep) -> dict[str, str]:
    return {"sub": principal.sub}


@_kit.get("/maybe-person")
async def _maybe_person(principal: OptionalPrincipalDep) -> dict[str, str | None]:
    return {"sub": principal.sub if principal else None}


@_kit.get("/admin")
async def _admin(principal: AdminDep) -> dict[str, str]:
    return {"sub": principal.sub}


@_kit.get("/cities/{slug}/feed")
async def _city_feed(slug: str, caller: CallerDep) -> dict[str, str]:
    if not (caller.is_client_of(slug) or caller.is_official_of(slug, "manager")):
        raise ApiError(403, "forbidden", "not this city's")
    return {"sub": caller.sub, "kind": caller.kind}


@_kit.get("/cities/{slug}/public")
async def _city_public(slug: str, caller: OptionalCallerDep) -> dict[str, bool]:
    return {"own_system": caller is not None and caller.is_client_of(slug)}


async def test_client_tokens_open_only_the_routes_that_opt_in(
    env: TestEnv, test_contracts: Path, token_issuer: TokenIssuer
) -> None:
    settings = env.settings(ServiceSettings, "kitauth", contracts_dir=str(test_contracts))
    app = create_service_app(settings, title="kit", routers=[_kit])
    client_token = {
        "Authorization": "Bearer "
        + env.issuer.token("cli_1", roles=[], municipalities={"montreuil": "system"}, kind="client")
    }
    # A client token that also claims the admin role is still a machine, not an admin.
    forged_admin = {
        "Authorization": "Bearer "
        + env.issuer.token("cli_2", roles=["admin"], municipalities={"montreuil": "system"}, kind="client")
    }
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
        for path in ("/person", "/maybe-person", "/admin"):
            for headers in (client_token, forged_admin):
                refused = await http.get(path, headers=headers)
                assert refused.status_code == 403, path
                assert refused.json()["error"]["code"] == "forbidden"
                assert refused.json()["error"]["request_id"] == refused.headers["x-request-id"]
        assert (await http.get("/maybe-person")).json() == {"sub": None}
        assert (await http.get("/person", headers=env.issuer.headers("u-1"))).json() == {"sub": "u-1"}

        own = await http.get("/cities/montreuil/feed", headers=client_token)
        assert own.status_code == 200 and own.json() == {"sub": "cli_1", "kind": "client"}
        assert (await http.get("/cities/bagnolet/feed", headers=client_token)).status_code == 403
        assert (await http.get("/cities/montreuil/feed")).status_code == 401
        # The client's `system` entry is not an official's role, whatever a route asks.
        manager = env.issuer.headers("u-2", municipalities={"montreuil": "manager"})
        assert (await http.get("/cities/montreuil/feed", headers=manager)).json()["kind"] == "user"
        assert (await http.get("/cities/montreuil/public", headers=client_token)).json() == {
            "own_system": True
        }
        assert (await http.get("/cities/bagnolet/public", headers=client_token)).json() == {
            "own_system": False
        }


async def test_a_client_is_never_an_official_or_an_admin(
    verifier: JwksVerifier, token_issuer: TokenIssuer
) -> None:
    principal = await verifier.verify(
        token_issuer.token("cli_1", roles=["admin"], municipalities={"montreuil": "system"}, kind="client")
    )
    assert principal.is_client and principal.is_client_of("montreuil")
    assert not principal.is_client_of("bagnolet")
    assert not principal.is_admin
    assert not principal.is_official_of("montreuil")
    person = await verifier.verify(token_issuer.token("u-1", municipalities={"montreuil": "system"}))
    assert not person.is_client_of("montreuil")
