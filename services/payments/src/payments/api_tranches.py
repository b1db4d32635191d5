"""Milestone releases: a holder's payout plan (tranches), the proof of a milestone, a labelling
city's confirmation, backers' objections, and the admins' decision on objected milestones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from servicekit.app import component
from servicekit.auth import AdminDep, PrincipalDep
from servicekit.errors import DomainError
from servicekit.idempotency import IdempotencyKey
from servicekit.mongo import as_utc as when

from . import tranches_domain as rules
from .api_payouts import PayoutOut, payout_out
from .tranches import Tranches

router = APIRouter(tags=["milestone releases"])
TranchesDep = Annotated[Tranches, Depends(component(Tranches))]
MilestoneStatus = Literal[
    "awaiting_proof", "awaiting_city", "objection_window", "objected", "released", "held"
]
URL = r"^https?://[^\s]{3,490}$"


class PayoutTrancheIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    percent: int = Field(ge=1, le=100)
    title: str | None = Field(default=None, max_length=140, description="the milestone; ignored on the first")


class PayoutPlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tranches: list[PayoutTrancheIn] = Field(min_length=1, max_length=rules.MAX_TRANCHES)


class PayoutTrancheOut(BaseModel):
    percent: int
    title: str | None = None


class PayoutPlanOut(BaseModel):
    campaign_id: str
    tranches: list[PayoutTrancheOut]


class MilestoneProofIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    update_id: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$",
                                  description="a campaign update (with photos or links) that shows it")  # fmt: skip
    urls: list[Annotated[str, Field(pattern=URL, max_length=500)]] = Field(default=[], max_length=10)

    @model_validator(mode="after")
    def _some_proof(self) -> MilestoneProofIn:
        if self.update_id is None and not self.urls:
            raise ValueError("a proof names an update or at least one link")
        return self


class MilestoneObjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=10, max_length=2000)


class MilestoneDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["release", "hold"]
    note: str | None = Field(default=None, max_length=2000)


class MilestoneOut(BaseModel):
    payout: PayoutOut
    tranche: int
    percent: int
    title: str | None = None
    status: MilestoneStatus
    proof_update_id: str | None = None
    proof_urls: list[str] = []
    confirming_cities: list[str] = Field(default=[], description="labelled project: who may confirm")
    window_ends_at: datetime | None = Field(default=None, description="unlabelled project: objections until")
    objections: int = 0


class MilestonePage(BaseModel):
    items: list[MilestoneOut]


class MilestoneObjectionOut(BaseModel):
    backer_id: str | None = Field(default=None, description="admins only: the holder reads the reasons")
    reason: str
    created_at: datetime


class MilestoneObjectionPage(BaseModel):
    items: list[MilestoneObjectionOut]


def milestone_out(doc: dict[str, Any]) -> MilestoneOut:
    proof = doc.get("proof") or {}
    ends = doc.get("window_ends_ms")
    return MilestoneOut(
        payout=payout_out(doc), tranche=int(doc.get("tranche") or 1), percent=int(doc.get("tranche_percent") or 100),
        title=doc.get("milestone_title"), status=doc["milestone_status"], proof_update_id=proof.get("update_id"),
        proof_urls=list(proof.get("urls") or []), confirming_cities=list(doc.get("confirming_cities") or []),
        window_ends_at=datetime.fromtimestamp(int(ends) / 1000, tz=UTC) if ends else None,
        objections=int(doc.get("objections") or 0),
    )  # fmt: skip


def plan_out(campaign_id: str, doc: dict[str, Any] | None) -> PayoutPlanOut:
    items = doc["tranches"] if doc else [{"percent": 100, "title": None}]
    return PayoutPlanOut(campaign_id=campaign_id, tranches=[PayoutTrancheOut(**t) for t in items])


def _person(principal: Any) -> None:
    if principal.kind != "user":
        raise DomainError("forbidden", 403, "only people act on milestones")


@router.get("/campaigns/{campaign_id}/payout-plan", response_model=PayoutPlanOut)
async def get_payout_plan(campaign_id: str, principal: PrincipalDep, tranches: TranchesDep) -> PayoutPlanOut:
    """The owner and admins (one tranche of 100 % when none was set)."""
    return plan_out(campaign_id, await tranches.plan(campaign_id, principal))


@router.put("/campaigns/{campaign_id}/payout-plan", response_model=PayoutPlanOut)
async def put_payout_plan(
    campaign_id: str,
    body: PayoutPlanIn,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey,
    tranches: TranchesDep,
) -> PayoutPlanOut:
    """The owner splits the payout into tranches (percentages summing to 100, at most 5; every
    tranche after the first names its milestone) until the first payout is approved."""
    _person(principal)
    plan = [rules.Tranche(t.percent, t.title) for t in body.tranches]
    return plan_out(campaign_id, await tranches.set_plan(campaign_id, principal, plan, idempotency_key))


@router.get("/campaigns/{campaign_id}/milestones", response_model=MilestonePage)
async def open_milestones(campaign_id: str, tranches: TranchesDep) -> MilestonePage:
    """Public: the campaign's later tranches and their milestones (backers object to open ones)."""
    return MilestonePage(items=[milestone_out(d) for d in await tranches.of_campaign(campaign_id)])


