"""A typed Python client of the Civicfund API, GENERATED from the merged API document by
`python -m devstack.client_gen` (do not edit: change the routes, then regenerate).

    async with CivicfundClient("http://127.0.0.1:8000") as api:
        tokens = await api.gateway_login(body={"email": ..., "password": ...})
        api.token = tokens["access_token"]
        page = await api.campaigns_list_campaigns(municipality="montreuil")

An answer of 400 or more raises `ApiError` (status, code, message, request_id, details).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Literal, NotRequired, TypedDict, cast
from urllib.parse import quote

import httpx


class ApiError(Exception):
    """The platform error body of a refused request."""

    def __init__(self, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        self.response = response
        self.status: int = response.status_code
        self.code: str = str(error.get("code", "error"))
        self.message: str = str(error.get("message", response.text[:200]))
        self.request_id: str | None = error.get("request_id")
        self.details: Any = error.get("details")
        super().__init__(f"{self.status} {self.code}: {self.message}")


def _segment(value: object) -> str:
    return quote(str(value), safe="")


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class _Base:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        """`client` shares one pooled connection between many of these (one per caller, each
        with its own token); `headers` go with every request of this one (a request id, a
        proxy's headers)."""
        self.token = token
        self.headers = dict(headers or {})
        self._own = client is None
        self._client = client or httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def aclose(self) -> None:
        if self._own:
            await self._client.aclose()

    async def __aenter__(self) -> CivicfundClient:
        return cast(CivicfundClient, self)

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _call(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        content: str | bytes | None = None,
    ) -> httpx.Response:
        sent = {**self.headers, **{k: str(v) for k, v in _present(headers or {}).items()}}
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        answer = await self._client.request(
            method, url, params=_present(params or {}), headers=sent, json=json, data=data, content=content
        )
        if answer.status_code >= 400:
            raise ApiError(answer)
        return answer


class Error(TypedDict):
    """The error body of every Civicfund endpoint (4xx and 5xx), gateway and services alike."""

    error: dict[str, Any]


class CampaignsAttendees(TypedDict):
    """In the order they answered."""

    going: list[str]
    waitlisted: list[str]


class CampaignsCampaignDetail(TypedDict):
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
    starts_at: str | None
    deadline: str | None
    call_id: str | None
    reason: str | None
    totals: CampaignsTotals
    goal_reached: bool
    followers_count: int
    labelled_by: list[str]
    created_at: str
    updated_at: str
    distance_km: NotRequired[float | None]
    allowed_actions: NotRequired[list[str]]
    owner_deleted: NotRequired[bool]
    owner_deleted_at: NotRequired[str | None]
    pending_decision: NotRequired[Literal["owner_deleted"] | None]
    hidden: NotRequired[bool]
    hidden_reason: NotRequired[str | None]
    labels: list[CampaignsLabel]
    needs: list[CampaignsNeedOut]
    next_meetups: list[CampaignsMeetupOut]
    viewer: NotRequired[CampaignsViewer | None]


class CampaignsCampaignEdit(TypedDict):
    """Only the fields sent change. Once live: summary, description, media and place only."""

    title: NotRequired[str | None]
    summary: NotRequired[str | None]
    description: NotRequired[str | None]
    category: NotRequired[
        Literal[
            "public_space",
            "sport",
            "culture",
            "solidarity",
            "environment",
            "education",
            "mobility",
            "health",
            "other",
        ]
        | None
    ]
    municipality: NotRequired[str | None]
    neighbourhood: NotRequired[str | None]
    address: NotRequired[str | None]
    postcode: NotRequired[str | None]
    lat: NotRequired[float | None]
    lon: NotRequired[float | None]
    cover_image_url: NotRequired[str | None]
    goal: NotRequired[int | None]
    currency: NotRequired[Literal["EUR", "GBP", "USD", "CHF"] | None]
    funding_model: NotRequired[Literal["keep_it_all", "all_or_nothing"] | None]
    duration_days: NotRequired[int | None]


class CampaignsCampaignIn(TypedDict):
    title: str
    summary: NotRequired[str]
    description: NotRequired[str]
    category: NotRequired[
        Literal[
            "public_space",
            "sport",
            "culture",
            "solidarity",
            "environment",
            "education",
            "mobility",
            "health",
            "other",
        ]
    ]
    municipality: str
    neighbourhood: NotRequired[str]
    address: NotRequired[str]
    postcode: NotRequired[str]
    lat: NotRequired[float | None]
    lon: NotRequired[float | None]
    cover_image_url: NotRequired[str | None]
    goal: int
    currency: NotRequired[Literal["EUR", "GBP", "USD", "CHF"]]
    funding_model: NotRequired[Literal["keep_it_all", "all_or_nothing"]]
    duration_days: NotRequired[int]
    call_id: NotRequired[str | None]


class CampaignsCampaignOut(TypedDict):
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
    starts_at: str | None
    deadline: str | None
    call_id: str | None
    reason: str | None
    totals: CampaignsTotals
    goal_reached: bool
    followers_count: int
    labelled_by: list[str]
    created_at: str
    updated_at: str
    distance_km: NotRequired[float | None]
    allowed_actions: NotRequired[list[str]]
    owner_deleted: NotRequired[bool]
    owner_deleted_at: NotRequired[str | None]
    pending_decision: NotRequired[Literal["owner_deleted"] | None]
    hidden: NotRequired[bool]
    hidden_reason: NotRequired[str | None]


class CampaignsCampaignPage(TypedDict):
    items: list[CampaignsCampaignOut]
    next_cursor: str | None


class CampaignsCompletion(TypedDict):
    report: str


class CampaignsContact(TypedDict):
    channel: Literal["email", "phone", "in_app"]
    value: NotRequired[str]


class CampaignsContactOut(TypedDict):
    channel: str
    value: str


class CampaignsFollowing(TypedDict):
    campaign_id: str
    following: bool
    followers_count: int


class CampaignsInKindTotals(TypedDict):
    citizens_delivered: int
    citizens_counted: int
    city_offered: int
    city_delivered: int


class CampaignsLabel(TypedDict):
    """A city's label on the campaign, with the support it offers."""

    municipality: str
    label_id: str
    endorsement_id: str
    support: list[dict[str, Any]]
    in_kind_value: NotRequired[int | None]
    currency: NotRequired[str | None]


class CampaignsMeetupIn(TypedDict):
    title: str
    description: NotRequired[str]
    place: str
    starts_at: str
    ends_at: NotRequired[str | None]
    capacity: int


class CampaignsMeetupList(TypedDict):
    items: list[CampaignsMeetupOut]


class CampaignsMeetupOut(TypedDict):
    id: str
    campaign_id: str
    title: str
    description_html: str
    place: str
    starts_at: str
    ends_at: str | None
    capacity: int
    going: int
    waitlisted: int
    canceled: bool


class CampaignsModeration(TypedDict):
    decision: Literal["approve", "return", "reject"]
    reason: NotRequired[str | None]


class CampaignsNeedEdit(TypedDict):
    title: NotRequired[str | None]
    description: NotRequired[str | None]
    quantity: NotRequired[int | None]
    open: NotRequired[bool | None]


class CampaignsNeedIn(TypedDict):
    title: str
    description: NotRequired[str]
    kind: NotRequired[Literal["volunteers", "hosting", "goods", "space", "skills", "other"]]
    quantity: int
    unit: NotRequired[str]
    unit_value: NotRequired[int | None]
    counts_toward_goal: NotRequired[bool]


class CampaignsNeedLine(TypedDict):
    need_id: str
    title: str
    kind: str
    quantity: int
    unit: str
    unit_value: int | None
    counts_toward_goal: bool
    offered: int
    accepted: int
    delivered: int
    value_offered: int
    value_accepted: int
    value_delivered: int


class CampaignsNeedList(TypedDict):
    items: list[CampaignsNeedOut]


class CampaignsNeedOut(TypedDict):
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
    delivered: NotRequired[int]
    unit_value: NotRequired[int | None]
    counts_toward_goal: NotRequired[bool]
    value_delivered: NotRequired[int]


class CampaignsOfferDecision(TypedDict):
    decision: Literal["accept", "decline"]


class CampaignsOfferIn(TypedDict):
    quantity: int
    message: NotRequired[str]
    contact: NotRequired[CampaignsContact]


class CampaignsOfferList(TypedDict):
    items: list[CampaignsOfferOut]


class CampaignsOfferOut(TypedDict):
    id: str
    need_id: str
    campaign_id: str
    from_user_id: str
    quantity: int
    message: str
    state: str
    created_at: str
    contact: CampaignsContactOut


class CampaignsOwnerDecision(TypedDict):
    decision: Literal["keep", "stop"]
    reason: NotRequired[str | None]


class CampaignsOwnerDecisionList(TypedDict):
    items: list[CampaignsCampaignOut]


class CampaignsParkedMessage(TypedDict):
    message_id: str | None
    reason: str | None
    error: str | None
    attempts: int | None
    parked_at: str | None
    event_type: str | None
    subject: str | None


class CampaignsParkedQueue(TypedDict):
    queue: str
    messages: list[CampaignsParkedMessage]


class CampaignsParkedQueues(TypedDict):
    service: str
    queues: list[CampaignsParkedQueue]


class CampaignsPermitDecision(TypedDict):
    decision: Literal["granted", "refused"]
    note: NotRequired[str | None]


class CampaignsPermitIn(TypedDict):
    name: str
    authority: str


class CampaignsPermitOut(TypedDict):
    id: str
    campaign_id: str
    name: str
    authority: str
    declared_by: Literal["owner", "city"]
    municipality: NotRequired[str | None]
    status: Literal["required", "granted", "refused"]
    note: NotRequired[str | None]
    declared_at: str
    decided_at: NotRequired[str | None]


class CampaignsReason(TypedDict):
    reason: str


class CampaignsRecordAward(TypedDict):
    call_id: str
    amount: int
    votes: NotRequired[int | None]


class CampaignsRecordInKind(TypedDict):
    citizens: list[CampaignsNeedLine]
    city: list[CampaignsSupportItem]
    totals: CampaignsInKindTotals


class CampaignsRecordMatch(TypedDict):
    promised: int
    given: int
    counted: int


class CampaignsRecordMoney(TypedDict):
    raised: int
    pledged: int
    backers: int
    currency: str


class CampaignsRecordOut(TypedDict):
    campaign_id: str
    goal: int
    progress_bp: int
    money: CampaignsRecordMoney
    match: CampaignsRecordMatch
    award: CampaignsRecordAward | None
    in_kind: CampaignsRecordInKind
    permits: list[CampaignsPermitOut]
    permits_pending: bool


class CampaignsReplayed(TypedDict):
    queue: str
    replayed: list[str]


class CampaignsReportDecisionIn(TypedDict):
    decision: Literal["hide", "dismiss"]
    note: NotRequired[str]


class CampaignsReportIn(TypedDict):
    target: Literal["campaign", "update", "offer"]
    target_id: NotRequired[str | None]
    reason: Literal["spam", "hateful", "fraud", "personal_data", "other"]
    details: NotRequired[str]


class CampaignsReportOut(TypedDict):
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
    created_at: str
    decided_by: NotRequired[str | None]
    decided_at: NotRequired[str | None]
    note: NotRequired[str | None]


class CampaignsReportPage(TypedDict):
    items: list[CampaignsReportOut]
    next_cursor: str | None


class CampaignsRsvpOut(TypedDict):
    meetup: CampaignsMeetupOut
    state: Literal["going", "waitlisted", "none"]


class CampaignsSupportConfirmation(TypedDict):
    status: Literal["accepted", "delivered"]


class CampaignsSupportItem(TypedDict):
    id: str
    label_id: str
    index: int
    municipality: str
    type: Literal["land", "venue", "equipment", "permit", "other"]
    description: str
    value: int
    status: Literal["offered", "accepted", "delivered"]


class CampaignsTotals(TypedDict):
    raised: int
    pledged: int
    matched: int
    matched_counted: int
    match_promised: int
    match_pledged: NotRequired[int]
    in_kind_delivered: NotRequired[int]
    in_kind_counted: NotRequired[int]
    funded: int
    progress_bp: int
    backers_count: int


class CampaignsUpdateIn(TypedDict):
    title: str
    body: str


class CampaignsUpdateOut(TypedDict):
    id: str
    campaign_id: str
    title: str
    body: str
    body_html: str
    created_at: str


class CampaignsUpdatePage(TypedDict):
    items: list[CampaignsUpdateOut]
    next_cursor: str | None


class CampaignsViewer(TypedDict):
    """The caller's own relation to the campaign."""

    following: bool
    rsvps: dict[str, Literal["going", "waitlisted"]]


class EndorsementsAcceptIn(TypedDict):
    token: str


class EndorsementsAddressIn(TypedDict):
    name: NotRequired[str]
    line1: str
    line2: NotRequired[str]
    postcode: str
    city: NotRequired[str]
    lat: NotRequired[float | None]
    lon: NotRequired[float | None]


class EndorsementsAmqpUserOut(TypedDict):
    username: str
    password: str
    vhost: str
    exchange: str
    binding_pattern: str


class EndorsementsAppointByEmailIn(TypedDict):
    email: str
    role: Literal["reviewer", "manager"]


class EndorsementsAppointIn(TypedDict):
    role: Literal["reviewer", "manager"]
    email: NotRequired[str | None]


class EndorsementsAssignIn(TypedDict):
    proposal_id: str
    heading: str


class EndorsementsAward(TypedDict):
    proposal_id: str
    award: int


class EndorsementsBallotHeadingOut(TypedDict):
    key: str
    name: str
    budget: int
    priority: bool
    may_vote: bool
    total: int
    left: int
    lines: list[EndorsementsBallotLineOut]
    refusal: str | None


class EndorsementsBallotLineOut(TypedDict):
    proposal_id: str
    title: str
    amount: int


class EndorsementsBallotOut(TypedDict):
    call_id: str
    rule: dict[str, Any]
    counted: bool
    changed: bool
    checked_out_at: str | None
    open: bool
    headings: list[EndorsementsBallotHeadingOut]


class EndorsementsBallotRuleIn(TypedDict):
    kind: Literal["approval", "knapsack", "threshold"]
    max_lines: NotRequired[int | None]
    min_percent: NotRequired[int | None]
    min_projects: NotRequired[int | None]
    max_projects: NotRequired[int | None]


class EndorsementsBallotSetupIn(TypedDict):
    rule: EndorsementsBallotRuleIn
    headings: list[EndorsementsHeadingIn]
    tie_break: Literal["earliest_submission", "lowest_amount", "draw"]
    seed: NotRequired[str]
    assign: NotRequired[list[EndorsementsAssignIn]]


class EndorsementsBallotSetupOut(TypedDict):
    rule: dict[str, Any]
    headings: list[dict[str, Any]]
    tie_break: str
    seed: str
    assign: dict[str, str]


class EndorsementsCallIn(TypedDict):
    title: str
    theme: NotRequired[str]
    description: NotRequired[str]
    eligibility: NotRequired[EndorsementsEligibility]
    budget: int
    max_award: int
    currency: str
    submission_opens_at: str
    submission_closes_at: str
    vote_opens_at: NotRequired[str | None]
    vote_closes_at: NotRequired[str | None]
    winners: NotRequired[int]
    selection_mode: NotRequired[Literal["jury", "vote", "jury_then_vote"]]
    votes_per_resident: NotRequired[int]


class EndorsementsCallOut(TypedDict):
    id: str
    municipality: str
    title: str
    theme: str | None
    description: str | None
    eligibility: dict[str, Any] | None
    budget: int
    max_award: int
    currency: str
    submission_opens_at: str
    submission_closes_at: str
    vote_opens_at: str | None
    vote_closes_at: str | None
    winners: int
    selection_mode: Literal["jury", "vote", "jury_then_vote"]
    votes_per_resident: int
    status: Literal["open", "closed", "decided"]
    ballot: NotRequired[EndorsementsBallotSetupOut | None]


class EndorsementsCallsOut(TypedDict):
    items: list[EndorsementsCallOut]


class EndorsementsCampaignLabelsOut(TypedDict):
    labels: list[EndorsementsLabelOut]
    commitments: list[EndorsementsCommitmentOut]


class EndorsementsCampaignSummary(TypedDict):
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
    raised: int | None
    matched: int | None


class EndorsementsCensusClaimIn(TypedDict):
    document_number: str
    birth_date: str
    postcode: str


class EndorsementsCensusUploadOut(TypedDict):
    municipality: str
    entries: int
    rejected: list[EndorsementsRejectedRowOut]
    uploaded_at: str


class EndorsementsCityPageOut(TypedDict):
    municipality: EndorsementsMunicipalityOut
    labelled_campaigns: list[EndorsementsLabelledCampaign]
    open_calls: list[EndorsementsCallOut]
    totals: EndorsementsPageTotals


class EndorsementsCityReviewIn(TypedDict):
    campaign_id: str


class EndorsementsCommitmentOut(TypedDict):
    id: str
    campaign_id: str
    municipality: str
    label_id: str | None
    endorsement_id: str | None
    pool_id: str
    currency: str
    rule: dict[str, Any]
    max_amount: int
    given: int
    status: Literal["active", "closing", "released", "exhausted", "canceled"]
    counts_toward_goal: bool
    closing_tally: NotRequired[EndorsementsPaymentsTallyOut | None]


class EndorsementsCountedBallotOut(TypedDict):
    voter: str
    channel: Literal["online", "paper"]
    lines: list[str]


class EndorsementsCountedBallotsOut(TypedDict):
    call_id: str
    digest: str
    total: int
    items: list[EndorsementsCountedBallotOut]
    next_offset: int | None


class EndorsementsEligibility(TypedDict):
    categories: NotRequired[list[str]]
    territory_only: NotRequired[bool]


class EndorsementsFeedItem(TypedDict):
    cursor: str
    routing_key: str
    event: dict[str, Any]


class EndorsementsFeedOut(TypedDict):
    items: list[EndorsementsFeedItem]
    next_cursor: str
    has_more: bool


class EndorsementsGrantIn(TypedDict):
    note: NotRequired[str]
    support: NotRequired[list[EndorsementsSupportOffer]]
    match: NotRequired[EndorsementsMatchIn | None]


class EndorsementsHeadingIn(TypedDict):
    key: str
    name: str
    budget: int
    postcodes: NotRequired[list[str]]
    priority: NotRequired[bool]


class EndorsementsHeadingOutcomeOut(TypedDict):
    proposal_id: str
    title: str
    votes: int
    amount: int
    rank: int
    selected: bool
    why_not: Literal["budget", "no_votes"] | None


class EndorsementsHeadingResultOut(TypedDict):
    key: str
    name: str
    budget: int
    spent: int
    priority: bool
    ballots: int
    outcomes: list[EndorsementsHeadingOutcomeOut]


class EndorsementsHistoryEntry(TypedDict):
    status: str
    by: str
    at: str


class EndorsementsInvitationOut(TypedDict):
    id: str
    email: str
    role: Literal["reviewer", "manager"]
    expires_at: str


class EndorsementsInviteIn(TypedDict):
    email: str
    role: Literal["reviewer", "manager"]


class EndorsementsLabelOut(TypedDict):
    id: str
    campaign_id: str
    municipality: str
    status: Literal["requested", "under_review", "granted", "declined", "revoked"]
    reason: str | None
    note: str
    support: list[dict[str, Any]]
    in_kind_value: int
    currency: str | None
    commitment_ids: list[str]
    requested_by: str | None
    message: NotRequired[str]
    city_project: NotRequired[bool]
    history: list[EndorsementsHistoryEntry] | None
    version: int


class EndorsementsLabelRequestIn(TypedDict):
    campaign_id: str
    municipality: NotRequired[str | None]
    message: NotRequired[str]


class EndorsementsLabelRequestsOut(TypedDict):
    items: list[EndorsementsLabelOut]


class EndorsementsLabelledCampaign(TypedDict):
    label: EndorsementsLabelOut
    campaign: EndorsementsPageCampaign


class EndorsementsLetterBatchIn(TypedDict):
    call_id: str
    addresses: list[EndorsementsAddressIn]
    valid_until: NotRequired[str | None]


class EndorsementsLetterBatchOut(TypedDict):
    batch_id: str
    call_id: str
    call_title: str
    municipality: str
    municipality_name: str
    valid_until: str
    letters: list[EndorsementsLetterOut]


class EndorsementsLetterClaimIn(TypedDict):
    code: str


class EndorsementsLetterOut(TypedDict):
    name: str
    line1: str
    line2: str
    postcode: str
    city: str
    code: str


class EndorsementsMatchIn(TypedDict):
    pool_id: str
    condition: Literal["instant", "on_goal_reached", "lump_sum_at_threshold"]
    ratio: NotRequired[float]
    cap_per_contribution: NotRequired[int | None]
    cap_per_project: NotRequired[int | None]
    max_contributions_per_backer: NotRequired[int | None]
    min_backers: NotRequired[int | None]
    threshold_percent: NotRequired[int | None]
    lump_sum: NotRequired[int | None]


class EndorsementsMatchPreviewOut(TypedDict):
    """What a match rule would cost for a label's campaign, before committing it (nothing is"""

    label_id: str
    campaign_id: str
    pool_id: str
    pool_name: str
    currency: str
    goal: int | None
    raised: int
    backers: int
    reserved: int
    cost_now: int
    cost_at_goal: int
    lump_sum_due_now: bool
    pool_available: int
    pool_available_after: int
    fits_pool: bool


class EndorsementsMunicipalitiesOut(TypedDict):
    items: list[EndorsementsMunicipalityOut]


class EndorsementsMunicipalityIn(TypedDict):
    name: str
    slug: str
    official_code: str
    country: str
    postcodes: NotRequired[list[str]]
    territory: NotRequired[dict[str, Any] | None]
    logo_url: NotRequired[str | None]
    page_text: NotRequired[str]


class EndorsementsMunicipalityOut(TypedDict):
    id: str
    slug: str
    name: str
    official_code: str
    country: str
    postcodes: list[str]
    territory: dict[str, Any] | None
    logo_url: str | None
    page_text: str
    trial_until: str | None
    subscription_active: NotRequired[bool | None]


class EndorsementsMunicipalityPatch(TypedDict):
    postcodes: NotRequired[list[str] | None]
    territory: NotRequired[dict[str, Any] | None]
    logo_url: NotRequired[str | None]
    page_text: NotRequired[str | None]


class EndorsementsNoteIn(TypedDict):
    note: NotRequired[str]


class EndorsementsOfficialOut(TypedDict):
    user_id: str
    municipality: str
    role: Literal["reviewer", "manager"]
    email: str | None
    appointed_at: str
    appointed_by: str | None


class EndorsementsOfficialsOut(TypedDict):
    items: list[EndorsementsOfficialOut]


class EndorsementsOwnProjectIn(TypedDict):
    campaign_id: str
    note: NotRequired[str]


class EndorsementsPageCampaign(TypedDict):
    id: str
    title: str | None
    status: str | None
    goal: int | None
    currency: str | None
    raised: int
    matched: NotRequired[int]


class EndorsementsPageTotals(TypedDict):
    campaigns_in_territory: int
    raised: dict[str, int]
    match_funds_given: dict[str, int]
    match_funds_pending: dict[str, int]
    in_kind_value: dict[str, int]
    support_offers_by_kind: dict[str, int]


class EndorsementsPaperBallotIn(TypedDict):
    station: str
    postcode: str
    lines: list[str]


class EndorsementsPaperBallotOut(TypedDict):
    id: str
    call_id: str
    station: str
    postcode: str
    lines: list[str]
    entered_by: str
    entered_at: str


class EndorsementsParkedMessage(TypedDict):
    message_id: str | None
    reason: str | None
    error: str | None
    attempts: int | None
    parked_at: str | None
    event_type: str | None
    subject: str | None


class EndorsementsParkedQueue(TypedDict):
    queue: str
    messages: list[EndorsementsParkedMessage]


class EndorsementsParkedQueues(TypedDict):
    service: str
    queues: list[EndorsementsParkedQueue]


class EndorsementsPaymentsTallyOut(TypedDict):
    count: int
    amount: int


class EndorsementsPoolChange(TypedDict):
    accepts_gifts: bool


class EndorsementsPoolIn(TypedDict):
    name: str
    year: int
    budget: int
    currency: str


class EndorsementsPoolOut(TypedDict):
    id: str
    municipality: str
    name: str
    year: int
    currency: str
    budget: int
    committed: int
    given: int
    available: int
    gifts_received: NotRequired[int]
    accepts_gifts: NotRequired[bool]


class EndorsementsPoolsOut(TypedDict):
    items: list[EndorsementsPoolOut]


class EndorsementsProposalIn(TypedDict):
    title: str
    summary: str
    category: NotRequired[str | None]
    requested_amount: int
    goal: NotRequired[int | None]
    postcode: str
    lat: NotRequired[float | None]
    lon: NotRequired[float | None]
    campaign_id: NotRequired[str | None]


class EndorsementsProposalOut(TypedDict):
    id: str
    call_id: str
    title: str
    summary: str
    category: str | None
    requested_amount: int
    goal: int | None
    postcode: str | None
    campaign_id: str | None
    status: Literal["submitted", "shortlisted", "selected", "not_selected"]
    note: str | None
    award: int | None
    submitted_at: str


class EndorsementsProposalsOut(TypedDict):
    items: list[EndorsementsProposalOut]


class EndorsementsQueueItem(TypedDict):
    campaign: EndorsementsCampaignSummary
    label: EndorsementsLabelOut | None
    located_by: Literal["area", "postcode", "named"] | None


class EndorsementsRankedOut(TypedDict):
    proposal_id: str
    votes: int
    requested: int
    award: int
    selected: bool


class EndorsementsReasonIn(TypedDict):
    reason: str


class EndorsementsRejectedRowOut(TypedDict):
    line: int
    reason: str


class EndorsementsReplayed(TypedDict):
    queue: str
    replayed: list[str]


class EndorsementsResidencyOut(TypedDict):
    municipality: str
    methods: list[Literal["census", "letter"]]
    census_entries: int
    census_uploaded_at: NotRequired[str | None]
    letters_sent: int
    letters_used: int


class EndorsementsResidencySettingsIn(TypedDict):
    methods: list[Literal["census", "letter"]]


class EndorsementsResultsOut(TypedDict):
    call_id: str
    final: bool
    digest: str
    ballots: int
    ranking: list[EndorsementsRankedOut]
    tie_break: NotRequired[str | None]
    online_ballots: NotRequired[int]
    paper_ballots: NotRequired[int]
    headings: NotRequired[list[EndorsementsHeadingResultOut]]


class EndorsementsReviewQueueOut(TypedDict):
    items: list[EndorsementsQueueItem]


class EndorsementsScheduleIn(TypedDict):
    submission_closes_at: NotRequired[str | None]
    vote_opens_at: NotRequired[str | None]
    vote_closes_at: NotRequired[str | None]


class EndorsementsSelectionIn(TypedDict):
    winners: NotRequired[list[EndorsementsAward] | None]
    note: NotRequired[str]


class EndorsementsSelectionOut(TypedDict):
    call_id: str
    winners: list[EndorsementsWinnerOut]


class EndorsementsStatisticsOut(TypedDict):
    call_id: str
    online: int
    paper: int
    total: int
    by_neighbourhood: list[EndorsementsTurnoutRowOut]


class EndorsementsSupportOffer(TypedDict):
    kind: Literal["land", "venue", "equipment", "permits", "communication", "technical_help"]
    description: str
    address: NotRequired[str | None]
    starts_on: NotRequired[str | None]
    ends_on: NotRequired[str | None]
    value: NotRequired[int | None]
    currency: NotRequired[str | None]


class EndorsementsTrialIn(TypedDict):
    days: int


class EndorsementsTurnoutRowOut(TypedDict):
    postcode: str
    online: int
    paper: int
    total: int


class EndorsementsVerificationOut(TypedDict):
    call_id: str
    verified: bool
    method: NotRequired[Literal["census", "letter", "profile"] | None]
    postcode: NotRequired[str | None]
    verified_at: NotRequired[str | None]
    methods: list[Literal["census", "letter"]]


class EndorsementsVoteOut(TypedDict):
    proposal_id: str
    votes_left: int


class EndorsementsWinnerOut(TypedDict):
    proposal_id: str
    award: int


class GatewayAcceptedOut(TypedDict):
    status: NotRequired[Literal["accepted"]]


class GatewayCampaignPage(TypedDict):
    campaign: dict[str, Any] | None
    totals: dict[str, Any] | None
    labels: list[dict[str, Any]] | None
    commitments: list[dict[str, Any]] | None
    my_pledge: dict[str, Any] | None
    unavailable: list[str]


class GatewayChangePasswordIn(TypedDict):
    current_password: str
    new_password: str


class GatewayClientIn(TypedDict):
    municipality: str
    name: str


class GatewayClientList(TypedDict):
    items: list[GatewayClientOut]


class GatewayClientOut(TypedDict):
    client_id: str
    municipality: str
    name: str
    status: Literal["active", "revoked"]
    created_at: str
    secret_rotated_at: NotRequired[str | None]


class GatewayClientSecretOut(TypedDict):
    client_id: str
    municipality: str
    name: str
    status: Literal["active", "revoked"]
    created_at: str
    secret_rotated_at: NotRequired[str | None]
    client_secret: str
    previous_secret_valid_until: NotRequired[str | None]


class GatewayDeleteIn(TypedDict):
    password: str


class GatewayEmailIn(TypedDict):
    email: str


class GatewayJwk(TypedDict):
    kty: str
    crv: str
    x: str
    kid: str
    alg: NotRequired[str | None]
    use: NotRequired[str | None]


class GatewayJwks(TypedDict):
    keys: list[GatewayJwk]


class GatewayLoginIn(TypedDict):
    email: str
    password: str


class GatewayMeOut(TypedDict):
    id: str
    email: str
    display_name: str
    locale: str
    postcode: NotRequired[str | None]
    email_verified: bool
    created_at: str
    roles: list[str]
    municipalities: dict[str, str]


class GatewayOAuthToken(TypedDict):
    access_token: str
    token_type: NotRequired[Literal["Bearer"]]
    expires_in: int
    scope: str


class GatewayProfileIn(TypedDict):
    display_name: NotRequired[str | None]
    locale: NotRequired[Literal["en", "fr"] | None]
    postcode: NotRequired[str | None]


class GatewayRefreshIn(TypedDict):
    refresh_token: str


class GatewayRegisterIn(TypedDict):
    email: str
    password: str
    display_name: str
    locale: NotRequired[Literal["en", "fr"]]
    postcode: NotRequired[str | None]


class GatewayResetIn(TypedDict):
    token: str
    new_password: str


class GatewayTokenIn(TypedDict):
    token: str


class GatewayTokensOut(TypedDict):
    access_token: str
    refresh_token: str
    token_type: NotRequired[Literal["Bearer"]]
    expires_in: int
    user: GatewayUserOut


class GatewayUserOut(TypedDict):
    id: str
    email: str
    display_name: str
    locale: str
    postcode: NotRequired[str | None]
    email_verified: bool
    created_at: str


class NotificationsAttempt(TypedDict):
    attempt: int
    at: str
    status_code: int | None
    error: str
    duration_ms: int


class NotificationsCategoryOut(TypedDict):
    email: bool
    inapp: bool
    locked: bool
    label: str


class NotificationsChannelChoice(TypedDict):
    email: NotRequired[bool | None]
    inapp: NotRequired[bool | None]


class NotificationsDeliveryList(TypedDict):
    items: list[NotificationsDeliveryOut]


class NotificationsDeliveryOut(TypedDict):
    id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    created_at: str
    next_attempt_at: str | None
    last_status_code: int | None
    replay_of: NotRequired[str | None]
    log: list[NotificationsAttempt]


class NotificationsEndpointCreated(TypedDict):
    id: str
    municipality: str
    url: str
    event_types: list[str]
    description: str
    status: Literal["active", "disabled"]
    created_at: str
    consecutive_failures: int
    failing_since: NotRequired[str | None]
    last_success_at: NotRequired[str | None]
    disabled_at: NotRequired[str | None]
    secrets: list[NotificationsSecretInfo]
    signature_scheme: Literal["standard", "legacy"]
    secret: str


class NotificationsEndpointIn(TypedDict):
    municipality: str
    url: str
    event_types: list[str]
    description: NotRequired[str]


class NotificationsEndpointList(TypedDict):
    items: list[NotificationsEndpointOut]


class NotificationsEndpointOut(TypedDict):
    id: str
    municipality: str
    url: str
    event_types: list[str]
    description: str
    status: Literal["active", "disabled"]
    created_at: str
    consecutive_failures: int
    failing_since: NotRequired[str | None]
    last_success_at: NotRequired[str | None]
    disabled_at: NotRequired[str | None]
    secrets: list[NotificationsSecretInfo]
    signature_scheme: Literal["standard", "legacy"]


class NotificationsEndpointPatch(TypedDict):
    enabled: NotRequired[bool | None]
    url: NotRequired[str | None]
    event_types: NotRequired[list[str] | None]
    description: NotRequired[str | None]
    signature_scheme: NotRequired[Literal["standard", "legacy"] | None]


class NotificationsEventTypes(TypedDict):
    event_types: list[str]


class NotificationsInbox(TypedDict):
    items: list[NotificationsInboxItem]
    unread: int


class NotificationsInboxItem(TypedDict):
    id: str
    kind: str
    title: str
    data: dict[str, Any]
    link: str | None
    read: bool
    created_at: str


class NotificationsParkedMessage(TypedDict):
    message_id: str | None
    reason: str | None
    error: str | None
    attempts: int | None
    parked_at: str | None
    event_type: str | None
    subject: str | None


class NotificationsParkedQueue(TypedDict):
    queue: str
    messages: list[NotificationsParkedMessage]


class NotificationsParkedQueues(TypedDict):
    service: str
    queues: list[NotificationsParkedQueue]


class NotificationsPreferencesIn(TypedDict):
    categories: dict[str, NotificationsChannelChoice]


class NotificationsPreferencesOut(TypedDict):
    categories: dict[str, NotificationsCategoryOut]


class NotificationsReplayIn(TypedDict):
    since: str
    until: NotRequired[str | None]
    only_failed: NotRequired[bool]


class NotificationsRotateIn(TypedDict):
    grace_seconds: NotRequired[int | None]


class NotificationsSecretInfo(TypedDict):
    id: str
    created_at: str
    expires_at: NotRequired[str | None]


class NotificationsUnreadCount(TypedDict):
    unread: int


class NotificationsNotificationsWebhooksApiReplayed(TypedDict):
    delivery_ids: list[str]
    truncated: NotRequired[bool]


class NotificationsServicekitParkedReplayed(TypedDict):
    queue: str
    replayed: list[str]


class PaymentsAccountOut(TypedDict):
    status: Literal["none", "onboarding", "ready", "restricted"]
    stripe_account_id: NotRequired[str | None]
    payouts_enabled: NotRequired[bool]
    details_submitted: NotRequired[bool]
    requirements_due: NotRequired[list[str]]


class PaymentsCampaignFallback(TypedDict):
    kind: Literal["campaign"]
    campaign_id: str


class PaymentsCampaignMatchOut(TypedDict):
    municipality: str
    currency: str
    status: str
    promised: int
    due: int
    received: int


class PaymentsCampaignMatchPage(TypedDict):
    items: list[PaymentsCampaignMatchOut]


class PaymentsCampaignRefundIn(TypedDict):
    reason: str


class PaymentsCampaignRefundOut(TypedDict):
    campaign_id: str
    reason: str
    pledges_to_refund: int
    payouts_stopped: int


class PaymentsCancellationIn(TypedDict):
    cancel_at_period_end: bool


class PaymentsCardSetupIn(TypedDict):
    municipality: str
    billing_email: NotRequired[str | None]


class PaymentsCardSetupOut(TypedDict):
    setup_intent: str
    client_secret: str


class PaymentsCityPoolFallback(TypedDict):
    """The campaign's city's pool taking gifts (GET /campaigns/{id}/fallback-options)."""

    kind: Literal["city_pool"]
    municipality: NotRequired[str | None]


class PaymentsDifference(TypedDict):
    pledge_id: str
    field: str
    journal: int
    stripe: int


class PaymentsDisputeOut(TypedDict):
    id: str
    campaign_id: str
    pledge_id: str
    amount: int
    currency: str
    reason: NotRequired[str | None]
    status: str
    open: bool
    created_at: str
    closed_at: NotRequired[str | None]


class PaymentsDisputePage(TypedDict):
    items: list[PaymentsDisputeOut]


class PaymentsDonorIn(TypedDict):
    name: str
    address: str
    postcode: str
    city: str


class PaymentsDueOut(TypedDict):
    id: str
    campaign_id: str
    campaign_title: NotRequired[str | None]
    municipality: str
    currency: str
    status: Literal["promised", "canceled", "due", "transfer_declared", "received"]
    promised: int
    amount: int
    method: NotRequired[Literal["invoice", "bank_transfer", "residents_gifts"] | None]
    settled_from_gifts: NotRequired[int]
    to_collect: NotRequired[int]
    invoice_id: NotRequired[str | None]
    transfer_reference: NotRequired[str | None]
    declared_at: NotRequired[str | None]
    received_at: NotRequired[str | None]


class PaymentsDuePage(TypedDict):
    items: list[PaymentsDueOut]


class PaymentsEntryOut(TypedDict):
    id: str
    pledge_id: str
    account: str
    kind: str
    amount: int
    currency: str
    stripe_ref: str
    at: str


class PaymentsFallbackOptionsOut(TypedDict):
    campaign_id: str
    offered: bool
    city_pool: NotRequired[PaymentsGiftPoolOut | None]


class PaymentsFallbackOut(TypedDict):
    kind: Literal["refund", "city_pool", "campaign"]
    campaign_id: NotRequired[str | None]
    municipality: NotRequired[str | None]
    pool_id: NotRequired[str | None]
    pool_name: NotRequired[str | None]
    consent_version: NotRequired[str | None]
    consented_at: NotRequired[str | None]


class PaymentsGiftPoolOut(TypedDict):
    pool_id: str
    name: str
    year: int
    municipality: str
    currency: str


class PaymentsHolderTaxStatusIn(TypedDict):
    eligible: bool
    legal_name: str
    registration: str
    address: str
    object: str
    legal_basis: NotRequired[str]


class PaymentsHolderTaxStatusOut(TypedDict):
    user_id: str
    eligible: bool
    legal_name: str
    registration: str
    address: str
    object: str
    legal_basis: str
    recorded_at: str


class PaymentsInvoiceOut(TypedDict):
    id: str
    number: NotRequired[str | None]
    status: str
    amount_due: int
    amount_paid: int
    currency: str
    created: NotRequired[str | None]
    hosted_invoice_url: NotRequired[str | None]


class PaymentsInvoicePage(TypedDict):
    items: list[PaymentsInvoiceOut]


class PaymentsLedgerOut(TypedDict):
    campaign_id: str
    currency: str | None
    totals: dict[str, int]
    entries: list[PaymentsEntryOut]


class PaymentsMilestoneDecisionIn(TypedDict):
    decision: Literal["release", "hold"]
    note: NotRequired[str | None]


class PaymentsMilestoneObjectionIn(TypedDict):
    reason: str


class PaymentsMilestoneObjectionOut(TypedDict):
    backer_id: NotRequired[str | None]
    reason: str
    created_at: str


class PaymentsMilestoneObjectionPage(TypedDict):
    items: list[PaymentsMilestoneObjectionOut]


class PaymentsMilestoneOut(TypedDict):
    payout: PaymentsPayoutOut
    tranche: int
    percent: int
    title: NotRequired[str | None]
    status: Literal["awaiting_proof", "awaiting_city", "objection_window", "objected", "released", "held"]
    proof_update_id: NotRequired[str | None]
    proof_urls: NotRequired[list[str]]
    confirming_cities: NotRequired[list[str]]
    window_ends_at: NotRequired[str | None]
    objections: NotRequired[int]


class PaymentsMilestonePage(TypedDict):
    items: list[PaymentsMilestoneOut]


class PaymentsMilestoneProofIn(TypedDict):
    update_id: NotRequired[str | None]
    urls: NotRequired[list[str]]


class PaymentsOnboardingIn(TypedDict):
    email: NotRequired[str | None]


class PaymentsOnboardingOut(TypedDict):
    url: str
    account: PaymentsAccountOut


class PaymentsParkedMessage(TypedDict):
    message_id: str | None
    reason: str | None
    error: str | None
    attempts: int | None
    parked_at: str | None
    event_type: str | None
    subject: str | None


class PaymentsParkedQueue(TypedDict):
    queue: str
    messages: list[PaymentsParkedMessage]


class PaymentsParkedQueues(TypedDict):
    service: str
    queues: list[PaymentsParkedQueue]


class PaymentsPayoutOut(TypedDict):
    id: str
    campaign_id: str
    owner_id: str
    sequence: int
    status: Literal["pending", "approved", "transferring", "paid", "failed"]
    amount: int
    currency: str
    raised: int
    stripe_fees: int
    tips: int
    match: NotRequired[int]
    follows_plan: NotRequired[bool]
    attempt: int
    transfer_id: NotRequired[str | None]
    transfer_group: str
    failure_reason: NotRequired[str | None]
    hold_reason: NotRequired[str | None]
    created_at: str
    updated_at: str


class PaymentsPayoutPage(TypedDict):
    items: list[PaymentsPayoutOut]


class PaymentsPayoutPlanIn(TypedDict):
    tranches: list[PaymentsPayoutTrancheIn]


class PaymentsPayoutPlanOut(TypedDict):
    campaign_id: str
    tranches: list[PaymentsPayoutTrancheOut]


class PaymentsPayoutTrancheIn(TypedDict):
    percent: int
    title: NotRequired[str | None]


class PaymentsPayoutTrancheOut(TypedDict):
    percent: int
    title: NotRequired[str | None]


class PaymentsPlanIn(TypedDict):
    plan: Literal["monthly", "yearly"]


class PaymentsPledgeIn(TypedDict):
    campaign_id: str
    amount: int
    currency: Literal["EUR", "GBP", "USD", "CHF"]
    tip: NotRequired[int]
    public_name: NotRequired[str | None]
    anonymous: NotRequired[bool]
    fallback: NotRequired[PaymentsRefundFallback | PaymentsCityPoolFallback | PaymentsCampaignFallback]
    fallback_consent: NotRequired[bool]


class PaymentsPledgeOut(TypedDict):
    id: str
    campaign_id: str
    amount: int
    tip: int
    currency: str
    funding_model: str
    status: str
    anonymous: bool
    public_name: NotRequired[str | None]
    created_at: str
    next_action: NotRequired[Literal["confirm_card_setup", "confirm_card_payment", "retry"] | None]
    intent_kind: NotRequired[Literal["setup_intent", "payment_intent"] | None]
    client_secret: NotRequired[str | None]
    retry_until: NotRequired[str | None]
    failure_reason: NotRequired[str | None]
    receipt: NotRequired[PaymentsReceiptOut | None]
    fallback: NotRequired[PaymentsFallbackOut]
    fallback_of: NotRequired[str | None]
    fallback_pledge_id: NotRequired[str | None]
    gift_status: NotRequired[Literal["pending", "given", "failed"] | None]


class PaymentsPledgePage(TypedDict):
    items: list[PaymentsPledgeOut]


class PaymentsPoolGiftsHeldOut(TypedDict):
    pool_id: str
    pool_name: NotRequired[str | None]
    municipality: str
    currency: str
    received: int
    applied: int
    held: int


class PaymentsPoolGiftsHeldPage(TypedDict):
    items: list[PaymentsPoolGiftsHeldOut]


class PaymentsReceiptOut(TypedDict):
    payment_id: str
    payment_intent_id: str
    amount: int
    tip: int
    total: int
    currency: str
    paid_at: str
    refunded: bool


class PaymentsReconciliationOut(TypedDict):
    campaign_id: str
    ok: bool
    checked_pledges: int
    differences: list[PaymentsDifference]


class PaymentsRefundFallback(TypedDict):
    kind: Literal["refund"]


class PaymentsRefundIn(TypedDict):
    amount: NotRequired[int | None]
    reason: str


class PaymentsRefundOut(TypedDict):
    pledge_id: str
    campaign_id: str
    refund_id: str
    amount: int
    currency: str
    reason: str
    status: str
    left_to_refund: int


class PaymentsReplayed(TypedDict):
    queue: str
    replayed: list[str]


class PaymentsSubscriptionIn(TypedDict):
    municipality: str
    plan: Literal["monthly", "yearly"]
    payment_method: NotRequired[str | None]
    setup_intent: NotRequired[str | None]
    billing_email: NotRequired[str | None]


class PaymentsSubscriptionOut(TypedDict):
    id: str
    municipality: str
    plan: str
    status: str
    active: bool
    current_period_end: NotRequired[str | None]
    cancel_at_period_end: NotRequired[bool]
    client_secret: NotRequired[str | None]


class PaymentsSubscriptionPage(TypedDict):
    items: list[PaymentsSubscriptionOut]


class PaymentsTaxReceiptOut(TypedDict):
    pledge_id: str
    number: str
    year: int
    amount: int
    currency: str
    paid_at: str
    issued_at: str
    status: str
    association: str
    donor_name: str | None


class PaymentsTaxReceiptStatusOut(TypedDict):
    pledge_id: str
    receipt: PaymentsTaxReceiptOut | None
    available: bool
    refusal: str | None


class PaymentsTaxYearOut(TypedDict):
    year: int
    total: int
    by_association: dict[str, int]
    receipts: list[PaymentsTaxReceiptOut]


class PaymentsTransferIn(TypedDict):
    reference: str


class CivicfundClient(_Base):
    """One method per operation of the document, named by its operation id."""

    async def gateway_jwks_document(self) -> GatewayJwks:
        """Jwks Document: GET /.well-known/jwks.json. The public keys of every token this gateway signs (during a rotation: old and new)."""
        answer = await self._call("GET", "/.well-known/jwks.json")
        return cast("GatewayJwks", answer.json())

    async def gateway_list_clients(self, *, municipality: str) -> GatewayClientList:
        """List Clients: GET /api/v1/auth/clients."""
        answer = await self._call("GET", "/api/v1/auth/clients", params={"municipality": municipality})
        return cast("GatewayClientList", answer.json())

    async def gateway_create_client(self, *, body: GatewayClientIn) -> GatewayClientSecretOut:
        """Create Client: POST /api/v1/auth/clients. Create an API client for a city system; the secret is in this answer and nowhere else."""
        answer = await self._call("POST", "/api/v1/auth/clients", json=body)
        return cast("GatewayClientSecretOut", answer.json())

    async def gateway_revoke_client(self, client_id: str) -> None:
        """Revoke Client: DELETE /api/v1/auth/clients/{client_id}."""
        await self._call("DELETE", f"/api/v1/auth/clients/{_segment(client_id)}")

    async def gateway_rotate_secret(self, client_id: str) -> GatewayClientSecretOut:
        """Rotate Secret: POST /api/v1/auth/clients/{client_id}/rotate-secret. A new secret; the previous one keeps working for CLIENT_SECRET_GRACE_S so the city can"""
        answer = await self._call("POST", f"/api/v1/auth/clients/{_segment(client_id)}/rotate-secret")
        return cast("GatewayClientSecretOut", answer.json())

    async def gateway_login(self, *, body: GatewayLoginIn) -> GatewayTokensOut:
        """Login: POST /api/v1/auth/login."""
        answer = await self._call("POST", "/api/v1/auth/login", json=body)
        return cast("GatewayTokensOut", answer.json())

    async def gateway_logout(self, *, body: GatewayRefreshIn) -> None:
        """Logout: POST /api/v1/auth/logout."""
        await self._call("POST", "/api/v1/auth/logout", json=body)

    async def gateway_delete_me(self, *, body: GatewayDeleteIn) -> None:
        """Delete Me: DELETE /api/v1/auth/me. Delete the account (GDPR): `user.deleted` tells every service to anonymise what it holds."""
        await self._call("DELETE", "/api/v1/auth/me", json=body)

    async def gateway_me(self) -> GatewayMeOut:
        """Me: GET /api/v1/auth/me."""
        answer = await self._call("GET", "/api/v1/auth/me")
        return cast("GatewayMeOut", answer.json())

    async def gateway_update_me(self, *, body: GatewayProfileIn) -> GatewayUserOut:
        """Update Me: PATCH /api/v1/auth/me."""
        answer = await self._call("PATCH", "/api/v1/auth/me", json=body)
        return cast("GatewayUserOut", answer.json())

    async def gateway_change_password(self, *, body: GatewayChangePasswordIn) -> GatewayTokensOut:
        """Change Password: POST /api/v1/auth/me/password. Change the password; every other session is logged out, this one gets fresh tokens."""
        answer = await self._call("POST", "/api/v1/auth/me/password", json=body)
        return cast("GatewayTokensOut", answer.json())

    async def gateway_request_password_reset(self, *, body: GatewayEmailIn) -> GatewayAcceptedOut:
        """Request Password Reset: POST /api/v1/auth/password-reset. Email a reset link if the account exists (the answer is the same either way)."""
        answer = await self._call("POST", "/api/v1/auth/password-reset", json=body)
        return cast("GatewayAcceptedOut", answer.json())

    async def gateway_confirm_password_reset(self, *, body: GatewayResetIn) -> None:
        """Confirm Password Reset: POST /api/v1/auth/password-reset/confirm."""
        await self._call("POST", "/api/v1/auth/password-reset/confirm", json=body)

    async def gateway_refresh(self, *, body: GatewayRefreshIn) -> GatewayTokensOut:
        """Refresh: POST /api/v1/auth/refresh. Swap a refresh token for a new pair. Each refresh token works once; presenting a used one"""
        answer = await self._call("POST", "/api/v1/auth/refresh", json=body)
        return cast("GatewayTokensOut", answer.json())

    async def gateway_register(self, *, body: GatewayRegisterIn) -> GatewayUserOut:
        """Register: POST /api/v1/auth/register. Create an account; a verification link goes out by email (`user.verification_requested`)."""
        answer = await self._call("POST", "/api/v1/auth/register", json=body)
        return cast("GatewayUserOut", answer.json())

    async def gateway_verify_email(self, *, body: GatewayTokenIn) -> GatewayUserOut:
        """Verify Email: POST /api/v1/auth/verify-email."""
        answer = await self._call("POST", "/api/v1/auth/verify-email", json=body)
        return cast("GatewayUserOut", answer.json())

    async def gateway_resend_verification(self) -> GatewayAcceptedOut:
        """Resend Verification: POST /api/v1/auth/verify-email/resend."""
        answer = await self._call("POST", "/api/v1/auth/verify-email/resend")
        return cast("GatewayAcceptedOut", answer.json())

    async def campaigns_list_campaigns(
        self,
        *,
        status: list[
            Literal["draft", "submitted", "live", "succeeded", "failed", "canceled", "completed", "rejected"]
        ]
        | None = None,
        municipality: str | None = None,
        category: str | None = None,
        funding_model: Literal["keep_it_all", "all_or_nothing"] | None = None,
        labelled_by: str | None = None,
        q: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
        within_km: float | None = None,
        mine: bool | None = None,
        sort: Literal["newest", "ending_soon", "most_funded", "closest_to_goal"] | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> CampaignsCampaignPage:
        """List Campaigns: GET /api/v1/campaigns/campaigns. Public listing (live by default). `mine=true`: the caller's own campaigns in any status;"""
        answer = await self._call(
            "GET",
            "/api/v1/campaigns/campaigns",
            params={
                "status": status,
                "municipality": municipality,
                "category": category,
                "funding_model": funding_model,
                "labelled_by": labelled_by,
                "q": q,
                "lat": lat,
                "lon": lon,
                "within_km": within_km,
                "mine": mine,
                "sort": sort,
                "cursor": cursor,
                "limit": limit,
            },
        )
        return cast("CampaignsCampaignPage", answer.json())

    async def campaigns_create_campaign(
        self, *, body: CampaignsCampaignIn, idempotency_key: str | None = None
    ) -> CampaignsCampaignOut:
        """Create Campaign: POST /api/v1/campaigns/campaigns. Create a draft. With an Idempotency-Key, a retried request gets the same answer."""
        answer = await self._call(
            "POST", "/api/v1/campaigns/campaigns", headers={"Idempotency-Key": idempotency_key}, json=body
        )
        return cast("CampaignsCampaignOut", answer.json())

    async def campaigns_get_campaign(self, campaign_id: str) -> CampaignsCampaignDetail:
        """Get Campaign: GET /api/v1/campaigns/campaigns/{campaign_id}. One campaign with its totals, labels, needs and the next meetups."""
        answer = await self._call("GET", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}")
        return cast("CampaignsCampaignDetail", answer.json())

    async def campaigns_edit_campaign(
        self, campaign_id: str, *, body: CampaignsCampaignEdit
    ) -> CampaignsCampaignOut:
        """Edit Campaign: PATCH /api/v1/campaigns/campaigns/{campaign_id}. Owner edits. Draft: anything. Live: summary, description, media and place only."""
        answer = await self._call("PATCH", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}", json=body)
        return cast("CampaignsCampaignOut", answer.json())

    async def campaigns_cancel_campaign(
        self, campaign_id: str, *, body: CampaignsReason
    ) -> CampaignsCampaignOut:
        """Cancel Campaign: POST /api/v1/campaigns/campaigns/{campaign_id}/cancel. Owner or admin: stop a live campaign (payments releases pledges and refunds)."""
        answer = await self._call(
            "POST", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/cancel", json=body
        )
        return cast("CampaignsCampaignOut", answer.json())

    async def campaigns_confirm_support(
        self, campaign_id: str, label_id: str, index: int, *, body: CampaignsSupportConfirmation
    ) -> CampaignsSupportItem:
        """Confirm Support: POST /api/v1/campaigns/campaigns/{campaign_id}/city-support/{label_id}/{index}. Owner: the city's support item (the label's `support` list, by place) was accepted,"""
        answer = await self._call(
            "POST",
            f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/city-support/{_segment(label_id)}/{_segment(index)}",
            json=body,
        )
        return cast("CampaignsSupportItem", answer.json())

    async def campaigns_complete_campaign(
        self, campaign_id: str, *, body: CampaignsCompletion
    ) -> CampaignsCampaignOut:
        """Complete Campaign: POST /api/v1/campaigns/campaigns/{campaign_id}/complete. Owner: report that the funded project was delivered."""
        answer = await self._call(
            "POST", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/complete", json=body
        )
        return cast("CampaignsCampaignOut", answer.json())

    async def campaigns_unfollow_campaign(self, campaign_id: str) -> CampaignsFollowing:
        """Unfollow Campaign: DELETE /api/v1/campaigns/campaigns/{campaign_id}/follow."""
        answer = await self._call("DELETE", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/follow")
        return cast("CampaignsFollowing", answer.json())

    async def campaigns_follow_campaign(self, campaign_id: str) -> CampaignsFollowing:
        """Follow Campaign: PUT /api/v1/campaigns/campaigns/{campaign_id}/follow. Follow (idempotent: following twice is one follow)."""
        answer = await self._call("PUT", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/follow")
        return cast("CampaignsFollowing", answer.json())

    async def campaigns_list_meetups(
        self, campaign_id: str, *, past: bool | None = None
    ) -> CampaignsMeetupList:
        """List Meetups: GET /api/v1/campaigns/campaigns/{campaign_id}/meetups. Upcoming meetups, soonest first (`past=true`: the ones that already started)."""
        answer = await self._call(
            "GET", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/meetups", params={"past": past}
        )
        return cast("CampaignsMeetupList", answer.json())

    async def campaigns_schedule_meetup(
        self, campaign_id: str, *, body: CampaignsMeetupIn
    ) -> CampaignsMeetupOut:
        """Schedule Meetup: POST /api/v1/campaigns/campaigns/{campaign_id}/meetups. Owner: schedule an offline meetup; followers are told (campaign.meetup_scheduled)."""
        answer = await self._call(
            "POST", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/meetups", json=body
        )
        return cast("CampaignsMeetupOut", answer.json())

    async def campaigns_attendees(self, campaign_id: str, meetup_id: str) -> CampaignsAttendees:
        """Attendees: GET /api/v1/campaigns/campaigns/{campaign_id}/meetups/{meetup_id}/attendees. Owner: who comes and who waits, in order."""
        answer = await self._call(
            "GET",
            f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/meetups/{_segment(meetup_id)}/attendees",
        )
        return cast("CampaignsAttendees", answer.json())

    async def campaigns_cancel_rsvp(self, campaign_id: str, meetup_id: str) -> CampaignsRsvpOut:
        """Cancel Rsvp: DELETE /api/v1/campaigns/campaigns/{campaign_id}/meetups/{meetup_id}/rsvp. Give the seat (or the place on the waiting list) back."""
        answer = await self._call(
            "DELETE",
            f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/meetups/{_segment(meetup_id)}/rsvp",
        )
        return cast("CampaignsRsvpOut", answer.json())

    async def campaigns_rsvp(self, campaign_id: str, meetup_id: str) -> CampaignsRsvpOut:
        """Rsvp: PUT /api/v1/campaigns/campaigns/{campaign_id}/meetups/{meetup_id}/rsvp. Come to a meetup: `going` if a seat is free, else `waitlisted`. Repeating it changes nothing."""
        answer = await self._call(
            "PUT", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/meetups/{_segment(meetup_id)}/rsvp"
        )
        return cast("CampaignsRsvpOut", answer.json())

    async def campaigns_moderate_campaign(
        self, campaign_id: str, *, body: CampaignsModeration
    ) -> CampaignsCampaignOut:
        """Moderate Campaign: POST /api/v1/campaigns/campaigns/{campaign_id}/moderation. Admin: approve (publishes it), return (back to draft, reason required) or reject."""
        answer = await self._call(
            "POST", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/moderation", json=body
        )
        return cast("CampaignsCampaignOut", answer.json())

    async def campaigns_list_needs(self, campaign_id: str) -> CampaignsNeedList:
        """List Needs: GET /api/v1/campaigns/campaigns/{campaign_id}/needs."""
        answer = await self._call("GET", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/needs")
        return cast("CampaignsNeedList", answer.json())

    async def campaigns_add_need(self, campaign_id: str, *, body: CampaignsNeedIn) -> CampaignsNeedOut:
        """Add Need: POST /api/v1/campaigns/campaigns/{campaign_id}/needs. Owner: list something besides money the project needs (volunteers, a room, tools...)."""
        answer = await self._call(
            "POST", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/needs", json=body
        )
        return cast("CampaignsNeedOut", answer.json())

    async def campaigns_edit_need(
        self, campaign_id: str, need_id: str, *, body: CampaignsNeedEdit
    ) -> CampaignsNeedOut:
        """Edit Need: PATCH /api/v1/campaigns/campaigns/{campaign_id}/needs/{need_id}. Owner: change a need, or close it (`open: false`) once it is covered."""
        answer = await self._call(
            "PATCH",
            f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/needs/{_segment(need_id)}",
            json=body,
        )
        return cast("CampaignsNeedOut", answer.json())

    async def campaigns_list_offers(self, campaign_id: str, need_id: str) -> CampaignsOfferList:
        """List Offers: GET /api/v1/campaigns/campaigns/{campaign_id}/needs/{need_id}/offers. The owner sees every offer with its contact; anyone else sees only their own offers."""
        answer = await self._call(
            "GET", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/needs/{_segment(need_id)}/offers"
        )
        return cast("CampaignsOfferList", answer.json())

    async def campaigns_offer_help(
        self, campaign_id: str, need_id: str, *, body: CampaignsOfferIn
    ) -> CampaignsOfferOut:
        """Offer Help: POST /api/v1/campaigns/campaigns/{campaign_id}/needs/{need_id}/offers. Offer help against a need of a live campaign; the owner is notified."""
        answer = await self._call(
            "POST",
            f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/needs/{_segment(need_id)}/offers",
            json=body,
        )
        return cast("CampaignsOfferOut", answer.json())

    async def campaigns_decide_offer(
        self, campaign_id: str, need_id: str, offer_id: str, *, body: CampaignsOfferDecision
    ) -> CampaignsOfferOut:
        """Decide Offer: POST /api/v1/campaigns/campaigns/{campaign_id}/needs/{need_id}/offers/{offer_id}/decision. Owner: accept or decline an offer (accepting never exceeds the quantity needed)."""
        answer = await self._call(
            "POST",
            f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/needs/{_segment(need_id)}/offers/{_segment(offer_id)}/decision",
            json=body,
        )
        return cast("CampaignsOfferOut", answer.json())

    async def campaigns_confirm_delivered(
        self, campaign_id: str, need_id: str, offer_id: str
    ) -> CampaignsOfferOut:
        """Confirm Delivered: POST /api/v1/campaigns/campaigns/{campaign_id}/needs/{need_id}/offers/{offer_id}/delivered. Owner: the accepted help was delivered; its declared value counts from now on (toward the"""
        answer = await self._call(
            "POST",
            f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/needs/{_segment(need_id)}/offers/{_segment(offer_id)}/delivered",
        )
        return cast("CampaignsOfferOut", answer.json())

    async def campaigns_decide_owner_deleted(
        self, campaign_id: str, *, body: CampaignsOwnerDecision
    ) -> CampaignsCampaignOut:
        """Decide Owner Deleted: POST /api/v1/campaigns/campaigns/{campaign_id}/owner-decision. Admin: what becomes of a campaign whose owner deleted their account (409"""
        answer = await self._call(
            "POST", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/owner-decision", json=body
        )
        return cast("CampaignsCampaignOut", answer.json())

    async def campaigns_declare_permit(
        self, campaign_id: str, *, body: CampaignsPermitIn
    ) -> CampaignsPermitOut:
        """Declare Permit: POST /api/v1/campaigns/campaigns/{campaign_id}/permits. The owner, or an official of the labelling city, declares a permit required: the payout"""
        answer = await self._call(
            "POST", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/permits", json=body
        )
        return cast("CampaignsPermitOut", answer.json())

    async def campaigns_decide_permit(
        self, campaign_id: str, permit_id: str, *, body: CampaignsPermitDecision
    ) -> CampaignsPermitOut:
        """Decide Permit: POST /api/v1/campaigns/campaigns/{campaign_id}/permits/{permit_id}/decision. An official of the labelling city (the campaign's own city while none labels it) marks"""
        answer = await self._call(
            "POST",
            f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/permits/{_segment(permit_id)}/decision",
            json=body,
        )
        return cast("CampaignsPermitOut", answer.json())

    async def campaigns_get_record(self, campaign_id: str) -> CampaignsRecordOut:
        """Get Record: GET /api/v1/campaigns/campaigns/{campaign_id}/record. Everything the project receives: money, the cities' match, a call's award and votes,"""
        answer = await self._call("GET", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/record")
        return cast("CampaignsRecordOut", answer.json())

    async def campaigns_report_content(
        self, campaign_id: str, *, body: CampaignsReportIn
    ) -> CampaignsReportOut:
        """Report Content: POST /api/v1/campaigns/campaigns/{campaign_id}/reports. Report the campaign, one of its updates or an offer of help you can see. While your report"""
        answer = await self._call(
            "POST", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/reports", json=body
        )
        return cast("CampaignsReportOut", answer.json())

    async def campaigns_submit_campaign(self, campaign_id: str) -> CampaignsCampaignOut:
        """Submit Campaign: POST /api/v1/campaigns/campaigns/{campaign_id}/submit. Owner: send the draft to moderation (it can no longer be edited until returned)."""
        answer = await self._call("POST", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/submit")
        return cast("CampaignsCampaignOut", answer.json())

    async def campaigns_list_updates(
        self, campaign_id: str, *, cursor: str | None = None, limit: int | None = None
    ) -> CampaignsUpdatePage:
        """List Updates: GET /api/v1/campaigns/campaigns/{campaign_id}/updates. Newest first, cursor-paginated."""
        answer = await self._call(
            "GET",
            f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/updates",
            params={"cursor": cursor, "limit": limit},
        )
        return cast("CampaignsUpdatePage", answer.json())

    async def campaigns_post_update(self, campaign_id: str, *, body: CampaignsUpdateIn) -> CampaignsUpdateOut:
        """Post Update: POST /api/v1/campaigns/campaigns/{campaign_id}/updates. Owner, once published; followers and backers are notified."""
        answer = await self._call(
            "POST", f"/api/v1/campaigns/campaigns/{_segment(campaign_id)}/updates", json=body
        )
        return cast("CampaignsUpdateOut", answer.json())

    async def campaigns_campaigns_i_follow(self, *, limit: int | None = None) -> CampaignsCampaignPage:
        """Campaigns I Follow: GET /api/v1/campaigns/me/following. The campaigns the caller follows, most recently followed first."""
        answer = await self._call("GET", "/api/v1/campaigns/me/following", params={"limit": limit})
        return cast("CampaignsCampaignPage", answer.json())

    async def campaigns_list_parked(self, *, limit: int | None = None) -> CampaignsParkedQueues:
        """List Parked: GET /api/v1/campaigns/ops/parked. Admins: each consumer queue of this service with what it parked (first `limit`) and why."""
        answer = await self._call("GET", "/api/v1/campaigns/ops/parked", params={"limit": limit})
        return cast("CampaignsParkedQueues", answer.json())

    async def campaigns_replay_parked(self, queue: str, *, limit: int | None = None) -> CampaignsReplayed:
        """Replay Parked: POST /api/v1/campaigns/ops/parked/{queue}/replay. Admins: move up to `limit` parked messages of one of this service's queues back to it."""
        answer = await self._call(
            "POST", f"/api/v1/campaigns/ops/parked/{_segment(queue)}/replay", params={"limit": limit}
        )
        return cast("CampaignsReplayed", answer.json())

    async def campaigns_awaiting_owner_decision(
        self, *, limit: int | None = None
    ) -> CampaignsOwnerDecisionList:
        """Awaiting Owner Decision: GET /api/v1/campaigns/owner-decisions. Admin: live and submitted campaigns whose owner deleted their account, longest waiting first."""
        answer = await self._call("GET", "/api/v1/campaigns/owner-decisions", params={"limit": limit})
        return cast("CampaignsOwnerDecisionList", answer.json())

    async def campaigns_list_reports(
        self,
        *,
        state: Literal["open", "decided"] | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> CampaignsReportPage:
        """List Reports: GET /api/v1/campaigns/reports. Admins: the open reports, oldest first, or the decided ones (who, when, why), newest first."""
        answer = await self._call(
            "GET", "/api/v1/campaigns/reports", params={"state": state, "cursor": cursor, "limit": limit}
        )
        return cast("CampaignsReportPage", answer.json())

    async def campaigns_get_report(self, report_id: str) -> CampaignsReportOut:
        """Get Report: GET /api/v1/campaigns/reports/{report_id}."""
        answer = await self._call("GET", f"/api/v1/campaigns/reports/{_segment(report_id)}")
        return cast("CampaignsReportOut", answer.json())

    async def campaigns_decide_report(
        self, report_id: str, *, body: CampaignsReportDecisionIn
    ) -> CampaignsReportOut:
        """Decide Report: POST /api/v1/campaigns/reports/{report_id}/decision. Admins: `hide` the content (note required: its author is told why; every open report on"""
        answer = await self._call(
            "POST", f"/api/v1/campaigns/reports/{_segment(report_id)}/decision", json=body
        )
        return cast("CampaignsReportOut", answer.json())

    async def endorsements_get_call(self, call_id: str) -> EndorsementsCallOut:
        """Get Call: GET /api/v1/endorsements/calls/{call_id}."""
        answer = await self._call("GET", f"/api/v1/endorsements/calls/{_segment(call_id)}")
        return cast("EndorsementsCallOut", answer.json())

    async def endorsements_my_ballot(self, call_id: str) -> EndorsementsBallotOut:
        """My Ballot: GET /api/v1/endorsements/calls/{call_id}/ballot. The caller's ballot: lines and running total per heading, whether it is counted."""
        answer = await self._call("GET", f"/api/v1/endorsements/calls/{_segment(call_id)}/ballot")
        return cast("EndorsementsBallotOut", answer.json())

    async def endorsements_set_ballot(
        self, call_id: str, *, body: EndorsementsBallotSetupIn
    ) -> EndorsementsCallOut:
        """Set Ballot: PUT /api/v1/endorsements/calls/{call_id}/ballot-setup. The city sets the vote's rule, headings (budget, voters by postcode) and tie-break,"""
        answer = await self._call(
            "PUT", f"/api/v1/endorsements/calls/{_segment(call_id)}/ballot-setup", json=body
        )
        return cast("EndorsementsCallOut", answer.json())

    async def endorsements_checkout_ballot(self, call_id: str) -> EndorsementsBallotOut:
        """Checkout Ballot: POST /api/v1/endorsements/calls/{call_id}/ballot/checkout. Count the ballot; checking out again replaces the counted ballot until the vote closes."""
        answer = await self._call("POST", f"/api/v1/endorsements/calls/{_segment(call_id)}/ballot/checkout")
        return cast("EndorsementsBallotOut", answer.json())

    async def endorsements_remove_ballot_line(self, call_id: str, proposal_id: str) -> EndorsementsBallotOut:
        """Remove Ballot Line: DELETE /api/v1/endorsements/calls/{call_id}/ballot/lines/{proposal_id}."""
        answer = await self._call(
            "DELETE", f"/api/v1/endorsements/calls/{_segment(call_id)}/ballot/lines/{_segment(proposal_id)}"
        )
        return cast("EndorsementsBallotOut", answer.json())

    async def endorsements_add_ballot_line(self, call_id: str, proposal_id: str) -> EndorsementsBallotOut:
        """Add Ballot Line: PUT /api/v1/endorsements/calls/{call_id}/ballot/lines/{proposal_id}."""
        answer = await self._call(
            "PUT", f"/api/v1/endorsements/calls/{_segment(call_id)}/ballot/lines/{_segment(proposal_id)}"
        )
        return cast("EndorsementsBallotOut", answer.json())

    async def endorsements_published_ballots(
        self, call_id: str, *, offset: int | None = None, limit: int | None = None
    ) -> EndorsementsCountedBallotsOut:
        """Published Ballots: GET /api/v1/endorsements/calls/{call_id}/ballots. Every counted ballot (pseudonymous) and their digest: anyone can recount the results."""
        answer = await self._call(
            "GET",
            f"/api/v1/endorsements/calls/{_segment(call_id)}/ballots",
            params={"offset": offset, "limit": limit},
        )
        return cast("EndorsementsCountedBallotsOut", answer.json())

    async def endorsements_close_call(self, call_id: str) -> EndorsementsCallOut:
        """Close Call: POST /api/v1/endorsements/calls/{call_id}/close. Close a call without winners (canceled or abandoned)."""
        answer = await self._call("POST", f"/api/v1/endorsements/calls/{_segment(call_id)}/close")
        return cast("EndorsementsCallOut", answer.json())

    async def endorsements_enter_paper_ballot(
        self, call_id: str, *, body: EndorsementsPaperBallotIn
    ) -> EndorsementsPaperBallotOut:
        """Enter Paper Ballot: POST /api/v1/endorsements/calls/{call_id}/paper-ballots. An official of the city enters a polling station's paper ballot (who entered it is kept)."""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/calls/{_segment(call_id)}/paper-ballots", json=body
        )
        return cast("EndorsementsPaperBallotOut", answer.json())

    async def endorsements_list_proposals(self, call_id: str) -> EndorsementsProposalsOut:
        """List Proposals: GET /api/v1/endorsements/calls/{call_id}/proposals."""
        answer = await self._call("GET", f"/api/v1/endorsements/calls/{_segment(call_id)}/proposals")
        return cast("EndorsementsProposalsOut", answer.json())

    async def endorsements_submit_proposal(
        self, call_id: str, *, body: EndorsementsProposalIn
    ) -> EndorsementsProposalOut:
        """Submit Proposal: POST /api/v1/endorsements/calls/{call_id}/proposals."""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/calls/{_segment(call_id)}/proposals", json=body
        )
        return cast("EndorsementsProposalOut", answer.json())

    async def endorsements_my_residency(self, call_id: str) -> EndorsementsVerificationOut:
        """My Residency: GET /api/v1/endorsements/calls/{call_id}/residency. Whether the caller has proved residency for this call, and which proofs the city takes."""
        answer = await self._call("GET", f"/api/v1/endorsements/calls/{_segment(call_id)}/residency")
        return cast("EndorsementsVerificationOut", answer.json())

    async def endorsements_prove_by_census(
        self, call_id: str, *, body: EndorsementsCensusClaimIn
    ) -> EndorsementsVerificationOut:
        """Prove By Census: POST /api/v1/endorsements/calls/{call_id}/residency/census. Prove residency with the census: document number, birth date and postcode as the city's"""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/calls/{_segment(call_id)}/residency/census", json=body
        )
        return cast("EndorsementsVerificationOut", answer.json())

    async def endorsements_prove_by_letter(
        self, call_id: str, *, body: EndorsementsLetterClaimIn
    ) -> EndorsementsVerificationOut:
        """Prove By Letter: POST /api/v1/endorsements/calls/{call_id}/residency/letter. Prove residency with the code of the letter the city posted. One code verifies one"""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/calls/{_segment(call_id)}/residency/letter", json=body
        )
        return cast("EndorsementsVerificationOut", answer.json())

    async def endorsements_call_results(self, call_id: str) -> EndorsementsResultsOut:
        """Call Results: GET /api/v1/endorsements/calls/{call_id}/results. Public once the vote closed (no bandwagon effect while it runs); officials and the city's"""
        answer = await self._call("GET", f"/api/v1/endorsements/calls/{_segment(call_id)}/results")
        return cast("EndorsementsResultsOut", answer.json())

    async def endorsements_reschedule_call(
        self, call_id: str, *, body: EndorsementsScheduleIn
    ) -> EndorsementsCallOut:
        """Reschedule Call: POST /api/v1/endorsements/calls/{call_id}/schedule. Extend or shorten a running call's windows (e.g. close submissions early, open the vote)."""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/calls/{_segment(call_id)}/schedule", json=body
        )
        return cast("EndorsementsCallOut", answer.json())

    async def endorsements_select_winners(
        self, call_id: str, *, idempotency_key: str, body: EndorsementsSelectionIn
    ) -> EndorsementsSelectionOut:
        """Select Winners: POST /api/v1/endorsements/calls/{call_id}/selection. Award the winners (money: Idempotency-Key). Jury mode takes the winners in the body;"""
        answer = await self._call(
            "POST",
            f"/api/v1/endorsements/calls/{_segment(call_id)}/selection",
            headers={"Idempotency-Key": idempotency_key},
            json=body,
        )
        return cast("EndorsementsSelectionOut", answer.json())

    async def endorsements_vote_statistics(self, call_id: str) -> EndorsementsStatisticsOut:
        """Vote Statistics: GET /api/v1/endorsements/calls/{call_id}/statistics. For the city's officials: turnout by neighbourhood (postcode) and channel (online / paper)."""
        answer = await self._call("GET", f"/api/v1/endorsements/calls/{_segment(call_id)}/statistics")
        return cast("EndorsementsStatisticsOut", answer.json())

    async def endorsements_campaign_label_requests(self, campaign_id: str) -> EndorsementsLabelRequestsOut:
        """Campaign Label Requests: GET /api/v1/endorsements/campaigns/{campaign_id}/label-requests. The owner's (or an admin's) view of every label request for the campaign, in every status"""
        answer = await self._call(
            "GET", f"/api/v1/endorsements/campaigns/{_segment(campaign_id)}/label-requests"
        )
        return cast("EndorsementsLabelRequestsOut", answer.json())

    async def endorsements_campaign_labels(self, campaign_id: str) -> EndorsementsCampaignLabelsOut:
        """Campaign Labels: GET /api/v1/endorsements/campaigns/{campaign_id}/labels. What a campaign page shows: granted labels, their support offers and match commitments."""
        answer = await self._call("GET", f"/api/v1/endorsements/campaigns/{_segment(campaign_id)}/labels")
        return cast("EndorsementsCampaignLabelsOut", answer.json())

    async def endorsements_get_commitment(self, commitment_id: str) -> EndorsementsCommitmentOut:
        """Get Commitment: GET /api/v1/endorsements/commitments/{commitment_id}."""
        answer = await self._call("GET", f"/api/v1/endorsements/commitments/{_segment(commitment_id)}")
        return cast("EndorsementsCommitmentOut", answer.json())

    async def endorsements_accept_invitation(self, *, body: EndorsementsAcceptIn) -> EndorsementsOfficialOut:
        """Accept Invitation: POST /api/v1/endorsements/invitations/accept."""
        answer = await self._call("POST", "/api/v1/endorsements/invitations/accept", json=body)
        return cast("EndorsementsOfficialOut", answer.json())

    async def endorsements_request_label(self, *, body: EndorsementsLabelRequestIn) -> EndorsementsLabelOut:
        """Request Label: POST /api/v1/endorsements/labels. A campaign owner asks a city for its label."""
        answer = await self._call("POST", "/api/v1/endorsements/labels", json=body)
        return cast("EndorsementsLabelOut", answer.json())

    async def endorsements_get_label(self, label_id: str) -> EndorsementsLabelOut:
        """Get Label: GET /api/v1/endorsements/labels/{label_id}. Granted and revoked labels are public; a pending one is visible to the campaign's owner,"""
        answer = await self._call("GET", f"/api/v1/endorsements/labels/{_segment(label_id)}")
        return cast("EndorsementsLabelOut", answer.json())

    async def endorsements_add_commitment(
        self, label_id: str, *, idempotency_key: str, body: EndorsementsMatchIn
    ) -> EndorsementsCommitmentOut:
        """Add Commitment: POST /api/v1/endorsements/labels/{label_id}/commitments. Commit match funds to an already granted label (manager of the label's city)."""
        answer = await self._call(
            "POST",
            f"/api/v1/endorsements/labels/{_segment(label_id)}/commitments",
            headers={"Idempotency-Key": idempotency_key},
            json=body,
        )
        return cast("EndorsementsCommitmentOut", answer.json())

    async def endorsements_decline_label(
        self, label_id: str, *, body: EndorsementsReasonIn
    ) -> EndorsementsLabelOut:
        """Decline Label: POST /api/v1/endorsements/labels/{label_id}/decline."""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/labels/{_segment(label_id)}/decline", json=body
        )
        return cast("EndorsementsLabelOut", answer.json())

    async def endorsements_grant_label(
        self, label_id: str, *, body: EndorsementsGrantIn, idempotency_key: str | None = None
    ) -> EndorsementsLabelOut:
        """Grant Label: POST /api/v1/endorsements/labels/{label_id}/grant. Grant the label with its support offers; with `match`, also commit city money from a"""
        answer = await self._call(
            "POST",
            f"/api/v1/endorsements/labels/{_segment(label_id)}/grant",
            headers={"Idempotency-Key": idempotency_key},
            json=body,
        )
        return cast("EndorsementsLabelOut", answer.json())

    async def endorsements_preview_match(
        self, label_id: str, *, body: EndorsementsMatchIn
    ) -> EndorsementsMatchPreviewOut:
        """Preview Match: POST /api/v1/endorsements/labels/{label_id}/match-preview. What a match rule would cost for the label's campaign at its current totals, before"""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/labels/{_segment(label_id)}/match-preview", json=body
        )
        return cast("EndorsementsMatchPreviewOut", answer.json())

    async def endorsements_start_review(self, label_id: str) -> EndorsementsLabelOut:
        """Start Review: POST /api/v1/endorsements/labels/{label_id}/review."""
        answer = await self._call("POST", f"/api/v1/endorsements/labels/{_segment(label_id)}/review")
        return cast("EndorsementsLabelOut", answer.json())

    async def endorsements_revoke_label(
        self, label_id: str, *, body: EndorsementsReasonIn
    ) -> EndorsementsLabelOut:
        """Revoke Label: POST /api/v1/endorsements/labels/{label_id}/revoke. Withdraw a granted label; the reason is public. Pending conditional match funds are"""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/labels/{_segment(label_id)}/revoke", json=body
        )
        return cast("EndorsementsLabelOut", answer.json())

    async def endorsements_list_municipalities(self) -> EndorsementsMunicipalitiesOut:
        """List Municipalities: GET /api/v1/endorsements/municipalities."""
        answer = await self._call("GET", "/api/v1/endorsements/municipalities")
        return cast("EndorsementsMunicipalitiesOut", answer.json())

    async def endorsements_register_municipality(
        self, *, body: EndorsementsMunicipalityIn
    ) -> EndorsementsMunicipalityOut:
        """Register Municipality: POST /api/v1/endorsements/municipalities."""
        answer = await self._call("POST", "/api/v1/endorsements/municipalities", json=body)
        return cast("EndorsementsMunicipalityOut", answer.json())

    async def endorsements_get_municipality(self, slug: str) -> EndorsementsMunicipalityOut:
        """Get Municipality: GET /api/v1/endorsements/municipalities/{slug}. `subscription_active` says whether the city may label, commit and award now."""
        answer = await self._call("GET", f"/api/v1/endorsements/municipalities/{_segment(slug)}")
        return cast("EndorsementsMunicipalityOut", answer.json())

    async def endorsements_edit_municipality(
        self, slug: str, *, body: EndorsementsMunicipalityPatch
    ) -> EndorsementsMunicipalityOut:
        """Edit Municipality: PATCH /api/v1/endorsements/municipalities/{slug}."""
        answer = await self._call("PATCH", f"/api/v1/endorsements/municipalities/{_segment(slug)}", json=body)
        return cast("EndorsementsMunicipalityOut", answer.json())

    async def endorsements_create_amqp_user(self, slug: str) -> EndorsementsAmqpUserOut:
        """Create Amqp User: POST /api/v1/endorsements/municipalities/{slug}/amqp-user. The city's managers (and admins) get the credentials of its feed; they are shown once,"""
        answer = await self._call("POST", f"/api/v1/endorsements/municipalities/{_segment(slug)}/amqp-user")
        return cast("EndorsementsAmqpUserOut", answer.json())

    async def endorsements_list_calls(self, slug: str) -> EndorsementsCallsOut:
        """List Calls: GET /api/v1/endorsements/municipalities/{slug}/calls."""
        answer = await self._call("GET", f"/api/v1/endorsements/municipalities/{_segment(slug)}/calls")
        return cast("EndorsementsCallsOut", answer.json())

    async def endorsements_open_call(self, slug: str, *, body: EndorsementsCallIn) -> EndorsementsCallOut:
        """Open Call: POST /api/v1/endorsements/municipalities/{slug}/calls."""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/municipalities/{_segment(slug)}/calls", json=body
        )
        return cast("EndorsementsCallOut", answer.json())

    async def endorsements_city_events(
        self, slug: str, *, after: str | None = None, limit: int | None = None
    ) -> EndorsementsFeedOut:
        """City Events: GET /api/v1/endorsements/municipalities/{slug}/events. The city's public events after `after`, oldest first (managers of the city and the"""
        answer = await self._call(
            "GET",
            f"/api/v1/endorsements/municipalities/{_segment(slug)}/events",
            params={"after": after, "limit": limit},
        )
        return cast("EndorsementsFeedOut", answer.json())

    async def endorsements_invite_official(
        self, slug: str, *, body: EndorsementsInviteIn
    ) -> EndorsementsInvitationOut:
        """Invite Official: POST /api/v1/endorsements/municipalities/{slug}/invitations. The token travels only in `official.invited` (the notifications service emails it):"""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/municipalities/{_segment(slug)}/invitations", json=body
        )
        return cast("EndorsementsInvitationOut", answer.json())

    async def endorsements_open_review(
        self, slug: str, *, body: EndorsementsCityReviewIn
    ) -> EndorsementsLabelOut:
        """Open Review: POST /api/v1/endorsements/municipalities/{slug}/labels. A city takes up a campaign from its queue without waiting for a request."""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/municipalities/{_segment(slug)}/labels", json=body
        )
        return cast("EndorsementsLabelOut", answer.json())

    async def endorsements_list_officials(self, slug: str) -> EndorsementsOfficialsOut:
        """List Officials: GET /api/v1/endorsements/municipalities/{slug}/officials."""
        answer = await self._call("GET", f"/api/v1/endorsements/municipalities/{_segment(slug)}/officials")
        return cast("EndorsementsOfficialsOut", answer.json())

    async def endorsements_appoint_official_by_email(
        self, slug: str, *, body: EndorsementsAppointByEmailIn
    ) -> EndorsementsOfficialOut:
        """Appoint Official By Email: POST /api/v1/endorsements/municipalities/{slug}/officials. Appoint (or change the role of) the person whose account has this email; 404"""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/municipalities/{_segment(slug)}/officials", json=body
        )
        return cast("EndorsementsOfficialOut", answer.json())

    async def endorsements_remove_official(self, user_id: str, slug: str) -> None:
        """Remove Official: DELETE /api/v1/endorsements/municipalities/{slug}/officials/{user_id}. Access ends at once (this service's officials list is the authority)."""
        await self._call(
            "DELETE", f"/api/v1/endorsements/municipalities/{_segment(slug)}/officials/{_segment(user_id)}"
        )

    async def endorsements_appoint_official(
        self, user_id: str, slug: str, *, body: EndorsementsAppointIn
    ) -> EndorsementsOfficialOut:
        """Appoint Official: PUT /api/v1/endorsements/municipalities/{slug}/officials/{user_id}. Direct appointment (or a role change); the gateway puts the role in the user's next token."""
        answer = await self._call(
            "PUT",
            f"/api/v1/endorsements/municipalities/{_segment(slug)}/officials/{_segment(user_id)}",
            json=body,
        )
        return cast("EndorsementsOfficialOut", answer.json())

    async def endorsements_own_project(
        self, slug: str, *, body: EndorsementsOwnProjectIn
    ) -> EndorsementsLabelOut:
        """Own Project: POST /api/v1/endorsements/municipalities/{slug}/own-projects. The city's own project: a campaign the calling manager created for the city is labelled"""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/municipalities/{_segment(slug)}/own-projects", json=body
        )
        return cast("EndorsementsLabelOut", answer.json())

    async def endorsements_city_page(self, slug: str) -> EndorsementsCityPageOut:
        """City Page: GET /api/v1/endorsements/municipalities/{slug}/page."""
        answer = await self._call("GET", f"/api/v1/endorsements/municipalities/{_segment(slug)}/page")
        return cast("EndorsementsCityPageOut", answer.json())

    async def endorsements_list_pools(self, slug: str) -> EndorsementsPoolsOut:
        """List Pools: GET /api/v1/endorsements/municipalities/{slug}/pools. The city's pools with what is committed and given (officials, the city's own systems)."""
        answer = await self._call("GET", f"/api/v1/endorsements/municipalities/{_segment(slug)}/pools")
        return cast("EndorsementsPoolsOut", answer.json())

    async def endorsements_create_pool(
        self, slug: str, *, idempotency_key: str, body: EndorsementsPoolIn
    ) -> EndorsementsPoolOut:
        """Create Pool: POST /api/v1/endorsements/municipalities/{slug}/pools."""
        answer = await self._call(
            "POST",
            f"/api/v1/endorsements/municipalities/{_segment(slug)}/pools",
            headers={"Idempotency-Key": idempotency_key},
            json=body,
        )
        return cast("EndorsementsPoolOut", answer.json())

    async def endorsements_change_pool(
        self, pool_id: str, slug: str, *, body: EndorsementsPoolChange
    ) -> EndorsementsPoolOut:
        """Change Pool: PATCH /api/v1/endorsements/municipalities/{slug}/pools/{pool_id}. Accept residents' gifts into the pool, or stop (a manager of the city; one pool per year"""
        answer = await self._call(
            "PATCH",
            f"/api/v1/endorsements/municipalities/{_segment(slug)}/pools/{_segment(pool_id)}",
            json=body,
        )
        return cast("EndorsementsPoolOut", answer.json())

    async def endorsements_residency_overview(self, slug: str) -> EndorsementsResidencyOut:
        """Residency Overview: GET /api/v1/endorsements/municipalities/{slug}/residency. How the city verifies residents, the size of its census, letters made and used."""
        answer = await self._call("GET", f"/api/v1/endorsements/municipalities/{_segment(slug)}/residency")
        return cast("EndorsementsResidencyOut", answer.json())

    async def endorsements_configure_residency(
        self, slug: str, *, body: EndorsementsResidencySettingsIn
    ) -> EndorsementsResidencyOut:
        """Configure Residency: PUT /api/v1/endorsements/municipalities/{slug}/residency. Choose the proofs of residency the city accepts for its votes (managers)."""
        answer = await self._call(
            "PUT", f"/api/v1/endorsements/municipalities/{_segment(slug)}/residency", json=body
        )
        return cast("EndorsementsResidencyOut", answer.json())

    async def endorsements_upload_census(
        self, slug: str, *, body: str | bytes
    ) -> EndorsementsCensusUploadOut:
        """Upload Census: PUT /api/v1/endorsements/municipalities/{slug}/residency/census. Replace the city's census with a CSV file (columns document_number, birth_date as"""
        answer = await self._call(
            "PUT",
            f"/api/v1/endorsements/municipalities/{_segment(slug)}/residency/census",
            content=body,
            headers={"content-type": "text/csv"},
        )
        return cast("EndorsementsCensusUploadOut", answer.json())

    async def endorsements_make_letters(
        self, slug: str, *, body: EndorsementsLetterBatchIn
    ) -> EndorsementsLetterBatchOut:
        """Make Letters: POST /api/v1/endorsements/municipalities/{slug}/residency/letters. Make one letter per address, each with its own code, for the city to print and post. The"""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/municipalities/{_segment(slug)}/residency/letters", json=body
        )
        return cast("EndorsementsLetterBatchOut", answer.json())

    async def endorsements_review_queue(self, slug: str) -> EndorsementsReviewQueueOut:
        """Review Queue: GET /api/v1/endorsements/municipalities/{slug}/review-queue. Campaigns in the city's territory, with their label if any; unlabelled and requested first"""
        answer = await self._call("GET", f"/api/v1/endorsements/municipalities/{_segment(slug)}/review-queue")
        return cast("EndorsementsReviewQueueOut", answer.json())

    async def endorsements_grant_trial(
        self, slug: str, *, body: EndorsementsTrialIn
    ) -> EndorsementsMunicipalityOut:
        """Grant Trial: POST /api/v1/endorsements/municipalities/{slug}/trial."""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/municipalities/{_segment(slug)}/trial", json=body
        )
        return cast("EndorsementsMunicipalityOut", answer.json())

    async def endorsements_list_parked(self, *, limit: int | None = None) -> EndorsementsParkedQueues:
        """List Parked: GET /api/v1/endorsements/ops/parked. Admins: each consumer queue of this service with what it parked (first `limit`) and why."""
        answer = await self._call("GET", "/api/v1/endorsements/ops/parked", params={"limit": limit})
        return cast("EndorsementsParkedQueues", answer.json())

    async def endorsements_replay_parked(
        self, queue: str, *, limit: int | None = None
    ) -> EndorsementsReplayed:
        """Replay Parked: POST /api/v1/endorsements/ops/parked/{queue}/replay. Admins: move up to `limit` parked messages of one of this service's queues back to it."""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/ops/parked/{_segment(queue)}/replay", params={"limit": limit}
        )
        return cast("EndorsementsReplayed", answer.json())

    async def endorsements_shortlist_proposal(
        self, proposal_id: str, *, body: EndorsementsNoteIn
    ) -> EndorsementsProposalOut:
        """Shortlist Proposal: POST /api/v1/endorsements/proposals/{proposal_id}/shortlist."""
        answer = await self._call(
            "POST", f"/api/v1/endorsements/proposals/{_segment(proposal_id)}/shortlist", json=body
        )
        return cast("EndorsementsProposalOut", answer.json())

    async def endorsements_cast_vote(self, proposal_id: str) -> EndorsementsVoteOut:
        """Cast Vote: POST /api/v1/endorsements/proposals/{proposal_id}/votes. One vote per proposal, `votes_per_resident` per call; residents only (declared postcode)."""
        answer = await self._call("POST", f"/api/v1/endorsements/proposals/{_segment(proposal_id)}/votes")
        return cast("EndorsementsVoteOut", answer.json())

    async def notifications_my_inbox(
        self, *, unread_only: bool | None = None, limit: int | None = None, before: str | None = None
    ) -> NotificationsInbox:
        """My Inbox: GET /api/v1/notifications/me."""
        answer = await self._call(
            "GET",
            "/api/v1/notifications/me",
            params={"unread_only": unread_only, "limit": limit, "before": before},
        )
        return cast("NotificationsInbox", answer.json())

    async def notifications_mark_read(self, item_id: str) -> NotificationsUnreadCount:
        """Mark Read: POST /api/v1/notifications/me/items/{item_id}/read."""
        answer = await self._call("POST", f"/api/v1/notifications/me/items/{_segment(item_id)}/read")
        return cast("NotificationsUnreadCount", answer.json())

    async def notifications_my_preferences(self) -> NotificationsPreferencesOut:
        """My Preferences: GET /api/v1/notifications/me/preferences."""
        answer = await self._call("GET", "/api/v1/notifications/me/preferences")
        return cast("NotificationsPreferencesOut", answer.json())

    async def notifications_change_preferences(
        self, *, body: NotificationsPreferencesIn
    ) -> NotificationsPreferencesOut:
        """Change Preferences: PUT /api/v1/notifications/me/preferences. Partial: only the categories and channels given change."""
        answer = await self._call("PUT", "/api/v1/notifications/me/preferences", json=body)
        return cast("NotificationsPreferencesOut", answer.json())

    async def notifications_mark_all_read(self) -> NotificationsUnreadCount:
        """Mark All Read: POST /api/v1/notifications/me/read-all."""
        answer = await self._call("POST", "/api/v1/notifications/me/read-all")
        return cast("NotificationsUnreadCount", answer.json())

    async def notifications_my_unread_count(self) -> NotificationsUnreadCount:
        """My Unread Count: GET /api/v1/notifications/me/unread-count."""
        answer = await self._call("GET", "/api/v1/notifications/me/unread-count")
        return cast("NotificationsUnreadCount", answer.json())

    async def notifications_list_parked(self, *, limit: int | None = None) -> NotificationsParkedQueues:
        """List Parked: GET /api/v1/notifications/ops/parked. Admins: each consumer queue of this service with what it parked (first `limit`) and why."""
        answer = await self._call("GET", "/api/v1/notifications/ops/parked", params={"limit": limit})
        return cast("NotificationsParkedQueues", answer.json())

    async def notifications_replay_parked(
        self, queue: str, *, limit: int | None = None
    ) -> NotificationsServicekitParkedReplayed:
        """Replay Parked: POST /api/v1/notifications/ops/parked/{queue}/replay. Admins: move up to `limit` parked messages of one of this service's queues back to it."""
        answer = await self._call(
            "POST", f"/api/v1/notifications/ops/parked/{_segment(queue)}/replay", params={"limit": limit}
        )
        return cast("NotificationsServicekitParkedReplayed", answer.json())

    async def notifications_unsubscribe_page(self, *, token: str) -> str:
        """Unsubscribe Page: GET /api/v1/notifications/unsubscribe. Shows a confirmation button: mail scanners follow GET links, so GET changes nothing."""
        return (await self._call("GET", "/api/v1/notifications/unsubscribe", params={"token": token})).text

    async def notifications_unsubscribe(self, *, token: str) -> str:
        """Unsubscribe: POST /api/v1/notifications/unsubscribe. The form's target and RFC 8058 one-click (`List-Unsubscribe-Post`)."""
        return (await self._call("POST", "/api/v1/notifications/unsubscribe", params={"token": token})).text

    async def notifications_list_endpoints(self, *, municipality: str) -> NotificationsEndpointList:
        """List Endpoints: GET /api/v1/notifications/webhooks/endpoints."""
        answer = await self._call(
            "GET", "/api/v1/notifications/webhooks/endpoints", params={"municipality": municipality}
        )
        return cast("NotificationsEndpointList", answer.json())

    async def notifications_register_endpoint(
        self, *, body: NotificationsEndpointIn
    ) -> NotificationsEndpointCreated:
        """Register Endpoint: POST /api/v1/notifications/webhooks/endpoints."""
        answer = await self._call("POST", "/api/v1/notifications/webhooks/endpoints", json=body)
        return cast("NotificationsEndpointCreated", answer.json())

    async def notifications_delete_endpoint(self, endpoint_id: str) -> None:
        """Delete Endpoint: DELETE /api/v1/notifications/webhooks/endpoints/{endpoint_id}. Stops deliveries; the endpoint and its log are kept for the record, secrets are dropped."""
        await self._call("DELETE", f"/api/v1/notifications/webhooks/endpoints/{_segment(endpoint_id)}")

    async def notifications_get_endpoint(self, endpoint_id: str) -> NotificationsEndpointOut:
        """Get Endpoint: GET /api/v1/notifications/webhooks/endpoints/{endpoint_id}."""
        answer = await self._call("GET", f"/api/v1/notifications/webhooks/endpoints/{_segment(endpoint_id)}")
        return cast("NotificationsEndpointOut", answer.json())

    async def notifications_change_endpoint(
        self, endpoint_id: str, *, body: NotificationsEndpointPatch
    ) -> NotificationsEndpointOut:
        """Change Endpoint: PATCH /api/v1/notifications/webhooks/endpoints/{endpoint_id}. `enabled: true` re-enables a disabled endpoint: held deliveries flow again."""
        answer = await self._call(
            "PATCH", f"/api/v1/notifications/webhooks/endpoints/{_segment(endpoint_id)}", json=body
        )
        return cast("NotificationsEndpointOut", answer.json())

    async def notifications_delivery_log(
        self,
        endpoint_id: str,
        *,
        status: Literal["pending", "sending", "delivered", "failed"] | None = None,
        before: str | None = None,
        limit: int | None = None,
    ) -> NotificationsDeliveryList:
        """Delivery Log: GET /api/v1/notifications/webhooks/endpoints/{endpoint_id}/deliveries."""
        answer = await self._call(
            "GET",
            f"/api/v1/notifications/webhooks/endpoints/{_segment(endpoint_id)}/deliveries",
            params={"status": status, "before": before, "limit": limit},
        )
        return cast("NotificationsDeliveryList", answer.json())

    async def notifications_replay_one(
        self, endpoint_id: str, delivery_id: str
    ) -> NotificationsNotificationsWebhooksApiReplayed:
        """Replay One: POST /api/v1/notifications/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/replay."""
        answer = await self._call(
            "POST",
            f"/api/v1/notifications/webhooks/endpoints/{_segment(endpoint_id)}/deliveries/{_segment(delivery_id)}/replay",
        )
        return cast("NotificationsNotificationsWebhooksApiReplayed", answer.json())

    async def notifications_replay_since(
        self, endpoint_id: str, *, body: NotificationsReplayIn
    ) -> NotificationsNotificationsWebhooksApiReplayed:
        """Replay Since: POST /api/v1/notifications/webhooks/endpoints/{endpoint_id}/replay. Delivers again every event this endpoint was sent since `since` (optionally only the"""
        answer = await self._call(
            "POST", f"/api/v1/notifications/webhooks/endpoints/{_segment(endpoint_id)}/replay", json=body
        )
        return cast("NotificationsNotificationsWebhooksApiReplayed", answer.json())

    async def notifications_rotate_secret(
        self, endpoint_id: str, *, body: NotificationsRotateIn | None
    ) -> NotificationsEndpointCreated:
        """Rotate Secret: POST /api/v1/notifications/webhooks/endpoints/{endpoint_id}/rotate-secret. A new secret (shown once); the previous one keeps signing for the grace period, so the"""
        answer = await self._call(
            "POST",
            f"/api/v1/notifications/webhooks/endpoints/{_segment(endpoint_id)}/rotate-secret",
            json=body,
        )
        return cast("NotificationsEndpointCreated", answer.json())

    async def notifications_event_types(self) -> NotificationsEventTypes:
        """Event Types: GET /api/v1/notifications/webhooks/event-types."""
        answer = await self._call("GET", "/api/v1/notifications/webhooks/event-types")
        return cast("NotificationsEventTypes", answer.json())

    async def gateway_campaign_page(self, campaign_id: str) -> GatewayCampaignPage:
        """Campaign Page: GET /api/v1/pages/campaigns/{campaign_id}."""
        answer = await self._call("GET", f"/api/v1/pages/campaigns/{_segment(campaign_id)}")
        return cast("GatewayCampaignPage", answer.json())

    async def payments_campaign_matches(self, campaign_id: str) -> PaymentsCampaignMatchPage:
        """Campaign Matches: GET /api/v1/payments/campaigns/{campaign_id}/city-matches. Public: each city's match for the campaign, as promised / due / received."""
        answer = await self._call("GET", f"/api/v1/payments/campaigns/{_segment(campaign_id)}/city-matches")
        return cast("PaymentsCampaignMatchPage", answer.json())

    async def payments_fallback_options(self, campaign_id: str) -> PaymentsFallbackOptionsOut:
        """Fallback Options: GET /api/v1/payments/campaigns/{campaign_id}/fallback-options. Public: whether the campaign's backers may give to their city's pool if it fails."""
        answer = await self._call(
            "GET", f"/api/v1/payments/campaigns/{_segment(campaign_id)}/fallback-options"
        )
        return cast("PaymentsFallbackOptionsOut", answer.json())

    async def payments_campaign_ledger(self, campaign_id: str) -> PaymentsLedgerOut:
        """Campaign Ledger: GET /api/v1/payments/campaigns/{campaign_id}/ledger."""
        answer = await self._call("GET", f"/api/v1/payments/campaigns/{_segment(campaign_id)}/ledger")
        return cast("PaymentsLedgerOut", answer.json())

    async def payments_open_milestones(self, campaign_id: str) -> PaymentsMilestonePage:
        """Open Milestones: GET /api/v1/payments/campaigns/{campaign_id}/milestones. Public: the campaign's later tranches and their milestones (backers object to open ones)."""
        answer = await self._call("GET", f"/api/v1/payments/campaigns/{_segment(campaign_id)}/milestones")
        return cast("PaymentsMilestonePage", answer.json())

    async def payments_get_payout_plan(self, campaign_id: str) -> PaymentsPayoutPlanOut:
        """Get Payout Plan: GET /api/v1/payments/campaigns/{campaign_id}/payout-plan. The owner and admins (one tranche of 100 % when none was set)."""
        answer = await self._call("GET", f"/api/v1/payments/campaigns/{_segment(campaign_id)}/payout-plan")
        return cast("PaymentsPayoutPlanOut", answer.json())

    async def payments_put_payout_plan(
        self, campaign_id: str, *, idempotency_key: str, body: PaymentsPayoutPlanIn
    ) -> PaymentsPayoutPlanOut:
        """Put Payout Plan: PUT /api/v1/payments/campaigns/{campaign_id}/payout-plan. The owner splits the payout into tranches (percentages summing to 100, at most 5; every"""
        answer = await self._call(
            "PUT",
            f"/api/v1/payments/campaigns/{_segment(campaign_id)}/payout-plan",
            headers={"Idempotency-Key": idempotency_key},
            json=body,
        )
        return cast("PaymentsPayoutPlanOut", answer.json())

    async def payments_campaign_payouts(self, campaign_id: str) -> PaymentsPayoutPage:
        """Campaign Payouts: GET /api/v1/payments/campaigns/{campaign_id}/payouts. The campaign's owner and admins (404 for anyone else)."""
        answer = await self._call("GET", f"/api/v1/payments/campaigns/{_segment(campaign_id)}/payouts")
        return cast("PaymentsPayoutPage", answer.json())

    async def payments_campaign_reconciliation(self, campaign_id: str) -> PaymentsReconciliationOut:
        """Campaign Reconciliation: GET /api/v1/payments/campaigns/{campaign_id}/reconciliation."""
        answer = await self._call("GET", f"/api/v1/payments/campaigns/{_segment(campaign_id)}/reconciliation")
        return cast("PaymentsReconciliationOut", answer.json())

    async def payments_refund_campaign(
        self, campaign_id: str, *, idempotency_key: str, body: PaymentsCampaignRefundIn
    ) -> PaymentsCampaignRefundOut:
        """Refund Campaign: POST /api/v1/payments/campaigns/{campaign_id}/refund-all. Admins: the project will not happen. Every paid pledge is refunded (in the background,"""
        answer = await self._call(
            "POST",
            f"/api/v1/payments/campaigns/{_segment(campaign_id)}/refund-all",
            headers={"Idempotency-Key": idempotency_key},
            json=body,
        )
        return cast("PaymentsCampaignRefundOut", answer.json())

    async def payments_list_dues(
        self,
        *,
        municipality: str | None = None,
        status: Literal["transfer_declared"] | None = None,
        limit: int | None = None,
    ) -> PaymentsDuePage:
        """List Dues: GET /api/v1/payments/city-dues. A city's dues (its officials, admins), or with status=transfer_declared every transfer"""
        answer = await self._call(
            "GET",
            "/api/v1/payments/city-dues",
            params={"municipality": municipality, "status": status, "limit": limit},
        )
        return cast("PaymentsDuePage", answer.json())

    async def payments_confirm_transfer(self, due_id: str, *, idempotency_key: str) -> PaymentsDueOut:
        """Confirm Transfer: POST /api/v1/payments/city-dues/{due_id}/transfer-confirmation. An admin confirms the transfer received (money: Idempotency-Key); the ledger records it."""
        answer = await self._call(
            "POST",
            f"/api/v1/payments/city-dues/{_segment(due_id)}/transfer-confirmation",
            headers={"Idempotency-Key": idempotency_key},
        )
        return cast("PaymentsDueOut", answer.json())

    async def payments_declare_transfer(
        self, due_id: str, *, idempotency_key: str, body: PaymentsTransferIn
    ) -> PaymentsDueOut:
        """Declare Transfer: POST /api/v1/payments/city-dues/{due_id}/transfer-declaration. A manager of the city declares the bank transfer sent (money: Idempotency-Key)."""
        answer = await self._call(
            "POST",
            f"/api/v1/payments/city-dues/{_segment(due_id)}/transfer-declaration",
            headers={"Idempotency-Key": idempotency_key},
            json=body,
        )
        return cast("PaymentsDueOut", answer.json())

    async def payments_gifts_held(self, *, municipality: str) -> PaymentsPoolGiftsHeldPage:
        """Gifts Held: GET /api/v1/payments/city-pools/gifts. Each pool's residents' gifts the platform holds for the city (its officials, admins)."""
        answer = await self._call(
            "GET", "/api/v1/payments/city-pools/gifts", params={"municipality": municipality}
        )
        return cast("PaymentsPoolGiftsHeldPage", answer.json())

    async def payments_list_disputes(
        self, *, status: Literal["open", "all"] | None = None, limit: int | None = None
    ) -> PaymentsDisputePage:
        """List Disputes: GET /api/v1/payments/disputes. Admins: the backers' banks' disputes, newest first (open ones hold their campaign's payout)."""
        answer = await self._call(
            "GET", "/api/v1/payments/disputes", params={"status": status, "limit": limit}
        )
        return cast("PaymentsDisputePage", answer.json())

    async def payments_holder_status(self, user_id: str) -> PaymentsHolderTaxStatusOut:
        """Holder Status: GET /api/v1/payments/holders/{user_id}/tax-status. A holder's recorded tax status (admins and the holder)."""
        answer = await self._call("GET", f"/api/v1/payments/holders/{_segment(user_id)}/tax-status")
        return cast("PaymentsHolderTaxStatusOut", answer.json())

    async def payments_record_holder(
        self, user_id: str, *, body: PaymentsHolderTaxStatusIn
    ) -> PaymentsHolderTaxStatusOut:
        """Record Holder: PUT /api/v1/payments/holders/{user_id}/tax-status. Record a holder's legal identity and whether it may issue tax receipts (admins)."""
        answer = await self._call(
            "PUT", f"/api/v1/payments/holders/{_segment(user_id)}/tax-status", json=body
        )
        return cast("PaymentsHolderTaxStatusOut", answer.json())

    async def payments_my_payouts(self, *, limit: int | None = None) -> PaymentsPayoutPage:
        """My Payouts: GET /api/v1/payments/me/payouts."""
        answer = await self._call("GET", "/api/v1/payments/me/payouts", params={"limit": limit})
        return cast("PaymentsPayoutPage", answer.json())

    async def payments_my_pledges(
        self, *, limit: int | None = None, offset: int | None = None
    ) -> PaymentsPledgePage:
        """My Pledges: GET /api/v1/payments/me/pledges."""
        answer = await self._call(
            "GET", "/api/v1/payments/me/pledges", params={"limit": limit, "offset": offset}
        )
        return cast("PaymentsPledgePage", answer.json())

    async def payments_my_year(self, year: int) -> PaymentsTaxYearOut:
        """My Year: GET /api/v1/payments/me/tax-receipts/{year}. The caller's receipts of a year and their total per association."""
        answer = await self._call("GET", f"/api/v1/payments/me/tax-receipts/{_segment(year)}")
        return cast("PaymentsTaxYearOut", answer.json())

    async def payments_my_year_pdf(self, year: int) -> bytes:
        """My Year Pdf: GET /api/v1/payments/me/tax-receipts/{year}/summary.pdf. The year's summary as PDF."""
        return (
            await self._call("GET", f"/api/v1/payments/me/tax-receipts/{_segment(year)}/summary.pdf")
        ).content

    async def payments_milestones_by_status(
        self,
        *,
        status: Literal["awaiting_proof", "awaiting_city", "objection_window", "objected", "released", "held"]
        | None = None,
        limit: int | None = None,
    ) -> PaymentsMilestonePage:
        """Milestones By Status: GET /api/v1/payments/milestones. Admins: objected milestones waiting for a decision, and the others by state."""
        answer = await self._call(
            "GET", "/api/v1/payments/milestones", params={"status": status, "limit": limit}
        )
        return cast("PaymentsMilestonePage", answer.json())

    async def payments_list_parked(self, *, limit: int | None = None) -> PaymentsParkedQueues:
        """List Parked: GET /api/v1/payments/ops/parked. Admins: each consumer queue of this service with what it parked (first `limit`) and why."""
        answer = await self._call("GET", "/api/v1/payments/ops/parked", params={"limit": limit})
        return cast("PaymentsParkedQueues", answer.json())

    async def payments_replay_parked(self, queue: str, *, limit: int | None = None) -> PaymentsReplayed:
        """Replay Parked: POST /api/v1/payments/ops/parked/{queue}/replay. Admins: move up to `limit` parked messages of one of this service's queues back to it."""
        answer = await self._call(
            "POST", f"/api/v1/payments/ops/parked/{_segment(queue)}/replay", params={"limit": limit}
        )
        return cast("PaymentsReplayed", answer.json())

    async def payments_payouts_by_status(
        self,
        *,
        status: Literal["pending", "approved", "transferring", "paid", "failed"] | None = None,
        limit: int | None = None,
    ) -> PaymentsPayoutPage:
        """Payouts By Status: GET /api/v1/payments/payouts. Admins: payouts waiting for approval (`pending`, oldest first), failures (`failed`), ..."""
        answer = await self._call(
            "GET", "/api/v1/payments/payouts", params={"status": status, "limit": limit}
        )
        return cast("PaymentsPayoutPage", answer.json())

    async def payments_my_account(self) -> PaymentsAccountOut:
        """My Account: GET /api/v1/payments/payouts/account. The caller's connected account as payments last recorded it (`none`: not started)."""
        answer = await self._call("GET", "/api/v1/payments/payouts/account")
        return cast("PaymentsAccountOut", answer.json())

    async def payments_start_onboarding(
        self, *, idempotency_key: str, body: PaymentsOnboardingIn
    ) -> PaymentsOnboardingOut:
        """Start Onboarding: POST /api/v1/payments/payouts/account/onboarding. Create the caller's Express account (once) and a link to Stripe's hosted onboarding,"""
        answer = await self._call(
            "POST",
            "/api/v1/payments/payouts/account/onboarding",
            headers={"Idempotency-Key": idempotency_key},
            json=body,
        )
        return cast("PaymentsOnboardingOut", answer.json())

    async def payments_refresh_account(self) -> PaymentsAccountOut:
        """Refresh Account: POST /api/v1/payments/payouts/account/refresh. After onboarding (the return page): Stripe's current word on the account."""
        answer = await self._call("POST", "/api/v1/payments/payouts/account/refresh")
        return cast("PaymentsAccountOut", answer.json())

    async def payments_get_payout(self, payout_id: str) -> PaymentsPayoutOut:
        """Get Payout: GET /api/v1/payments/payouts/{payout_id}."""
        answer = await self._call("GET", f"/api/v1/payments/payouts/{_segment(payout_id)}")
        return cast("PaymentsPayoutOut", answer.json())

    async def payments_approve_payout(self, payout_id: str, *, idempotency_key: str) -> PaymentsPayoutOut:
        """Approve Payout: POST /api/v1/payments/payouts/{payout_id}/approve. pending -> approved, and the transfer at once when the holder's account is ready (then"""
        answer = await self._call(
            "POST",
            f"/api/v1/payments/payouts/{_segment(payout_id)}/approve",
            headers={"Idempotency-Key": idempotency_key},
        )
        return cast("PaymentsPayoutOut", answer.json())

    async def payments_confirm_milestone(
        self, payout_id: str, *, idempotency_key: str
    ) -> PaymentsMilestoneOut:
        """Confirm Milestone: POST /api/v1/payments/payouts/{payout_id}/confirm. An official of the city that labelled the project: the milestone is reached."""
        answer = await self._call(
            "POST",
            f"/api/v1/payments/payouts/{_segment(payout_id)}/confirm",
            headers={"Idempotency-Key": idempotency_key},
        )
        return cast("PaymentsMilestoneOut", answer.json())

    async def payments_decide_milestone(
        self, payout_id: str, *, idempotency_key: str, body: PaymentsMilestoneDecisionIn
    ) -> PaymentsMilestoneOut:
        """Decide Milestone: POST /api/v1/payments/payouts/{payout_id}/milestone-decision. Admins, on an objected milestone: release it (then approved like any payout) or hold it."""
        answer = await self._call(
            "POST",
            f"/api/v1/payments/payouts/{_segment(payout_id)}/milestone-decision",
            headers={"Idempotency-Key": idempotency_key},
            json=body,
        )
        return cast("PaymentsMilestoneOut", answer.json())

    async def payments_prove_milestone(
        self, payout_id: str, *, idempotency_key: str, body: PaymentsMilestoneProofIn
    ) -> PaymentsMilestoneOut:
        """Prove Milestone: POST /api/v1/payments/payouts/{payout_id}/milestone-proof. The holder shows the milestone is reached: the labelling city is asked to confirm, or"""
        answer = await self._call(
            "POST",
            f"/api/v1/payments/payouts/{_segment(payout_id)}/milestone-proof",
            headers={"Idempotency-Key": idempotency_key},
            json=body,
        )
        return cast("PaymentsMilestoneOut", answer.json())

    async def payments_milestone_objections(self, payout_id: str) -> PaymentsMilestoneObjectionPage:
        """Milestone Objections: GET /api/v1/payments/payouts/{payout_id}/objections. The holder and admins."""
        answer = await self._call("GET", f"/api/v1/payments/payouts/{_segment(payout_id)}/objections")
        return cast("PaymentsMilestoneObjectionPage", answer.json())

    async def payments_object_to_milestone(
        self, payout_id: str, *, idempotency_key: str, body: PaymentsMilestoneObjectionIn
    ) -> PaymentsMilestoneOut:
        """Object To Milestone: POST /api/v1/payments/payouts/{payout_id}/objections. A backer of the campaign, while the window is open: an admin then decides."""
        answer = await self._call(
            "POST",
            f"/api/v1/payments/payouts/{_segment(payout_id)}/objections",
            headers={"Idempotency-Key": idempotency_key},
            json=body,
        )
        return cast("PaymentsMilestoneOut", answer.json())

    async def payments_retry_payout(self, payout_id: str, *, idempotency_key: str) -> PaymentsPayoutOut:
        """Retry Payout: POST /api/v1/payments/payouts/{payout_id}/retry. failed -> approved (a new attempt, a new transfer)."""
        answer = await self._call(
            "POST",
            f"/api/v1/payments/payouts/{_segment(payout_id)}/retry",
            headers={"Idempotency-Key": idempotency_key},
        )
        return cast("PaymentsPayoutOut", answer.json())

    async def payments_create_pledge(
        self, *, idempotency_key: str, body: PaymentsPledgeIn
    ) -> PaymentsPledgeOut:
        """Create Pledge: POST /api/v1/payments/pledges. A pledge and its SetupIntent: the browser saves the card (README, checkout)."""
        answer = await self._call(
            "POST", "/api/v1/payments/pledges", headers={"Idempotency-Key": idempotency_key}, json=body
        )
        return cast("PaymentsPledgeOut", answer.json())

    async def payments_get_pledge(self, pledge_id: str) -> PaymentsPledgeOut:
        """Get Pledge: GET /api/v1/payments/pledges/{pledge_id}."""
        answer = await self._call("GET", f"/api/v1/payments/pledges/{_segment(pledge_id)}")
        return cast("PaymentsPledgeOut", answer.json())

    async def payments_confirm_pledge(self, pledge_id: str) -> PaymentsPledgeOut:
        """Confirm Pledge: POST /api/v1/payments/pledges/{pledge_id}/confirm. After Stripe.js saved the card (or completed 3-D Secure): re-fetch the intent, record its"""
        answer = await self._call("POST", f"/api/v1/payments/pledges/{_segment(pledge_id)}/confirm")
        return cast("PaymentsPledgeOut", answer.json())

    async def payments_refund_pledge(
        self, pledge_id: str, *, idempotency_key: str, body: PaymentsRefundIn
    ) -> PaymentsRefundOut:
        """Refund Pledge: POST /api/v1/payments/pledges/{pledge_id}/refund. Admins: refund a paid pledge, all that is left of it or `amount`; journaled once."""
        answer = await self._call(
            "POST",
            f"/api/v1/payments/pledges/{_segment(pledge_id)}/refund",
            headers={"Idempotency-Key": idempotency_key},
            json=body,
        )
        return cast("PaymentsRefundOut", answer.json())

    async def payments_retry_pledge(self, pledge_id: str, *, idempotency_key: str) -> PaymentsPledgeOut:
        """Retry Pledge: POST /api/v1/payments/pledges/{pledge_id}/retry. Try another card: a new SetupIntent for confirmCardSetup (then POST .../confirm)."""
        answer = await self._call(
            "POST",
            f"/api/v1/payments/pledges/{_segment(pledge_id)}/retry",
            headers={"Idempotency-Key": idempotency_key},
        )
        return cast("PaymentsPledgeOut", answer.json())

    async def payments_receipt_status(self, pledge_id: str) -> PaymentsTaxReceiptStatusOut:
        """Receipt Status: GET /api/v1/payments/pledges/{pledge_id}/tax-receipt. The pledge's tax receipt, or whether one can be issued (the backer only)."""
        answer = await self._call("GET", f"/api/v1/payments/pledges/{_segment(pledge_id)}/tax-receipt")
        return cast("PaymentsTaxReceiptStatusOut", answer.json())

    async def payments_issue_receipt(self, pledge_id: str, *, body: PaymentsDonorIn) -> PaymentsTaxReceiptOut:
        """Issue Receipt: POST /api/v1/payments/pledges/{pledge_id}/tax-receipt. Issue the pledge's tax receipt in the donor's name (once: asking again answers the same"""
        answer = await self._call(
            "POST", f"/api/v1/payments/pledges/{_segment(pledge_id)}/tax-receipt", json=body
        )
        return cast("PaymentsTaxReceiptOut", answer.json())

    async def payments_receipt_pdf(self, pledge_id: str) -> bytes:
        """Receipt Pdf: GET /api/v1/payments/pledges/{pledge_id}/tax-receipt.pdf. The receipt as PDF (Cerfa n° 11580 fields)."""
        return (
            await self._call("GET", f"/api/v1/payments/pledges/{_segment(pledge_id)}/tax-receipt.pdf")
        ).content

    async def payments_list_subscriptions(self, *, municipality: str) -> PaymentsSubscriptionPage:
        """List Subscriptions: GET /api/v1/payments/subscriptions."""
        answer = await self._call(
            "GET", "/api/v1/payments/subscriptions", params={"municipality": municipality}
        )
        return cast("PaymentsSubscriptionPage", answer.json())

    async def payments_subscribe_city(
        self, *, idempotency_key: str, body: PaymentsSubscriptionIn
    ) -> PaymentsSubscriptionOut:
        """Subscribe City: POST /api/v1/payments/subscriptions."""
        answer = await self._call(
            "POST", "/api/v1/payments/subscriptions", headers={"Idempotency-Key": idempotency_key}, json=body
        )
        return cast("PaymentsSubscriptionOut", answer.json())

    async def payments_card_setup(
        self, *, idempotency_key: str, body: PaymentsCardSetupIn
    ) -> PaymentsCardSetupOut:
        """Card Setup: POST /api/v1/payments/subscriptions/card-setups. Save the city's card first (Stripe.js confirmCardSetup, 3-D Secure included), then"""
        answer = await self._call(
            "POST",
            "/api/v1/payments/subscriptions/card-setups",
            headers={"Idempotency-Key": idempotency_key},
            json=body,
        )
        return cast("PaymentsCardSetupOut", answer.json())

    async def payments_cancel_at_period_end(
        self, subscription_id: str, *, municipality: str, body: PaymentsCancellationIn
    ) -> PaymentsSubscriptionOut:
        """Cancel At Period End: POST /api/v1/payments/subscriptions/{subscription_id}/cancellation. Cancel at the end of the paid period (the city labels until then), or undo it."""
        answer = await self._call(
            "POST",
            f"/api/v1/payments/subscriptions/{_segment(subscription_id)}/cancellation",
            params={"municipality": municipality},
            json=body,
        )
        return cast("PaymentsSubscriptionOut", answer.json())

    async def payments_list_invoices(self, subscription_id: str, *, municipality: str) -> PaymentsInvoicePage:
        """List Invoices: GET /api/v1/payments/subscriptions/{subscription_id}/invoices."""
        answer = await self._call(
            "GET",
            f"/api/v1/payments/subscriptions/{_segment(subscription_id)}/invoices",
            params={"municipality": municipality},
        )
        return cast("PaymentsInvoicePage", answer.json())

    async def payments_change_plan(
        self, subscription_id: str, *, municipality: str, idempotency_key: str, body: PaymentsPlanIn
    ) -> PaymentsSubscriptionOut:
        """Change Plan: POST /api/v1/payments/subscriptions/{subscription_id}/plan. Move to the other plan (money: Idempotency-Key); Stripe bills the new plan at once."""
        answer = await self._call(
            "POST",
            f"/api/v1/payments/subscriptions/{_segment(subscription_id)}/plan",
            params={"municipality": municipality},
            headers={"Idempotency-Key": idempotency_key},
            json=body,
        )
        return cast("PaymentsSubscriptionOut", answer.json())

    async def payments_refresh_subscription(
        self, subscription_id: str, *, municipality: str
    ) -> PaymentsSubscriptionOut:
        """Refresh Subscription: POST /api/v1/payments/subscriptions/{subscription_id}/refresh. Re-fetch the subscription from Stripe (after Stripe.js finished a 3-D Secure payment)."""
        answer = await self._call(
            "POST",
            f"/api/v1/payments/subscriptions/{_segment(subscription_id)}/refresh",
            params={"municipality": municipality},
        )
        return cast("PaymentsSubscriptionOut", answer.json())

    async def gateway_oauth_token(self, *, body: dict[str, str]) -> GatewayOAuthToken:
        """Oauth Token: POST /oauth/token. OAuth2 client-credentials grant (RFC 6749 §4.4): credentials in HTTP Basic or the form."""
        answer = await self._call("POST", "/oauth/token", data=body)
        return cast("GatewayOAuthToken", answer.json())
