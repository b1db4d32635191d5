"""What the officials routes accept and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..fields import Email

Role = Literal["reviewer", "manager"]


class AppointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    email: Email | None = None


class AppointByEmailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    role: Role


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    role: Role


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=20, max_length=200)


class OfficialOut(BaseModel):
    user_id: str
    municipality: str
    role: Role
    email: str | None
    appointed_at: datetime
    appointed_by: str | None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> OfficialOut:
        return cls(
            user_id=doc["user_id"],
            municipality=doc["municipality"],
            role=doc["role"],
            email=doc.get("email"),
            appointed_at=doc["appointed_at"],
            appointed_by=doc.get("appointed_by"),
        )


class OfficialsOut(BaseModel):
    items: list[OfficialOut]


class InvitationOut(BaseModel):
    id: str
    email: str
    role: Role
    expires_at: datetime
