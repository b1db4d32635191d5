"""Verify the gateway's Ed25519 JWTs (EdDSA) against its JWKS; FastAPI dependencies.

Services never trust a bare user-id header: every request carries the bearer token and each
service checks signature, issuer, audience and expiry itself.

Claims: `sub` (user id, or client id for a city system), `kind` (`user` | `client`),
`roles` (`citizen`, `admin`), `municipalities` ({slug: `reviewer` | `manager` | `system`}).

A city system's client token (`kind: client`, `municipalities: {slug: system}`) opens nothing by
default: `PrincipalDep`, `OptionalPrincipalDep` and `AdminDep` refuse it with 403, so a route
written for people can never be reached by a machine by accident. The few city-system routes
opt in with `CallerDep` / `OptionalCallerDep` and check `Principal.is_client_of(slug)` against
the city they serve.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, Field

from .errors import ApiError
from .logging import get_logger

log = get_logger(__name__)

_REFRESH_MIN_INTERVAL_S = 5.0


class Principal(BaseModel):
    sub: str
    kind: str = "user"
    roles: list[str] = Field(default_factory=list)
    municipalities: dict[str, str] = Field(default_factory=dict)
    token_id: str | None = None
    # The gateway's `email_verified` claim: voting, proposing and larger pledges need it.
    email_verified: bool = False

    @property
    def is_user(self) -> bool:
        return self.kind == "user"

    @property
    def is_client(self) -> bool:
        return self.kind == "client"

    @property
    def is_admin(self) -> bool:
        return self.is_user and "admin" in self.roles

    def municipal_role(self, slug: str) -> str | None:
        return self.municipalities.get(slug)

    def is_official_of(self, slug: str, *roles: str) -> bool:
        """A person's municipal role; a client's `system` entry is never an official's role."""
        role = self.municipalities.get(slug)
        return self.is_user and role is not None and (not roles or role in roles)

    def is_client_of(self, slug: str) -> bool:
        """A city system's client token for `slug`."""
        return self.is_client and self.municipalities.get(slug) == "system"


class JwksVerifier:
    """Caches the gateway's JWKS; refetches when a token names an unknown `kid` (key rotation)."""

    def __init__(self, jwks_url: str, issuer: str, audience: str) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._client = httpx.AsyncClient(timeout=3.0)

    async def close(self) -> None:
        await self._client.aclose()

    def set_jwks(self, jwks: dict[str, Any]) -> None:
        keys = {}
        for jwk in jwks.get("keys", []):
            if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and "kid" in jwk:
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="EdDSA")
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _refresh(self, force: bool) -> None:
        async with self._lock:
            if not force and self._keys:
                return
            if force and time.monotonic() - self._fetched_at < _REFRESH_MIN_INTERVAL_S and self._keys:
                return
            try:
                response = await self._client.get(self.jwks_url)
                response.raise_for_status()
                self.set_jwks(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("jwks_fetch_failed", url=self.jwks_url, error=str(exc))

    async def key_for(self, kid: str) -> Any:
        if kid not in self._keys:
            await self._refresh(force=bool(self._keys))
        if kid not in self._keys:
            await self._refresh(force=True)
        return self._keys.get(kid)

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _invalid("malformed token") from exc
        if header.get("alg") != "EdDSA":
            raise _invalid("token algorithm must be EdDSA")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise _invalid("token has no key id")
        key = await self.key_for(kid)
        if key is None:
            raise _invalid("token signed by an unknown key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["EdDSA"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError as exc:
            raise _invalid("token expired") from exc
        except jwt.PyJWTError as exc:
            raise _invalid(f"token rejected: {exc}") from exc
        municipalities = claims.get("municipalities") or {}
        if not isinstance(municipalities, dict):
            raise _invalid("malformed municipalities claim")
        return Principal(
            sub=str(claims["sub"]),
            kind=str(claims.get("kind", "user")),
            roles=[str(r) for r in claims.get("roles", [])],
            municipalities={str(k): str(v) for k, v in municipalities.items()},
            token_id=claims.get("jti"),
            email_verified=claims.get("email_verified") is True,
        )


def _invalid(message: str) -> ApiError:
    return ApiError(
        401, "invalid_token", message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def client_refused() -> ApiError:
    return ApiError(
        403, "forbidden", "a city system's client token opens only the city-system routes of its city"
    )


async def optional_caller(request: Request) -> Principal | None:
    """Whoever sent a valid token, person or city system (a bad token is still refused)."""
    token = _bearer(request)
    if token is None:
        return None
    verifier: JwksVerifier = request.app.state.ctx.verifier
    return await verifier.verify(token)


async def current_caller(principal: Principal | None = Depends(optional_caller)) -> Principal:
    if principal is None:
        raise ApiError(
            401, "unauthenticated", "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    return principal


async def optional_principal(principal: Principal | None = Depends(optional_caller)) -> Principal | None:
    if principal is not None and not principal.is_user:
        raise client_refused()
    return principal


async def current_principal(principal: Principal = Depends(current_caller)) -> Principal:
    if not principal.is_user:
        raise client_refused()
    return principal


def require_admin(principal: Principal = Depends(current_principal)) -> Principal:
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "admin role required")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
"""The caller, a person, authenticated (401 without a valid bearer token, 403 for a client token)."""
OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]
"""The caller if a token was sent (a bad token is still refused, a client token gets 403), else None."""
CallerDep = Annotated[Principal, Depends(current_caller)]
"""A person or a city system (401 without a token): for city-system routes only, which must
check `is_client_of(slug)` for a client."""
OptionalCallerDep = Annotated[Principal | None, Depends(optional_caller)]
"""A person, a city system or nobody: for public city-system reads that show a city's own
systems more (the route checks `is_client_of(slug)`)."""
AdminDep = Annotated[Principal, Depends(require_admin)]
"""The caller, who must be an admin (403 otherwise)."""
