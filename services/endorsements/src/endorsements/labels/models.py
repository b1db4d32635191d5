"""What the label routes accept and answer."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..fields import Currency, Id, Slug
from ..matching.models import CommitmentOut, MatchIn


class LabelRequestIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "campaign_id": "cmp_5b1e0c7a9d2f4e3a8c6b1d0e9f2a7c4b",
                    "municipality": "montreuil",
                    "message": "The park is on the Bel-Air square: could the city lend the corner plot?",
                }
            ]
        },
    )

    campaign_id: Id
    municipality: Slug | None = Field(default=None, description="defaults to the campaign's city")
    message: str = Field(default="", max_length=2000)


class CityReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: Id


class OwnProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: Id = Field(description="a campaign the calling manager created for the city")
    note: str = Field(default="", max_length=2000)


class SupportOffer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["land", "venue", "equipment", "permits", "communication", "technical_help"]
    description: str = Field(min_length=3, max_length=500)
    address: str | None = Field(default=None, max_length=300)
    starts_on: date | None = None
    ends_on: date | None = None
    value: int | None = Field(default=None, ge=0, le=100_000_000, description="in-kind value, minor units")
    currency: Currency | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SupportOffer:
        if self.kind in ("land", "venue") and not self.address:
            raise ValueError(f"a {self.kind} offer needs an address")
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        if (self.value is None) != (self.currency is None):
            raise ValueError("a valued offer needs both value and currency")
        return self


class GrantIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "note": "A free sports ground open to everyone in Bel-Air.",
                    "support": [
                        {
                            "kind": "land",
                            "description": "A 400 m² municipal plot in the Guilands park",
                            "address": "Parc des Guilands, 93100 Montreuil",
                            "starts_on": "2027-03-01",
                            "ends_on": "2032-02-29",
                            "value": 1_200_000,
                            "currency": "EUR",
                        },
                        {"kind": "permits", "description": "Fast-tracked works permit"},
                    ],
                    # No `match` here: with one the grant also needs an Idempotency-Key, which
                    # the document cannot tie to the body (the examples phase sends none).
                }
            ]
        },
    )

    note: str = Field(default="", max_length=2000)
    support: list[SupportOffer] = Field(default_factory=list, max_length=20)
    match: MatchIn | None = None


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=2000)


class HistoryEntry(BaseModel):
    status: str
    by: str
    at: str


class LabelOut(BaseModel):
    id: str
    campaign_id: str
    municipality: str
    status: Literal["requested", "under_review", "granted", "declined", "revoked"]
    reason: str | None = Field(description="public once declined or revoked")
    note: str
    support: list[dict[str, Any]] = Field(description="support offers as granted (see SupportOffer)")
    in_kind_value: int = Field(description="minor units, offers valued in the label's currency")
    currency: str | None
    commitment_ids: list[str]
    requested_by: str | None = Field(description="the owner, when they asked for the label")
    message: str = Field(default="", description="the owner's message with the request")
    city_project: bool = Field(default=False, description="the city's own project, labelled by it")
    history: list[HistoryEntry] | None
    version: int

    @classmethod
    def of(cls, doc: dict[str, Any]) -> LabelOut:
        return cls(
            id=doc["_id"],
            campaign_id=doc["campaign_id"],
            municipality=doc["municipality"],
            status=doc["status"],
            reason=doc.get("reason"),
            note=doc.get("note", ""),
            support=doc.get("support", []),
            in_kind_value=doc.get("in_kind_value", 0),
            currency=doc.get("currency"),
            commitment_ids=doc.get("commitment_ids", []),
            requested_by=doc.get("owner_id") if doc.get("origin") == "owner" else None,
            message=doc.get("message", ""),
            city_project=doc.get("origin") == "city_project",
            history=doc.get("history", []),
            version=doc["version"],
        )


class CampaignSummary(BaseModel):
    id: str
    title: str | None
    owner_id: str | None
    status: str | None
    municipality: str | None
    neighbourhood: str | None
    postcode: str | None
    lat: float | None
    lon: float | None
    category: str | None
    goal: int | None
    currency: str | None
    raised: int | None = Field(description="as campaigns last reported it, minor units")
    matched: int | None = Field(description="match funding received, as campaigns last reported it")

    @classmethod
    def of(cls, c: dict[str, Any]) -> CampaignSummary:
        keys = ("title", "owner_id", "status", "municipality", "neighbourhood", "postcode", "lat", "lon",
                "category", "goal", "currency", "raised", "matched")  # fmt: skip
        return cls(id=c["_id"], **{k: c.get(k) for k in keys})


class QueueItem(BaseModel):
    campaign: CampaignSummary
    label: LabelOut | None
    located_by: Literal["area", "postcode", "named"] | None = Field(
        description="how the campaign is on the territory: inside the polygon, by postcode, or naming the city"
    )


class ReviewQueueOut(BaseModel):
    items: list[QueueItem]


class CampaignLabelsOut(BaseModel):
    labels: list[LabelOut]
    commitments: list[CommitmentOut]


class LabelRequestsOut(BaseModel):
    items: list[LabelOut] = Field(
        description="every label asked for or opened for the campaign, in any city and status, newest first"
    )
