"""City API clients, the use cases: a city manager creates a client for their municipality's IT
system; the system gets tokens with the OAuth2 client-credentials grant, scoped to that
municipality (`kind: client`, `municipalities: {slug: system}`). Secrets are shown once, stored
hashed, and rotated with a grace period for the previous one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.mongo import Mongo, Tx, utcnow

from . import domain
from .keys import TokenIssuer
from .settings import Settings
from .store import AccountStore, as_datetime


@dataclass
class IssuedSecret:
    client: dict[str, Any]
    secret: str
    previous_valid_until: datetime | None = None


@dataclass
class ClientToken:
    access_token: str
    expires_in: int
    municipality: str


def require_manager(principal: Principal, municipality: str) -> None:
    """Only a manager of the city (or an admin) manages its API clients."""
    if principal.kind != "user" or not (
        principal.is_admin or principal.is_official_of(municipality, "manager")
    ):
        raise DomainError("forbidden", 403, f"only a manager of {municipality} manages its API clients")


def invalid_client() -> DomainError:
    return DomainError(
        "invalid_client", 401, "unknown client or wrong secret", headers={"WWW-Authenticate": "Basic"}
    )


class CityClients:
    def __init__(self, mongo: Mongo, settings: Settings, store: AccountStore, issuer: TokenIssuer) -> None:
        self.mongo = mongo
        self.settings = settings
        self.store = store
        self.issuer = issuer

    async def create(self, principal: Principal, municipality: str, name: str) -> IssuedSecret:
        require_manager(principal, municipality)
        secret = domain.new_secret("cs")
        doc = {
            "_id": f"cli_{uuid.uuid4().hex}",
            "municipality": municipality,
            "name": name,
            "status": "active",
            "secret_hash": domain.secret_hash(secret),
            "created_by": principal.sub,
            "created_at": utcnow(),
        }

        async def write(tx: Tx) -> None:
            await self.store.insert_client(tx, doc)

        await self.mongo.transact(write)
        return IssuedSecret(doc, secret)

    async def of_municipality(self, principal: Principal, municipality: str) -> list[dict[str, Any]]:
        require_manager(principal, municipality)
        return await self.store.clients_of(municipality)

    async def _owned(self, principal: Principal, client_id: str) -> dict[str, Any]:
        doc = await self.store.client(client_id)
        if doc is None:
            raise DomainError("not_found", 404, "no such API client")
        require_manager(principal, doc["municipality"])
        return doc

    async def rotate_secret(self, principal: Principal, client_id: str) -> IssuedSecret:
        """A new secret; the previous one keeps working for `client_secret_grace_s`."""
        doc = await self._owned(principal, client_id)
        if doc["status"] != "active":
            raise DomainError("client_revoked", 409, "this API client was revoked")
        secret = domain.new_secret("cs")
        now = utcnow()
        grace_until = now + timedelta(seconds=self.settings.client_secret_grace_s)
        changes = {
            "secret_hash": domain.secret_hash(secret),
            "previous_secret_hash": doc["secret_hash"],
            "previous_valid_until": grace_until,
            "secret_rotated_at": now,
        }

        async def write(tx: Tx) -> None:
            await self.store.set_client_fields(tx, client_id, changes)

        await self.mongo.transact(write)
        return IssuedSecret({**doc, **changes}, secret, grace_until)

    async def revoke(self, principal: Principal, client_id: str) -> None:
        await self._owned(principal, client_id)

        async def write(tx: Tx) -> None:
            await self.store.set_client_fields(
                tx, client_id, {"status": "revoked"}, unset=("previous_secret_hash",)
            )

        await self.mongo.transact(write)

    async def grant_token(self, client_id: str, secret: str) -> ClientToken:
        """The client-credentials grant: the current secret, or the previous one in its grace period."""
        if not client_id or not secret or len(client_id) > 200 or len(secret) > 200:
            raise invalid_client()
        doc = await self.store.client(client_id)
        if doc is None or doc["status"] != "active":
            raise invalid_client()
        valid = domain.secret_matches(secret, doc["secret_hash"])
        grace_until = doc.get("previous_valid_until")
        if not valid and grace_until is not None and as_datetime(grace_until) > utcnow():
            valid = domain.secret_matches(secret, doc.get("previous_secret_hash"))
        if not valid:
            raise invalid_client()
        return ClientToken(
            self.issuer.client_token(client_id, doc["municipality"]),
            self.settings.client_token_ttl_s,
            doc["municipality"],
        )
