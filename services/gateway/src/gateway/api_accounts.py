"""Accounts over HTTP, at `/api/v1/auth/...` (the gateway's own part of the public API).
Each route parses, authorises and calls one use case of accounts.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from .accounts import TokenPair
from .deps import AccountsDep, UserDep
from .ratelimit import client_ip
from .store import public_user

router = APIRouter(prefix="/api/v1/auth", tags=["accounts"])

Email = Annotated[str, Field(min_length=3, max_length=254)]
Password = Annotated[str, Field(min_length=1, max_length=256)]
DisplayName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S")]
Postcode = Annotated[str, Field(min_length=2, max_length=12, pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]*$")]
Locale = Literal["en", "fr"]
Secret = Annotated[str, Field(min_length=1, max_length=512)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "amina@example.localhost",
                    "password": "demo-password-3",
                    "display_name": "Amina Diallo",
                    "locale": "fr",
                    "postcode": "93100",
                }
            ]
        },
    )
    email: Email
    password: Password
    display_name: DisplayName
    locale: Locale = "fr"
    postcode: Postcode | None = None


class LoginIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "amina@example.localhost", "password": "demo-password-3"}]},
    )
    email: Email
    password: Password


class RefreshIn(Strict):
    refresh_token: Secret


class TokenIn(Strict):
    token: Secret


class EmailIn(Strict):
    email: Email


class ResetIn(Strict):
    token: Secret
    new_password: Password


class ChangePasswordIn(Strict):
    current_password: Password
    new_password: Password


class ProfileIn(Strict):
    display_name: DisplayName | None = None
    locale: Locale | None = None
    postcode: Postcode | None = None


class DeleteIn(Strict):
    password: Password


class UserOut(BaseModel):
    id: str
    email: str
    display_name: str
    locale: str
    postcode: str | None = None
    email_verified: bool
    created_at: datetime


class MeOut(UserOut):
    roles: list[str]
    municipalities: dict[str, str]


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    user: UserOut


class AcceptedOut(BaseModel):
    status: Literal["accepted"] = "accepted"


def _tokens(pair: TokenPair) -> TokensOut:
    return TokensOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        user=UserOut(**public_user(pair.user)),
    )


@router.post("/register", status_code=201, response_model=UserOut)
async def register(body: RegisterIn, svc: AccountsDep) -> UserOut:
    """Create an account; a verification link goes out by email (`user.verification_requested`)."""
    user = await svc.register(body.email, body.password, body.display_name, body.locale, body.postcode)
    return UserOut(**public_user(user))


@router.post(
    "/verify-email", response_model=UserOut, responses={400: {"description": "The link's token is not valid"}}
)
async def verify_email(body: TokenIn, svc: AccountsDep) -> UserOut:
    return UserOut(**public_user(await svc.verify_email(body.token)))


@router.post("/verify-email/resend", status_code=202, response_model=AcceptedOut)
async def resend_verification(principal: UserDep, svc: AccountsDep) -> AcceptedOut:
    await svc.resend_verification(principal.sub)
    return AcceptedOut()


@router.post("/login", response_model=TokensOut, responses={401: {"description": "Wrong email or password"}})
async def login(body: LoginIn, request: Request, svc: AccountsDep) -> TokensOut:
    return _tokens(await svc.login(body.email, body.password, client_ip(request.scope)))


@router.post(
    "/refresh",
    response_model=TokensOut,
    responses={401: {"description": "The refresh token is not valid (used, revoked or expired)"}},
)
async def refresh(body: RefreshIn, svc: AccountsDep) -> TokensOut:
    """Swap a refresh token for a new pair. Each refresh token works once; presenting a used one
    revokes every token of that login (reuse detection)."""
    return _tokens(await svc.refresh(body.refresh_token))


@router.post("/logout", status_code=204, response_class=Response)
async def logout(body: RefreshIn, svc: AccountsDep) -> Response:
    await svc.logout(body.refresh_token)
    return Response(status_code=204)


@router.post("/password-reset", status_code=202, response_model=AcceptedOut)
async def request_password_reset(body: EmailIn, svc: AccountsDep) -> AcceptedOut:
    """Email a reset link if the account exists (the answer is the same either way)."""
    await svc.request_password_reset(body.email)
    return AcceptedOut()


@router.post(
    "/password-reset/confirm",
    status_code=204,
    response_class=Response,
    responses={400: {"description": "The link's token is not valid"}},
)
async def confirm_password_reset(body: ResetIn, svc: AccountsDep) -> Response:
    await svc.reset_password(body.token, body.new_password)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut)
async def me(principal: UserDep, svc: AccountsDep) -> MeOut:
    user = await svc.profile(principal.sub)
    return MeOut(**public_user(user), roles=principal.roles, municipalities=principal.municipalities)


@router.patch("/me", response_model=UserOut)
async def update_me(body: ProfileIn, principal: UserDep, svc: AccountsDep) -> UserOut:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    return UserOut(**public_user(await svc.update_profile(principal.sub, changes)))


@router.post("/me/password", response_model=TokensOut)
async def change_password(body: ChangePasswordIn, principal: UserDep, svc: AccountsDep) -> TokensOut:
    """Change the password; every other session is logged out, this one gets fresh tokens."""
    return _tokens(await svc.change_password(principal.sub, body.current_password, body.new_password))


@router.delete("/me", status_code=204, response_class=Response)
async def delete_me(body: DeleteIn, principal: UserDep, svc: AccountsDep) -> Response:
    """Delete the account (GDPR): `user.deleted` tells every service to anonymise what it holds."""
    await svc.delete(principal.sub, body.password)
    return Response(status_code=204)
