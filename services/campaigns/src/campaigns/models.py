"""Request and response bodies. Inputs are strict: unknown fields rejected, lengths bounded."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    field_validator,
    model_validator,
)

from . import domain, domain_reports

Category = domain.Category
Status = domain.Status
Currency = domain.Currency
FundingModel = domain.FundingModel
SLUG = r"^[a-z0-9][a-z0-9-]{1,59}$"


class Strict(BaseModel):
    """Lengths and patterns are checked on the text as sent, which is what the API document
    states; surrounding whitespace is dropped afterwards, and a text that is long enough only
    thanks to it is refused with its own message. (pydantic's `str_strip_whitespace` strips
    first, so a request the document allows was refused as too short.)"""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _strip_text(self) -> Any:
        for name, info in type(self).model_fields.items():
            value = self.__dict__.get(name)
            if not isinstance(value, str) or value.strip() == value:
                continue
            stripped = value.strip()
            least = next((m.min_length for m in info.metadata if getattr(m, "min_length", None)), 0)
            if len(stripped) < least:
                raise ValueError(f"{name} needs at least {least} characters besides spaces")
            # Straight into __dict__: setattr would count the field as set (CampaignEdit reads that).
            self.__dict__[name] = stripped
        return self


def _url(value: AnyHttpUrl | None) -> str | None:
    return str(value) if value is not None else None


class CampaignIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Repair café at La Boissière",
                    "summary": "A monthly repair café: bring your broken bike or toaster, leave with it fixed.",
                    "description": "Volunteer repairers help neighbours fix their things. The money buys "
                    "**tools and spare parts** for a year.",
                    "category": "solidarity",
                    "municipality": "montreuil",
                    "neighbourhood": "La Boissière",
                    "postcode": "93100",
                    "lat": 48.8705,
                    "lon": 2.465,
                    "goal": 450_000,
                    "currency": "EUR",
                    "funding_model": "all_or_nothing",
                    "duration_days": 30,
                }
            ]
        },
    )
    title: str = Field(min_length=3, max_length=140)
    summary: str = Field(default="", max_length=500)
    description: str = Field(default="", max_length=20_000, description="markdown")
    category: Category = "other"
    municipality: str = Field(pattern=SLUG)
    neighbourhood: str = Field(default="", max_length=100)
    address: str = Field(default="", max_length=200)
    postcode: str = Field(default="", max_length=12, pattern=r"^[A-Za-z0-9 -]*$")
    lat: StrictFloat | None = Field(default=None, ge=-90, le=90)
    lon: StrictFloat | None = Field(default=None, ge=-180, le=180)
    cover_image_url: AnyHttpUrl | None = None
    goal: int = Field(gt=0, le=domain.MAX_GOAL, description="minor units")
    currency: Currency = "EUR"
    funding_model: FundingModel = "keep_it_all"
    duration_days: int = Field(
        default=domain.DEFAULT_DURATION_DAYS,
        ge=domain.MIN_DURATION_DAYS,
        le=domain.MAX_DURATION_DAYS,
        description="the deadline is this many days after the campaign goes live",
    )
    call_id: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")

    @model_validator(mode="after")
    def _point(self) -> CampaignIn:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        return self

    def to_doc(self) -> dict[str, Any]:
        doc = self.model_dump()
        doc["cover_image_url"] = _url(self.cover_image_url)
        return doc


class CampaignEdit(Strict):
    """Only the fields sent change. Once live: summary, description, media and place only."""

    title: str | None = Field(default=None, min_length=3, max_length=140)
    summary: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=20_000)
    category: Category | None = None
    municipality: str | None = Field(default=None, pattern=SLUG)
    neighbourhood: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=200)
    postcode: str | None = Field(default=None, max_length=12, pattern=r"^[A-Za-z0-9 -]*$")
    lat: StrictFloat | None = Field(default=None, ge=-90, le=90)
    lon: StrictFloat | None = Field(default=None, ge=-180, le=180)
    cover_image_url: AnyHttpUrl | None = None
    goal: int | None = Field(default=None, gt=0, le=domain.MAX_GOAL)
    currency: Currency | None = None
    funding_model: FundingModel | None = None
    duration_days: int | None = Field(default=None, ge=domain.MIN_DURATION_DAYS, le=domain.MAX_DURATION_DAYS)

    @model_validator(mode="after")
    def _not_empty(self) -> CampaignEdit:
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if ("lat" in self.model_fields_set) != ("lon" in self.model_fields_set):
            raise ValueError("lat and lon go together")
        return self

    def changes(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.model_fields_set}
        if "cover_image_url" in out:
            out["cover_image_url"] = _url(self.cover_image_url)
        return out


class Reason(Strict):
    reason: str = Field(min_length=3, max_length=2000)


class Moderation(Strict):
    decision: Literal["approve", "return", "reject"]
    reason: str | None = Field(default=None, max_length=2000)


class Completion(Strict):
    report: str = Field(min_length=3, max_length=2000, description="what was delivered")


class Totals(BaseModel):
    raised: int
    pledged: int
    matched: int
    matched_counted: int
    match_promised: int
    match_pledged: int = Field(
        default=0,
        description="all-or-nothing: what the instant matches would give the pledges still authorised "
        "(counts toward the goal; replaced by `matched` as the charges are matched at success)",
    )
    in_kind_delivered: int = Field(default=0, description="valued in-kind help delivered (not money)")
    in_kind_counted: int = Field(default=0, description="the part of it that counts toward the goal")
    funded: int
    progress_bp: int
    backers_count: int


class Label(BaseModel):
    """A city's label on the campaign, with the support it offers."""

    municipality: str
    label_id: str
    endorsement_id: str = Field(description="deprecated: the same as label_id (kept for one release)")
    support: list[dict[str, Any]]
    in_kind_value: int | None = None
    currency: str | None = None


