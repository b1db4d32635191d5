"""Committing city money to a campaign from a named pool, and canceling what is still pending."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import store
from .domain_matching import RuleError, counts_toward_goal, pool_usage, ratio_hundredths, validate_rule
from .events_out import emit_with_public, match_data
from .fields import Id, Money


class MatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pool_id: Id
    condition: Literal["instant", "on_goal_reached", "lump_sum_at_threshold"]
    ratio: float = Field(default=1.0, gt=0, le=10, description="city money per unit contributed")
    cap_per_contribution: Money | None = None
    cap_per_project: Money | None = None
    max_contributions_per_backer: int | None = Field(default=None, ge=1, le=1000)
    min_backers: int | None = Field(default=None, ge=0, le=100_000)
    threshold_percent: int | None = Field(default=None, ge=1, le=100)
    lump_sum: Money | None = None

    def rule(self) -> dict[str, Any]:
        return self.model_dump(exclude={"pool_id"}, exclude_none=True)


def commitment_out(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": c["_id"],
        "campaign_id": c["campaign_id"],
        "municipality": c["municipality"],
        "endorsement_id": c.get("endorsement_id"),
        "pool_id": c["pool_id"],
        "currency": c["currency"],
        "rule": c["rule"],
        "max_amount": c["max_amount"],
        "given": int(c.get("given", 0)),
        "status": c["status"],
        "counts_toward_goal": counts_toward_goal(c["rule"]["condition"]),
    }


async def pool_state(tx: Tx, pool: dict[str, Any]) -> dict[str, int]:
    commitments = [c async for c in tx.db.commitments.find({"pool_id": pool["_id"]}, session=tx.session)]
    used = pool_usage(commitments)
    given = sum(int(c.get("given", 0)) for c in commitments)
    return {"budget": pool["budget"], "committed": used, "given": given, "available": pool["budget"] - used}


async def commit_match(
    tx: Tx, body: MatchIn, label: dict[str, Any], campaign: dict[str, Any]
) -> dict[str, Any]:
    if label["status"] != "granted":
        raise ApiError(409, "label_not_granted", "match funds go with a granted label")
    pool = await tx.db.pools.find_one({"_id": body.pool_id}, session=tx.session)
    if pool is None or pool["municipality"] != label["municipality"]:
        raise ApiError(404, "pool_not_found", f"{label['municipality']} has no pool {body.pool_id!r}")
    if pool["currency"] != campaign.get("currency"):
        raise ApiError(
            422,
            "currency_mismatch",
            f"the pool is in {pool['currency']}, the campaign in {campaign.get('currency')}",
        )
    rule = body.rule()
    try:
        max_amount = validate_rule(rule)
        ratio_hundredths(body.ratio)
    except RuleError as exc:
        raise ApiError(422, "bad_match_rule", str(exc)) from exc
    state = await pool_state(tx, pool)
    if max_amount > state["available"]:
        raise ApiError(
            409,
            "pool_budget_exceeded",
            f"the pool {pool['name']} has {state['available']} left of {pool['budget']}; this needs {max_amount}",
        )
    # Touch the pool so two concurrent commitments on a replica set conflict (one retries and
    # then sees the other's reservation) instead of both passing the budget check.
    await tx.db.pools.update_one({"_id": pool["_id"]}, {"$inc": {"rev": 1}}, session=tx.session)
    doc = {
        "_id": f"mc_{uuid.uuid4().hex}",
        "campaign_id": campaign["_id"],
        "endorsement_id": label["_id"],
        "municipality": label["municipality"],
        "pool_id": pool["_id"],
        "currency": pool["currency"],
        "rule": rule,
        "max_amount": max_amount,
        "given": 0,
        "status": "active",
        "created_at": utcnow(),
    }
    await tx.db.commitments.insert_one(doc, session=tx.session)
    emit_with_public(
        tx,
        doc["municipality"],
        "match.committed",
        doc["_id"],
        match_data(doc, counts_toward_goal=counts_toward_goal(rule["condition"])),
    )
    return doc


async def cancel_commitment(tx: Tx, commitment_id: str, reason: str) -> None:
    """Cancel what is still pending; an instant commitment keeps what it already gave."""
    c = await tx.db.commitments.find_one({"_id": commitment_id}, session=tx.session)
    if c is None or c["status"] != "active":
        return
    await store.patch(
        tx, "commitments", commitment_id, {"status": "canceled", "closed_at": utcnow(), "reason": reason}
    )
    given = int(c.get("given", 0))
    data = match_data(
        c,
        amount=given,  # what stays given: consumers keep counting it
        returned_to_pool=max(0, int(c["max_amount"]) - given),
        counts_toward_goal=counts_toward_goal(c["rule"]["condition"]),
        reason=reason[:500],
    )
    emit_with_public(tx, c["municipality"], "match.canceled", c["_id"], data)
