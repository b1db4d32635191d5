"""What the residency routes accept and answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..fields import Id, Postcode

Method = Literal["census", "letter"]


class ResidencySettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    methods: list[Method] = Field(
        max_length=2, description="how residents prove they live in the city; none = the profile postcode"
    )


class ResidencyOut(BaseModel):
    municipality: str
    methods: list[Method]
    census_entries: int = Field(description="rows of the last census uploaded (hashes only)")
    census_uploaded_at: datetime | None = None
    letters_sent: int
    letters_used: int


class RejectedRowOut(BaseModel):
    line: int = Field(description="line of the file (the header is line 1)")
    reason: str


class CensusUploadOut(BaseModel):
    municipality: str
    entries: int
    rejected: list[RejectedRowOut]
    uploaded_at: datetime


class CensusClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_number: str = Field(min_length=4, max_length=40, pattern=r"^[A-Za-z0-9 .-]+$")
    birth_date: date
    postcode: Postcode


class LetterClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=10, max_length=16, pattern=r"^[A-Za-z0-9 -]+$", examples=["7KQ2M-9XH4T"])


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=120, description="as it goes on the envelope")
    line1: str = Field(min_length=2, max_length=200)
    line2: str = Field(default="", max_length=200)
    postcode: Postcode
    city: str = Field(default="", max_length=120)
    lat: float | None = Field(
        default=None, ge=-90, le=90, description="where the city's address base puts it"
    )
    lon: float | None = Field(default=None, ge=-180, le=180)


class LetterBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_id: Id
    addresses: list[AddressIn] = Field(min_length=1, max_length=5000)
    valid_until: AwareDatetime | None = Field(
        default=None, description="when the codes stop working; default: when the call's vote closes"
    )


class LetterOut(BaseModel):
    name: str
    line1: str
    line2: str
    postcode: str
    city: str
    code: str = Field(description="shown in this answer only: it is stored as a hash")


class LetterBatchOut(BaseModel):
    batch_id: str
    call_id: str
    call_title: str
    municipality: str
    municipality_name: str
    valid_until: datetime
    letters: list[LetterOut]


class VerificationOut(BaseModel):
    call_id: str
    verified: bool
    method: Literal["census", "letter", "profile"] | None = None
    postcode: str | None = None
    verified_at: datetime | None = None
    methods: list[Method] = Field(description="what the city accepts as proof for this call")
