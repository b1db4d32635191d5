"""City API clients: a city manager creates a client for their municipality's IT system; the
system gets tokens with the OAuth2 client-credentials grant at `/oauth/token`, scoped to that
municipality (`kind: client`, `municipalities: {slug: system}`). Secrets are shown once, stored
hashed, and rotated with a grace period for the previous one."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from servicekit.auth import Principal, current_principal
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import domain
from .keys import TokenIssuer
from .store import as_datetime

router = APIRouter(tags=["city clients"])

Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    municipality: Slug
    name: str = Field(min_length=1, max_length=100)


class ClientOut(BaseModel):
    client_id: str
    municipality: str
    name: str
    status: Literal["active", "revoked"]
    created_at: datetime
    secret_rotated_at: datetime | None = None


class ClientSecretOut(ClientOut):
    client_secret: str
    previous_secret_valid_until: datetime | None = None


class ClientList(BaseModel):
    items: list[ClientOut]


class OAuthToken(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    scope: str


def _manager_of(principal: Principal, municipality: str) -> None:
    if principal.kind != "user" or not (
        principal.is_admin or principal.is_official_of(municipality, "manager")
    ):
        raise ApiError(403, "forbidden", f"only a manager of {municipality} manages its API clients")


def _out(doc: dict) -> dict:
    return {
        "client_id": doc["_id"],
        "municipality": doc["municipality"],
        "name": doc["name"],
        "status": doc["status"],
        "created_at": as_datetime(doc["created_at"]),
        "secret_rotated_at": as_datetime(doc["secret_rotated_at"]) if doc.get("secret_rotated_at") else None,
    }


async def _owned_client(request: Request, client_id: str, principal: Principal) -> dict:
    doc = await request.app.state.ctx.extras["store"].client(client_id)
    if doc is None:
        raise ApiError(404, "not_found", "no such API client")
    _manager_of(principal, doc["municipality"])
    return doc


@router.post("/api/v1/auth/clients", status_code=201, response_model=ClientSecretOut)
async def create_client(
    body: ClientIn, request: Request, principal: Principal = Depends(current_principal)
) -> ClientSecretOut:
    """Create an API client for a city system; the secret is in this answer and nowhere else."""
    _manager_of(principal, body.municipality)
    secret = domain.new_secret("cs")
    doc = {
        "_id": f"cli_{uuid.uuid4().hex}",
        "municipality": body.municipality,
        "name": body.name,
        "status": "active",
        "secret_hash": domain.secret_hash(secret),
        "created_by": principal.sub,
        "created_at": utcnow(),
    }

    async def write(tx: Tx) -> None:
        await tx.db.clients.insert_one(doc, session=tx.session)

    await request.app.state.ctx.mongo.transact(write)
    return ClientSecretOut(**_out(doc), client_secret=secret)


@router.get("/api/v1/auth/clients", response_model=ClientList)
async def list_clients(
    request: Request,
    municipality: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")],
    principal: Principal = Depends(current_principal),
) -> ClientList:
    _manager_of(principal, municipality)
    docs = await request.app.state.ctx.extras["store"].clients_of(municipality)
    return ClientList(items=[ClientOut(**_out(d)) for d in docs])


@router.post("/api/v1/auth/clients/{client_id}/rotate-secret", response_model=ClientSecretOut)
async def rotate_secret(
    client_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> ClientSecretOut:
    """A new secret; the previous one keeps working for CLIENT_SECRET_GRACE_S so the city can
    redeploy its system without an outage."""
    doc = await _owned_client(request, client_id, principal)
    if doc["status"] != "active":
        raise ApiError(409, "client_revoked", "this API client was revoked")
    secret = domain.new_secret("cs")
    now = utcnow()
    grace_until = now + timedelta(seconds=request.app.state.ctx.settings.client_secret_grace_s)
    changes = {
        "secret_hash": domain.secret_hash(secret),
        "previous_secret_hash": doc["secret_hash"],
        "previous_valid_until": grace_until,
        "secret_rotated_at": now,
    }

    async def write(tx: Tx) -> None:
        await tx.db.clients.update_one({"_id": client_id}, {"$set": changes}, session=tx.session)

    await request.app.state.ctx.mongo.transact(write)
    return ClientSecretOut(
        **_out({**doc, **changes}), client_secret=secret, previous_secret_valid_until=grace_until
    )


@router.delete("/api/v1/auth/clients/{client_id}", status_code=204, response_class=Response)
async def revoke_client(
    client_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> Response:
    await _owned_client(request, client_id, principal)

    async def write(tx: Tx) -> None:
        await tx.db.clients.update_one(
            {"_id": client_id},
            {"$set": {"status": "revoked"}, "$unset": {"previous_secret_hash": ""}},
            session=tx.session,
        )

    await request.app.state.ctx.mongo.transact(write)
    return Response(status_code=204)


_TOKEN_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "client_id": {"type": "string", "maxLength": 200},
                        "client_secret": {"type": "string", "maxLength": 200},
                    },
                }
            }
        },
    }
}


def _invalid_client() -> ApiError:
    return ApiError(
        401, "invalid_client", "unknown client or wrong secret", headers={"WWW-Authenticate": "Basic"}
    )


@router.post("/oauth/token", response_model=OAuthToken, openapi_extra=_TOKEN_FORM)
async def oauth_token(request: Request) -> OAuthToken:
    """OAuth2 client-credentials grant (RFC 6749 §4.4): credentials in HTTP Basic or the form."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise ApiError(415, "unsupported_media_type", "send application/x-www-form-urlencoded")
    try:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode(), max_num_fields=10).items()}
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "invalid_request", "malformed form body") from exc
    if form.get("grant_type") != "client_credentials":
        raise ApiError(400, "unsupported_grant_type", "only grant_type=client_credentials is supported")
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _invalid_client() from exc
    if not client_id or not secret or len(client_id) > 200 or len(secret) > 200:
        raise _invalid_client()
    ctx = request.app.state.ctx
    doc = await ctx.extras["store"].client(client_id)
    if doc is None or doc["status"] != "active":
        raise _invalid_client()
    valid = domain.secret_matches(secret, doc["secret_hash"])
    grace_until = doc.get("previous_valid_until")
    if not valid and grace_until is not None and as_datetime(grace_until) > utcnow():
        valid = domain.secret_matches(secret, doc.get("previous_secret_hash"))
    if not valid:
        raise _invalid_client()
    issuer: TokenIssuer = ctx.extras["accounts"].issuer
    return OAuthToken(
        access_token=issuer.client_token(client_id, doc["municipality"]),
        expires_in=ctx.settings.client_token_ttl_s,
        scope=f"municipality:{doc['municipality']}",
    )
