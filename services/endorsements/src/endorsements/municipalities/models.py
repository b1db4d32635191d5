"""What the municipality routes accept and answer."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..calls.models import CallOut
from ..fields import Postcode, Slug
from ..labels.models import LabelOut


class MunicipalityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=120)
    slug: Slug
    official_code: str = Field(min_length=1, max_length=20, description="e.g. INSEE code 93048")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    postcodes: list[Postcode] = Field(default_factory=list, max_length=500)
    territory: dict[str, Any] | None = Field(default=None, description="GeoJSON Polygon or MultiPolygon")
    logo_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://")
    page_text: str = Field(default="", max_length=5000)


class MunicipalityPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    postcodes: list[Postcode] | None = Field(default=None, max_length=500)
    territory: dict[str, Any] | None = None
    logo_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://")
    page_text: str | None = Field(default=None, max_length=5000)


class TrialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(ge=1, le=365)


class MunicipalityOut(BaseModel):
    id: str
    slug: str
    name: str
    official_code: str
    country: str
    postcodes: list[str]
    territory: dict[str, Any] | None = Field(description="GeoJSON Polygon or MultiPolygon")
    logo_url: str | None
    page_text: str
    trial_until: datetime | None
    subscription_active: bool | None = Field(
        default=None, description="whether the city may label, commit and award now (null in listings)"
    )

    @classmethod
    def of(cls, doc: dict[str, Any], active: bool | None = None) -> MunicipalityOut:
        return cls(
            id=doc["_id"],
            slug=doc["slug"],
            name=doc["name"],
            official_code=doc["official_code"],
            country=doc["country"],
            postcodes=list(doc.get("postcodes", [])),
            territory=json.loads(doc["polygon_json"]) if doc.get("polygon_json") else None,
            logo_url=doc.get("logo_url"),
            page_text=doc.get("page_text", ""),
            trial_until=doc.get("trial_until"),
            subscription_active=active,
        )


class MunicipalitiesOut(BaseModel):
    items: list[MunicipalityOut]


class AmqpUserOut(BaseModel):
    username: str
    password: str = Field(description="shown once; calling again resets it")
    vhost: str
    exchange: str
    binding_pattern: str


class PageCampaign(BaseModel):
    id: str
    title: str | None
    status: str | None
    goal: int | None
    currency: str | None
    raised: int
    matched: int = Field(default=0, description="match funding this city's commitments gave the campaign")


class LabelledCampaign(BaseModel):
    label: LabelOut
    campaign: PageCampaign


class PageTotals(BaseModel):
    campaigns_in_territory: int
    raised: dict[str, int] = Field(description="by currency, minor units")
    match_funds_given: dict[str, int]
    match_funds_pending: dict[str, int]
    in_kind_value: dict[str, int]
    support_offers_by_kind: dict[str, int]


class CityPageOut(BaseModel):
    municipality: MunicipalityOut
    labelled_campaigns: list[LabelledCampaign]
    open_calls: list[CallOut]
    totals: PageTotals