class NeedOut(BaseModel):
    """The public view of a need: counts, never who offered or how to reach them."""

    id: str
    campaign_id: str
    title: str
    description: str
    kind: str
    quantity: int
    unit: str
    open: bool
    offers_count: int
    offered: int
    accepted: int
    remaining: int
    delivered: int = Field(default=0, description="accepted help the owner confirmed delivered")
    unit_value: int | None = None
    counts_toward_goal: bool = False
    value_delivered: int = Field(default=0, description="delivered x unit_value, minor units")


class NeedList(BaseModel):
    items: list[NeedOut]


class ContactOut(BaseModel):
    channel: str
    value: str


class OfferOut(BaseModel):
    id: str
    need_id: str
    campaign_id: str
    from_user_id: str
    quantity: int
    message: str
    state: str
    created_at: datetime
    contact: ContactOut


class OfferList(BaseModel):
    items: list[OfferOut]


class UpdateOut(BaseModel):
    id: str
    campaign_id: str
    title: str
    body: str
    body_html: str
    created_at: datetime


class UpdatePage(BaseModel):
    items: list[UpdateOut]
    next_cursor: str | None


class MeetupOut(BaseModel):
    id: str
    campaign_id: str
    title: str
    description_html: str
    place: str
    starts_at: datetime
    ends_at: datetime | None
    capacity: int
    going: int
    waitlisted: int
    canceled: bool


class MeetupList(BaseModel):
    items: list[MeetupOut]


class RsvpOut(BaseModel):
    meetup: MeetupOut
    state: Literal["going", "waitlisted", "none"]


class Attendees(BaseModel):
    """In the order they answered."""

    going: list[str]
    waitlisted: list[str]


class Following(BaseModel):
    campaign_id: str
    following: bool
    followers_count: int


class CampaignOut(BaseModel):
    id: str
    owner_id: str
    status: str
    version: int
    title: str
    summary: str
    description: str
    description_html: str
    category: str
    municipality: str
    neighbourhood: str
    address: str
    postcode: str
    lat: float | None
    lon: float | None
    cover_image_url: str | None
    goal: int
    currency: str
    funding_model: str
    duration_days: int
    starts_at: datetime | None
    deadline: datetime | None
    call_id: str | None
    reason: str | None
    totals: Totals
    goal_reached: bool
    followers_count: int
    labelled_by: list[str]
    created_at: datetime
    updated_at: datetime
    distance_km: float | None = None
    allowed_actions: list[str] = []
    owner_deleted: bool = Field(default=False, description="the owner deleted their account")
    owner_deleted_at: datetime | None = Field(
        default=None, description="when the owner deleted their account"
    )
    pending_decision: Literal["owner_deleted"] | None = Field(
        default=None, description="waiting for an admin: POST /campaigns/{id}/owner-decision"
    )
    hidden: bool = Field(
        default=False, description="hidden by moderation after a report (owner and admins only)"
    )
    hidden_reason: str | None = None