@router.get("/milestones", response_model=MilestonePage)
async def milestones_by_status(
    principal: AdminDep, tranches: TranchesDep,
    status: MilestoneStatus = Query("objected"), limit: int = Query(50, ge=1, le=200),
) -> MilestonePage:  # fmt: skip
    """Admins: objected milestones waiting for a decision, and the others by state."""
    return MilestonePage(items=[milestone_out(d) for d in await tranches.milestones(status, limit)])


@router.post("/payouts/{payout_id}/milestone-proof", response_model=MilestoneOut)
async def prove_milestone(
    payout_id: str,
    body: MilestoneProofIn,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey,
    tranches: TranchesDep,
) -> MilestoneOut:
    """The holder shows the milestone is reached: the labelling city is asked to confirm, or
    (unlabelled) the backers' objection window opens."""
    _person(principal)
    return milestone_out(
        await tranches.prove(payout_id, principal, body.update_id, body.urls, idempotency_key)
    )


@router.post("/payouts/{payout_id}/confirm", response_model=MilestoneOut)
async def confirm_milestone(
    payout_id: str, principal: PrincipalDep, idempotency_key: IdempotencyKey, tranches: TranchesDep
) -> MilestoneOut:
    """An official of the city that labelled the project: the milestone is reached."""
    return milestone_out(await tranches.confirm(payout_id, principal, idempotency_key))


@router.post("/payouts/{payout_id}/objections", response_model=MilestoneOut, status_code=201)
async def object_to_milestone(
    payout_id: str, body: MilestoneObjectionIn, principal: PrincipalDep, idempotency_key: IdempotencyKey,
    tranches: TranchesDep,
) -> MilestoneOut:  # fmt: skip
    """A backer of the campaign, while the window is open: an admin then decides."""
    _person(principal)
    return milestone_out(await tranches.object(payout_id, principal, body.reason, idempotency_key))


@router.get("/payouts/{payout_id}/objections", response_model=MilestoneObjectionPage)
async def milestone_objections(
    payout_id: str, principal: PrincipalDep, tranches: TranchesDep
) -> MilestoneObjectionPage:
    """The holder and admins."""
    docs = await tranches.objections(payout_id, principal)
    return MilestoneObjectionPage(
        items=[
            MilestoneObjectionOut(
                backer_id=d["backer_id"] if principal.is_admin else None,
                reason=d["reason"],
                created_at=when(d["created_at"]),
            )
            for d in docs
        ]
    )


@router.post("/payouts/{payout_id}/milestone-decision", response_model=MilestoneOut)
async def decide_milestone(
    payout_id: str,
    body: MilestoneDecisionIn,
    principal: AdminDep,
    idempotency_key: IdempotencyKey,
    tranches: TranchesDep,
) -> MilestoneOut:
    """Admins, on an objected milestone: release it (then approved like any payout) or hold it."""
    return milestone_out(
        await tranches.decide(payout_id, principal, body.decision, body.note, idempotency_key)
    )
