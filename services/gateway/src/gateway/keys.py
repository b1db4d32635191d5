"""The gateway's signing keys and the tokens it issues.

Keys are loaded from `JWT_KEYS_DIR`: every `*.pem` is published in the JWKS, the one named by
`JWT_ACTIVE_KEY` signs. Rotation without downtime: drop the new key file next to the old one
on every replica (both published), switch `JWT_ACTIVE_KEY`, and delete the old file once the
longest access-token TTL has passed. Tokens carry `kid`, so services pick the right key.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import jwt

from servicekit.signing import SigningKey, access_claims, load_or_create_key

from .settings import Settings

VERIFIED_CACHE_SIZE = 10_000


class KeyRing:
    def __init__(self, directory: str, active: str) -> None:
        self.directory = Path(directory)
        self.active_name = active
        self.active = load_or_create_key(self.directory / f"{active}.pem")
        self.published = [self.active]
        for path in sorted(self.directory.glob("*.pem")):
            if path.stem != active:
                self.published.append(SigningKey.from_pem(path.read_bytes()))
        self._public = {k.kid: k.private_key.public_key() for k in self.published}
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def action_secret(self, configured: str) -> bytes:
        """The HMAC secret for emailed links: configured, or derived from the active key."""
        if configured:
            return configured.encode()
        return hashlib.sha256(b"civicfund-action-links|" + self.active.to_pem()).digest()

    def peek(self, token: str, issuer: str, audience: str) -> dict[str, Any] | None:
        """Verified claims of a token this gateway signed, or None (used for per-user rate limits;
        services do their own full verification). A signature check costs a few hundred
        microseconds, more than the rest of proxying a request, and a client sends the same
        token many times: verified tokens are remembered until they expire."""
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None:
            if cached["exp"] > now:
                self._verified.move_to_end(token)
                return cached
            del self._verified[token]
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._public.get(kid) if isinstance(kid, str) else None
            if key is None:
                return None
            claims = jwt.decode(token, key, algorithms=["EdDSA"], audience=audience, issuer=issuer)
        except jwt.PyJWTError:
            return None
        if isinstance(claims.get("exp"), int | float):
            self._verified[token] = claims
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return claims


class TokenIssuer:
    def __init__(self, keys: KeyRing, settings: Settings) -> None:
        self.keys = keys
        self.settings = settings

    def user_token(
        self, user_id: str, roles: list[str], municipalities: dict[str, str], email_verified: bool
    ) -> str:
        claims = access_claims(
            user_id,
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            ttl_s=self.settings.access_token_ttl_s,
            roles=roles,
            municipalities=municipalities,
            kind="user",
        )
        claims["email_verified"] = email_verified
        return self.keys.active.sign(claims)

    def client_token(self, client_id: str, municipality: str) -> str:
        claims = access_claims(
            client_id,
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            ttl_s=self.settings.client_token_ttl_s,
            roles=[],
            municipalities={municipality: "system"},
            kind="client",
        )
        return self.keys.active.sign(claims)
