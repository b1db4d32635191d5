"""JWT verification against a real JWKS endpoint."""

from __future__ import annotations

import base64
import json
import time

import pytest

from servicekit.auth import JwksVerifier
from servicekit.errors import ApiError
from servicekit.signing import SigningKey, access_claims
from servicekit.testing.plugin import TestEnv, TokenIssuer


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
