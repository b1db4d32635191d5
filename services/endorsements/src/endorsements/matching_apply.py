"""Applying match-funding commitments to money events (inside the consuming transaction).

Idempotent and order-tolerant: each matched contribution is a record keyed by
(commitment, payment); a commitment's `given` is recomputed from those records, never
incremented; a release happens once because it moves the commitment out of `active`.
"""

from __future__ import annotations

from typing import Any

from servicekit.mongo import Tx, utcnow

from . import store
from .domain_matching import (
    Contribution,
    conditional_release,
    counts_toward_goal,
    instant_match,
    lump_sum_due,
)
from .events_out import emit_with_public, match_data
from .matching_commit import cancel_commitment


async def _effective(tx: Tx, campaign_id: str) -> list[dict[str, Any]]:
    """Charged and not refunded, oldest first (first come, first served)."""
    found = tx.db.contributions.find(
        {"campaign_id": campaign_id, "succeeded": True}, session=tx.session
    ).sort([("succeeded_at", 1), ("_id", 1)])
    # nx-27017 stores a $set True as 1: filter the flag in code rather than with $ne.
    return [c async for c in found if not bool(c.get("refunded"))]


async def _active(tx: Tx, campaign_id: str) -> list[dict[str, Any]]:
    found = tx.db.commitments.find({"campaign_id": campaign_id, "status": "active"}, session=tx.session)
    return [c async for c in found.sort("_id", 1)]


async def _release(tx: Tx, c: dict[str, Any], amount: int) -> None:
    await store.patch(
        tx,
        "commitments",
        c["_id"],
        {"status": "released", "given": amount, "closed_at": utcnow()},
    )
    data = match_data(c, amount=amount, counts_toward_goal=counts_toward_goal(c["rule"]["condition"]))
    emit_with_public(tx, c["municipality"], "match.released", c["_id"], data)


async def on_contribution(tx: Tx, payment_id: str) -> None:
    contribution = await tx.db.contributions.find_one({"_id": payment_id}, session=tx.session)
    if contribution is None or not bool(contribution.get("succeeded")) or bool(contribution.get("refunded")):
        return
    campaign_id = contribution["campaign_id"]
    commitments = await _active(tx, campaign_id)
    if not commitments:
        return
    # Reading every contribution costs O(campaign size) per payment: only when a rule needs it.
    needs_totals = any(
        c["rule"].get("min_backers") or c["rule"]["condition"] == "lump_sum_at_threshold" for c in commitments
    )
    effective = await _effective(tx, campaign_id) if needs_totals else []
    backers = len({c["backer_id"] for c in effective})
    for c in commitments:
        if c["currency"] != contribution["currency"]:
            continue
        condition = c["rule"]["condition"]
        if condition == "instant":
            await _apply_instant(tx, c, contribution, backers)
        elif condition == "lump_sum_at_threshold":
            campaign = await tx.db.campaigns.find_one({"_id": campaign_id}, session=tx.session) or {}
            raised = sum(int(x["amount"]) for x in effective)
            if campaign.get("goal") and lump_sum_due(c["rule"], int(campaign["goal"]), raised, backers):
                await _release(tx, c, int(c["max_amount"]))
        # on_goal_reached waits for campaign.succeeded.


async def _apply_instant(tx: Tx, c: dict[str, Any], contribution: dict[str, Any], backers: int) -> None:
    app_id = f"{c['_id']}|{contribution['_id']}"
    if await tx.db.match_applications.find_one({"_id": app_id}, session=tx.session) is not None:
        return
    # `given` always equals the sum of the commitment's application records: both change in
    # the same transaction, so it is exact without re-reading every application.
    given = int(c.get("given", 0))
    backer_count = 0
    if c["rule"].get("max_contributions_per_backer"):
        mine = tx.db.match_applications.find(
            {"commitment_id": c["_id"], "backer_id": contribution["backer_id"]},
            {"_id": 1},
            session=tx.session,
        )
        backer_count = len([a async for a in mine])
    amount = instant_match(
        c["rule"], int(contribution["amount"]), backer_count, backers, given, int(c["max_amount"])
    )
    if amount <= 0:
        return
    await tx.db.match_applications.insert_one(
        {
            "_id": app_id,
            "commitment_id": c["_id"],
            "campaign_id": c["campaign_id"],
            "payment_id": contribution["_id"],
            "backer_id": contribution["backer_id"],
            "amount": amount,
            "at": utcnow(),
        },
        session=tx.session,
    )
    given += amount
    changes: dict[str, Any] = {"given": given}
    if given >= int(c["max_amount"]):
        changes.update({"status": "exhausted", "closed_at": utcnow()})
    await store.patch(tx, "commitments", c["_id"], changes)
    data = match_data(
        c,
        amount=amount,
        counts_toward_goal=counts_toward_goal(c["rule"]["condition"]),
        application_id=app_id,
        payment_id=contribution["_id"],
    )
    emit_with_public(tx, c["municipality"], "match.applied", c["_id"], data)


async def on_campaign_ended(tx: Tx, campaign: dict[str, Any], verb: str) -> None:
    """succeeded: release on_goal_reached (and due lump sums), close keep-it-all instant ones;
    failed/canceled: cancel what is pending; completed: close whatever is left."""
    commitments = await _active(tx, campaign["campaign_id"])
    if not commitments:
        return
    effective = await _effective(tx, campaign["campaign_id"])
    known = [Contribution(x["_id"], x["backer_id"], int(x["amount"])) for x in effective]
    backers = len({x.backer_id for x in known})
    reported = int(campaign.get("pledged") or 0) if campaign.get("funding_model") == "all_or_nothing" else 0
    reported = max(reported, int(campaign.get("raised") or 0))
    for c in commitments:
        condition = c["rule"]["condition"]
        if verb in ("failed", "canceled"):
            await cancel_commitment(tx, c["_id"], f"campaign {verb}")
        elif verb == "succeeded" and condition == "on_goal_reached":
            amount = conditional_release(c["rule"], known, reported, int(c["max_amount"]))
            if amount > 0:
                await _release(tx, c, amount)
            else:
                await cancel_commitment(tx, c["_id"], "the rule's conditions were not met")
        elif verb == "succeeded" and condition == "lump_sum_at_threshold":
            raised = max(sum(x.amount for x in known), reported)
            if lump_sum_due(c["rule"], int(campaign["goal"]), raised, backers):
                await _release(tx, c, int(c["max_amount"]))
            else:
                await cancel_commitment(tx, c["_id"], "threshold not reached")
        elif verb == "completed" or campaign.get("funding_model") != "all_or_nothing":
            # instant: the campaign takes no more money; the unused remainder returns to the pool.
            await cancel_commitment(tx, c["_id"], f"campaign {verb}: unused remainder returned to the pool")
