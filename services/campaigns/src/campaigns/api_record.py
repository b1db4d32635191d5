"""HTTP: the project's record (everything it receives), its permits, and the owner's
confirmation of a city's support item (use cases: record.py, permits.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path

from servicekit.auth import OptionalPrincipalDep, PrincipalDep

from . import permits, record
from .deps import Store
from .models_record import PermitDecision, PermitIn, PermitOut, RecordOut, SupportConfirmation, SupportItem

router = APIRouter(tags=["project record"])


def permit_out(doc: dict[str, Any]) -> PermitOut:
    return PermitOut(
        id=doc["_id"],
        campaign_id=doc["campaign_id"],
        name=doc["name"],
        authority=doc["authority"],
        declared_by=doc["declared_by"],
        municipality=doc.get("municipality"),
        status=doc["status"],
        note=doc.get("note"),
        declared_at=doc["declared_at"],
        decided_at=doc.get("decided_at"),
    )


@router.get("/campaigns/{campaign_id}/record", response_model=RecordOut)
async def get_record(campaign_id: str, store: Store, principal: OptionalPrincipalDep) -> RecordOut:
    """Everything the project receives: money, the cities' match, a call's award and votes,
    in-kind help from citizens and from the city (value and status), permits. Money and in-kind
    are apart. Public for a published campaign."""
    doc = await record.record(store, principal, campaign_id)
    return RecordOut.model_validate({**doc, "permits": [permit_out(p) for p in doc["permits"]]})


@router.post("/campaigns/{campaign_id}/permits", status_code=201, response_model=PermitOut)
async def declare_permit(
    campaign_id: str, body: PermitIn, store: Store, principal: PrincipalDep
) -> PermitOut:
    """The owner, or an official of the labelling city, declares a permit required: the payout
    waits until the city marks it granted."""
    return permit_out(await permits.declare(store, principal, campaign_id, body.name, body.authority))


@router.post("/campaigns/{campaign_id}/permits/{permit_id}/decision", response_model=PermitOut)
async def decide_permit(
    campaign_id: str, permit_id: str, body: PermitDecision, store: Store, principal: PrincipalDep
) -> PermitOut:
    """An official of the labelling city (the campaign's own city while none labels it) marks
    the permit granted or refused."""
    return permit_out(
        await permits.decide(store, principal, campaign_id, permit_id, body.decision, body.note)
    )


@router.post("/campaigns/{campaign_id}/city-support/{label_id}/{index}", response_model=SupportItem)
async def confirm_support(
    campaign_id: str,
    label_id: str,
    body: SupportConfirmation,
    store: Store,
    principal: PrincipalDep,
    index: int = Path(ge=0, le=100),
) -> SupportItem:
    """Owner: the city's support item (the label's `support` list, by place) was accepted,
    then delivered."""
    item = await record.confirm_support(store, principal, campaign_id, label_id, index, body.status)
    return SupportItem.model_validate(item)
