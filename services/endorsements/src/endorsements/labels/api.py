"""Label routes: parse, authorise, call one use case."""

from __future__ import annotations

from fastapi import APIRouter

from servicekit.auth import OptionalCallerDep

from ..access import Manager, Reviewer, ReviewerOrSystem
from ..deps import IdempotencyDep, MongoDep, OptionalIdempotencyKey, PrincipalDep
from ..fields import Id
from . import usecases
from .models import (
    CampaignLabelsOut,
    CityReviewIn,
    GrantIn,
    LabelOut,
    LabelRequestIn,
    LabelRequestsOut,
    OwnProjectIn,
    ReasonIn,
    ReviewQueueOut,
)

router = APIRouter(tags=["labels"])


@router.post("/labels", status_code=201)
async def request_label(body: LabelRequestIn, principal: PrincipalDep, mongo: MongoDep) -> LabelOut:
    """A campaign owner asks a city for its label."""
    return await usecases.request_label(mongo, principal, body)


@router.get("/municipalities/{slug}/review-queue")
async def review_queue(official: ReviewerOrSystem, mongo: MongoDep) -> ReviewQueueOut:
    """Campaigns in the city's territory, with their label if any; unlabelled and requested first
    (officials, and the city's own systems with their client token)."""
    return await usecases.review_queue(mongo, official)


@router.post("/municipalities/{slug}/labels", status_code=201)
async def open_review(body: CityReviewIn, official: Reviewer, mongo: MongoDep) -> LabelOut:
    """A city takes up a campaign from its queue without waiting for a request."""
    return await usecases.open_review(mongo, official, body.campaign_id)


@router.post("/municipalities/{slug}/own-projects", status_code=201)
async def own_project(body: OwnProjectIn, manager: Manager, mongo: MongoDep) -> LabelOut:
    """The city's own project: a campaign the calling manager created for the city is labelled
    by it at once and shown as the city's (`city_project`)."""
    return await usecases.own_project(mongo, manager, body)


@router.post("/labels/{label_id}/review")
async def start_review(label_id: Id, principal: PrincipalDep, mongo: MongoDep) -> LabelOut:
    return await usecases.start_review(mongo, principal, label_id)


@router.post("/labels/{label_id}/grant")
async def grant_label(
    label_id: Id,
    body: GrantIn,
    principal: PrincipalDep,
    mongo: MongoDep,
    idem: IdempotencyDep,
    idempotency_key: OptionalIdempotencyKey = None,
) -> LabelOut:
    """Grant the label with its support offers; with `match`, also commit city money from a
    pool (manager only, Idempotency-Key required)."""
    return await usecases.grant(mongo, idem, principal, label_id, body, idempotency_key)


@router.post("/labels/{label_id}/decline")
async def decline_label(label_id: Id, body: ReasonIn, principal: PrincipalDep, mongo: MongoDep) -> LabelOut:
    return await usecases.decline(mongo, principal, label_id, body)


@router.post("/labels/{label_id}/revoke")
async def revoke_label(label_id: Id, body: ReasonIn, principal: PrincipalDep, mongo: MongoDep) -> LabelOut:
    """Withdraw a granted label; the reason is public. Pending conditional match funds are
    canceled; what an instant match already gave stays with the campaign."""
    return await usecases.revoke(mongo, principal, label_id, body)


@router.get("/labels/{label_id}")
async def get_label(label_id: Id, principal: OptionalCallerDep, mongo: MongoDep) -> LabelOut:
    """Granted and revoked labels are public; a pending one is visible to the campaign's owner,
    the city's officials and the city's own systems (another city's client token: 403)."""
    return await usecases.get_label(mongo, principal, label_id)


@router.get("/campaigns/{campaign_id}/labels")
async def campaign_labels(campaign_id: Id, mongo: MongoDep) -> CampaignLabelsOut:
    """What a campaign page shows: granted labels, their support offers and match commitments."""
    return await usecases.campaign_labels(mongo, campaign_id)


@router.get("/campaigns/{campaign_id}/label-requests", response_model=LabelRequestsOut)
async def campaign_label_requests(
    campaign_id: Id, principal: PrincipalDep, mongo: MongoDep
) -> LabelRequestsOut:
    """The owner's (or an admin's) view of every label request for the campaign, in every status
    with its reason; 404 for anyone else, as for an unknown campaign."""
    return await usecases.campaign_label_requests(mongo, principal, campaign_id)
