"""Ed25519 signing keys: load/generate, sign access tokens, publish as JWKS.

The gateway is the only issuer in production; tests use the same class to mint tokens for
services under test, so token format lives in one place.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class SigningKey:
    def __init__(self, private_key: Ed25519PrivateKey, kid: str | None = None) -> None:
        self.private_key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_raw = raw
        self.kid = kid or hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes, kid: str | None = None) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("signing keys must be Ed25519")
        return cls(key, kid)

    def to_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def public_jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(self.public_raw),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})


def load_or_create_key(path: Path) -> SigningKey:
    """A key file on disk (mode 600), created on first use; its kid derives from the public key."""
    if path.exists():
        return SigningKey.from_pem(path.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = SigningKey.generate()
    path.write_bytes(key.to_pem())
    path.chmod(0o600)
    return key


def access_claims(
    sub: str,
    *,
    issuer: str,
    audience: str,
    ttl_s: int,
    roles: list[str] | None = None,
    municipalities: dict[str, str] | None = None,
    kind: str = "user",
    now: float | None = None,
) -> dict[str, Any]:
    issued = int(now if now is not None else time.time())
    return {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_s,
        "jti": uuid.uuid4().hex,
        "kind": kind,
        "roles": roles if roles is not None else ["citizen"],
        "municipalities": municipalities or {},
    }


def jwks(keys: list[SigningKey]) -> dict[str, list[dict[str, str]]]:
    return {"keys": [k.public_jwk() for k in keys]}
