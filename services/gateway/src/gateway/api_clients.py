"""City API clients over HTTP: managed at `/api/v1/auth/clients` by a city's managers, and the
OAuth2 client-credentials grant at `/oauth/token` for the city's system. Who may manage which
client is decided by the use cases (clients.py), which see the client's municipality."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from servicekit.auth import PrincipalDep
from servicekit.errors import DomainError

from .clients import IssuedSecret, invalid_client
from .deps import CityClientsDep
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


def _out(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "client_id": doc["_id"],
        "municipality": doc["municipality"],
        "name": doc["name"],
        "status": doc["status"],
        "created_at": as_datetime(doc["created_at"]),
        "secret_rotated_at": as_datetime(doc["secret_rotated_at"]) if doc.get("secret_rotated_at") else None,
    }


def _secret_out(issued: IssuedSecret) -> ClientSecretOut:
    return ClientSecretOut(
        **_out(issued.client),
        client_secret=issued.secret,
        previous_secret_valid_until=issued.previous_valid_until,
    )


@router.post("/api/v1/auth/clients", status_code=201, response_model=ClientSecretOut)
async def create_client(body: ClientIn, principal: PrincipalDep, clients: CityClientsDep) -> ClientSecretOut:
    """Create an API client for a city system; the secret is in this answer and nowhere else."""
    return _secret_out(await clients.create(principal, body.municipality, body.name))


@router.get("/api/v1/auth/clients", response_model=ClientList)
async def list_clients(
    municipality: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")],
    principal: PrincipalDep,
    clients: CityClientsDep,
) -> ClientList:
    docs = await clients.of_municipality(principal, municipality)
    return ClientList(items=[ClientOut(**_out(d)) for d in docs])


@router.post("/api/v1/auth/clients/{client_id}/rotate-secret", response_model=ClientSecretOut)
async def rotate_secret(client_id: str, principal: PrincipalDep, clients: CityClientsDep) -> ClientSecretOut:
    """A new secret; the previous one keeps working for CLIENT_SECRET_GRACE_S so the city can
    redeploy its system without an outage."""
    return _secret_out(await clients.rotate_secret(principal, client_id))


@router.delete("/api/v1/auth/clients/{client_id}", status_code=204, response_class=Response)
async def revoke_client(client_id: str, principal: PrincipalDep, clients: CityClientsDep) -> Response:
    await clients.revoke(principal, client_id)
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


@router.post(
    "/oauth/token",
    response_model=OAuthToken,
    openapi_extra=_TOKEN_FORM,
    responses={
        400: {"description": "A malformed form, or a grant type other than client_credentials"},
        401: {"description": "Unknown client or wrong secret"},
        415: {"description": "The body is not application/x-www-form-urlencoded"},
    },
)
async def oauth_token(request: Request, clients: CityClientsDep) -> OAuthToken:
    """OAuth2 client-credentials grant (RFC 6749 §4.4): credentials in HTTP Basic or the form."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise DomainError("unsupported_media_type", 415, "send application/x-www-form-urlencoded")
    try:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode(), max_num_fields=10).items()}
    except (UnicodeDecodeError, ValueError) as exc:
        raise DomainError("invalid_request", 400, "malformed form body") from exc
    if form.get("grant_type") != "client_credentials":
        raise DomainError("unsupported_grant_type", 400, "only grant_type=client_credentials is supported")
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise invalid_client() from exc
    token = await clients.grant_token(client_id, secret)
    return OAuthToken(
        access_token=token.access_token,
        expires_in=token.expires_in,
        scope=f"municipality:{token.municipality}",
    )