class Viewer(BaseModel):
    """The caller's own relation to the campaign."""

    following: bool
    rsvps: dict[str, Literal["going", "waitlisted"]] = Field(description="meetup id -> the caller's answer")


class CampaignDetail(CampaignOut):
    labels: list[Label]
    needs: list[NeedOut]
    next_meetups: list[MeetupOut]
    viewer: Viewer | None = Field(default=None, description="null when the request is anonymous")


class CampaignPage(BaseModel):
    items: list[CampaignOut]
    next_cursor: str | None


class NeedIn(Strict):
    title: str = Field(min_length=3, max_length=140)
    description: str = Field(default="", max_length=2000)
    kind: Literal["volunteers", "hosting", "goods", "space", "skills", "other"] = "other"
    quantity: int = Field(ge=1, le=10_000)
    unit: str = Field(default="", max_length=40)
    unit_value: int | None = Field(
        default=None, ge=1, le=100_000_000, description="declared value of one unit, minor units"
    )
    counts_toward_goal: StrictBool = Field(
        default=False, description="delivered help counts toward the goal at unit_value (needs unit_value)"
    )

    @model_validator(mode="after")
    def _counted_needs_a_value(self) -> NeedIn:
        if self.counts_toward_goal and self.unit_value is None:
            raise ValueError("a need that counts toward the goal needs its unit_value")
        return self


class NeedEdit(Strict):
    title: str | None = Field(default=None, min_length=3, max_length=140)
    description: str | None = Field(default=None, max_length=2000)
    quantity: int | None = Field(default=None, ge=1, le=10_000)
    # Strict: pydantic would read 0 or "no" as false, which the document does not allow.
    open: StrictBool | None = None


class Contact(Strict):
    channel: Literal["email", "phone", "in_app"]
    value: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _value(self) -> Contact:
        if self.channel != "in_app" and not self.value:
            raise ValueError(f"a {self.channel} contact needs a value")
        return self


class OfferIn(Strict):
    quantity: int = Field(ge=1, le=10_000)
    message: str = Field(default="", max_length=1000)
    contact: Contact = Contact(channel="in_app")


class OfferDecision(Strict):
    decision: Literal["accept", "decline"]


class UpdateIn(Strict):
    title: str = Field(min_length=3, max_length=140)
    body: str = Field(min_length=1, max_length=20_000, description="markdown")


class MeetupIn(Strict):
    title: str = Field(min_length=3, max_length=140)
    description: str = Field(default="", max_length=5000)
    place: str = Field(min_length=2, max_length=200)
    starts_at: datetime
    ends_at: datetime | None = None
    capacity: int = Field(ge=1, le=10_000)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-06-01T18:00:00+02:00)")
        return value

    @model_validator(mode="after")
    def _order(self) -> MeetupIn:
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


# -- abuse reports (domain_reports.py) ---------------------------------------------------------


class ReportIn(Strict):
    target: domain_reports.Target = Field(
        description="what is reported: the campaign, one update or one offer"
    )
    target_id: str | None = Field(
        default=None,
        max_length=80,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="the update's or offer's id (not needed for the campaign itself)",
    )
    reason: domain_reports.Reason
    details: str = Field(default="", max_length=2000, description="what is wrong, in the reporter's words")

    @model_validator(mode="after")
    def _target_id(self) -> ReportIn:
        if self.target != "campaign" and not self.target_id:
            raise ValueError(f"reporting an {self.target} needs its target_id")
        return self


class ReportDecisionIn(Strict):
    decision: domain_reports.Decision
    note: str = Field(default="", max_length=2000, description="why; required to hide (the author reads it)")


class ReportOut(BaseModel):
    id: str
    target: str
    target_id: str
    campaign_id: str
    campaign_title: str
    author_id: str
    excerpt: str
    reporter_id: str
    reason: str
    details: str
    state: Literal["open", "hidden", "dismissed"]
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None


class ReportPage(BaseModel):
    items: list[ReportOut]
    next_cursor: str | None
