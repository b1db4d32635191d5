"""The key ring's token check used for per-user rate limits (no I/O)."""

from __future__ import annotations

from pathlib import Path

from gateway.keys import KeyRing, TokenIssuer
from gateway.settings import Settings
from servicekit.signing import SigningKey, access_claims


def test_peek_accepts_own_tokens_only_and_forgets_expired_ones(tmp_path: Path) -> None:
    settings = Settings()
    ring = KeyRing(str(tmp_path), "current")
    token = TokenIssuer(ring, settings).user_token("usr_1", ["citizen"], {}, True)
    assert ring.peek(token, settings.jwt_issuer, settings.jwt_audience)["sub"] == "usr_1"
    assert ring.peek(token, settings.jwt_issuer, settings.jwt_audience)["sub"] == "usr_1"  # remembered
    head, payload, signature = token.split(".")
    assert (
        ring.peek(f"{head}.{payload}.{signature[:-4]}AAAA", settings.jwt_issuer, settings.jwt_audience)
        is None
    )
    stranger = SigningKey.generate().sign(
        access_claims("usr_2", issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_s=60)
    )
    assert ring.peek(stranger, settings.jwt_issuer, settings.jwt_audience) is None
    expired = ring.active.sign(
        access_claims("usr_3", issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_s=60, now=0)
    )
    assert ring.peek(expired, settings.jwt_issuer, settings.jwt_audience) is None
    ring._verified[token] = {"exp": 0, "sub": "stale"}  # a remembered entry past its expiry
    assert ring.peek(token, settings.jwt_issuer, settings.jwt_audience)["sub"] == "usr_1"  # checked again
