"""Match funding: pools, commitments (with a grant or later), and settlement from money and
campaign events.

Settlement is idempotent and order-tolerant: each matched contribution is a record keyed by
(commitment, payment); a commitment's `given` moves only with its records, in the same
transaction; a release happens once because it moves the commitment out of `active`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from servicekit.auth import Principal
from servicekit.bus import PermanentError
from servicekit.errors import DomainError
from servicekit.idempotency import Idempotency, required_key
from servicekit.mongo import Mongo, Tx, utcnow

from .. import store
from ..access import CityOfficial, require_active, require_official
from ..events_out import emit_with_public, match_data
from ..labels import store as labels
from ..store import Doc
from . import store as matching
from .domain import (
    OPEN_STATUSES,
    Contribution,
    EndAction,
    RuleError,
    Seen,
    TallyError,
    closing_tally,
    counts_toward_goal,
    end_action,
    instant_match,
    lump_sum_due,
    pool_usage,
    preview_cost,
    ratio_hundredths,
    settle_charged,
    validate_rule,
    waits_for_payments,
)
from .models import CommitmentOut, MatchIn, MatchPreviewOut, PoolIn, PoolOut, PoolsOut

# Pools and commitments (HTTP).


async def _pool_out(src: store.Source, pool: Doc) -> PoolOut:
    used = pool_usage(commitments := await matching.commitments_of_pool(src, pool["_id"]))
    given = sum(int(c.get("given", 0)) for c in commitments)
    return PoolOut(
        id=pool["_id"],
        municipality=pool["municipality"],
        name=pool["name"],
        year=pool["year"],
        currency=pool["currency"],
        budget=pool["budget"],
        committed=used,
        given=given,
        # Residents' gifts (pool_gifts/) add to what the city can commit.
        available=pool["budget"] + int(pool.get("gifts_received", 0)) - used,
        gifts_received=int(pool.get("gifts_received", 0)),
        accepts_gifts=bool(pool.get("accepts_gifts", False)),
    )


async def create_pool(
    mongo: Mongo, idem: Idempotency, manager: CityOfficial, body: PoolIn, key: str
) -> PoolOut:
    slug = manager.slug

    async def create(tx: Tx) -> PoolOut:
        doc = {"_id": f"pool_{uuid.uuid4().hex}", "municipality": slug, **body.model_dump(), "rev": 0}
        doc["created_at"] = utcnow()
        await matching.pools.insert(tx, doc)
        return await _pool_out(tx, doc)

    async def work(tx: Tx) -> PoolOut:
        return await idem.run(
            tx,
            scope=f"pool|{manager.principal.sub}",
            key=key,
            request={"slug": slug, **body.model_dump()},
            action=lambda: create(tx),
            decode=PoolOut.model_validate,
        )

    try:
        return await mongo.transact(work)
    except DuplicateKeyError as exc:
        raise DomainError(
            "pool_exists", 409, f"{slug} already has a pool {body.name!r} for {body.year}"
        ) from exc


async def list_pools(mongo: Mongo, official: CityOfficial) -> PoolsOut:
    async def read(tx: Tx) -> PoolsOut:
        return PoolsOut(items=[await _pool_out(tx, p) for p in await matching.pools_of(tx, official.slug)])

    return await mongo.transact(read)


async def _pool_for(src: store.Source, body: MatchIn, label: Doc, campaign: Doc) -> Doc:
    """The pool a match rule draws from: the label's city's, in the campaign's currency."""
    pool = await matching.pools.get(src, body.pool_id)
    if pool is None or pool["municipality"] != label["municipality"]:
        raise DomainError("pool_not_found", 404, f"{label['municipality']} has no pool {body.pool_id!r}")
    if pool["currency"] != campaign.get("currency"):
        raise DomainError(
            "currency_mismatch",
            422,
            f"the pool is in {pool['currency']}, the campaign in {campaign.get('currency')}",
        )
    return pool


def _checked_rule(body: MatchIn) -> tuple[dict[str, Any], int]:
    rule = body.rule()
    try:
        max_amount = validate_rule(rule)
        ratio_hundredths(body.ratio)
    except RuleError as exc:
        raise DomainError("bad_match_rule", 422, str(exc)) from exc
    return rule, max_amount


async def commit_match(tx: Tx, body: MatchIn, label: Doc, campaign: Doc) -> Doc:
    """Reserve city money from a pool for a granted label; emits match.committed."""
    if label["status"] != "granted":
        raise DomainError("label_not_granted", 409, "match funds go with a granted label")
    pool = await _pool_for(tx, body, label, campaign)
    rule, max_amount = _checked_rule(body)
    state = await _pool_out(tx, pool)
    if max_amount > state.available:
        raise DomainError(
            "pool_budget_exceeded",
            409,
            f"the pool {pool['name']} has {state.available} left of {pool['budget']}; this needs {max_amount}",
        )
    await matching.touch_pool(tx, pool)
    doc = {
        "_id": f"mc_{uuid.uuid4().hex}",
        "campaign_id": campaign["_id"],
        "label_id": label["_id"],
        "municipality": label["municipality"],
        "pool_id": pool["_id"],
        "currency": pool["currency"],
        "rule": rule,
        "max_amount": max_amount,
        "given": 0,
        "status": "active",
        "created_at": utcnow(),
    }
    await matching.commitments.insert(tx, doc)
    data = match_data(doc, counts_toward_goal=counts_toward_goal(rule["condition"]))
    await emit_with_public(tx, doc["municipality"], "match.committed", doc["_id"], data)
    return doc


async def add_commitment(
    mongo: Mongo, idem: Idempotency, principal: Principal, label_id: str, body: MatchIn, key: str
) -> CommitmentOut:
    """Commit match funds to an already granted label (manager of the label's city)."""
    label = await labels.get(mongo.db, label_id)
    if label is None:
        raise DomainError("label_not_found", 404, "no such label")
    muni = await store.municipality(mongo.db, label["municipality"])
    await require_official(mongo.db, principal, muni["slug"], "commit_funds")

    async def commit(tx: Tx) -> CommitmentOut:
        await require_active(tx, muni)
        doc = await labels.get(tx, label_id)
        if doc is None:
            raise DomainError("label_not_found", 404, "no such label")
        campaign = await store.campaign(tx, doc["campaign_id"])
        if campaign is None:
            raise DomainError("campaign_not_found", 404, "the label's campaign is not known here")
        c = await commit_match(tx, body, doc, campaign)
        ids = [*doc.get("commitment_ids", []), c["_id"]]
        await labels.patch(tx, label_id, {"commitment_ids": ids, "version": doc["version"] + 1})
        return CommitmentOut.of(c)

    async def work(tx: Tx) -> CommitmentOut:
        return await idem.run(
            tx,
            scope=f"commit|{principal.sub}",
            key=required_key(key),
            request={"label": label_id, **body.model_dump()},
            action=lambda: commit(tx),
            decode=CommitmentOut.model_validate,
        )

    return await mongo.transact(work)


async def preview_match(mongo: Mongo, principal: Principal, label_id: str, body: MatchIn) -> MatchPreviewOut:
    """What `body` would cost for the label's campaign at its current totals (manager of the
    label's city; reserves nothing, emits nothing). The same checks as committing, so a preview
    that answers fits_pool=true commits unless the totals or the pool moved meanwhile."""
    label = await labels.get(mongo.db, label_id)
    if label is None:
        raise DomainError("label_not_found", 404, "no such label")
    await require_official(mongo.db, principal, label["municipality"], "commit_funds")
    if label["status"] in ("declined", "revoked"):
        raise DomainError("label_closed", 409, f"the label is {label['status']}")

    async def read(tx: Tx) -> MatchPreviewOut:
        campaign = await store.campaign(tx, label["campaign_id"])
        if campaign is None:
            raise DomainError("campaign_not_found", 404, "the label's campaign is not known here")
        pool = await _pool_for(tx, body, label, campaign)
        rule, _max = _checked_rule(body)
        charged = await store.charged_contributions(tx, [campaign["_id"]])
        known = [Contribution(x["_id"], x["backer_id"], int(x["amount"])) for x in charged]
        reported = (
            int(campaign.get("pledged") or 0) if campaign.get("funding_model") == "all_or_nothing" else 0
        )
        goal = int(campaign.get("goal") or 0)
        cost = preview_cost(rule, known, goal, reported)
        available = (await _pool_out(tx, pool)).available
        return MatchPreviewOut(
            label_id=label["_id"],
            campaign_id=campaign["_id"],
            pool_id=pool["_id"],
            pool_name=pool["name"],
            currency=pool["currency"],
            goal=goal or None,
            raised=max(sum(c.amount for c in known), reported),
            backers=len({c.backer_id for c in known}),
            reserved=cost.reserved,
            cost_now=cost.now,
            cost_at_goal=cost.at_goal,
            lump_sum_due_now=cost.lump_sum_due_now,
            pool_available=available,
            pool_available_after=available - cost.reserved,
            fits_pool=cost.reserved <= available,
        )

    return await mongo.transact(read)


async def get_commitment(mongo: Mongo, commitment_id: str) -> CommitmentOut:
    doc = await matching.commitments.get(mongo.db, commitment_id)
    if doc is None:
        raise DomainError("commitment_not_found", 404, "no such commitment")
    return CommitmentOut.of(doc)


async def commitments_of_campaign(src: store.Source, campaign_id: str) -> list[CommitmentOut]:
    return [CommitmentOut.of(c) for c in await matching.commitments_of_campaign(src, campaign_id)]


async def cancel_commitment(tx: Tx, commitment_id: str, reason: str) -> None:
    """Cancel what is still pending; an instant commitment keeps what it already gave."""
    c = await matching.commitments.get(tx, commitment_id)
    if c is None or c["status"] not in OPEN_STATUSES:
        return
    await matching.commitments.patch(
        tx, commitment_id, {"status": "canceled", "closed_at": utcnow(), "reason": reason}
    )
    given = int(c.get("given", 0))
    data = match_data(
        c,
        amount=given,  # what stays given: consumers keep counting it
        returned_to_pool=max(0, int(c["max_amount"]) - given),
        counts_toward_goal=counts_toward_goal(c["rule"]["condition"]),
        reason=reason[:500],
    )
    await emit_with_public(tx, c["municipality"], "match.canceled", c["_id"], data)


# Settlement (event handlers' transactions).


async def record_payment(tx: Tx, payment_id: str, data: dict[str, Any], refunded: bool, at: datetime) -> None:
    """Keep the contribution (both a success and its refund, in whatever order they come),
    then match it if it is a success."""
    existing = await store.contribution(tx, payment_id)
    if existing is not None and existing["campaign_id"] != data["campaign_id"]:
        raise PermanentError(f"payment {payment_id} was recorded for campaign {existing['campaign_id']}")
    fields: dict[str, Any] = {
        "campaign_id": data["campaign_id"],
        "backer_id": data["backer_id"],
        "amount": int(data["amount"]),
        "currency": data["currency"],
    }
    fields["refunded" if refunded else "succeeded"] = True
    fields["refunded_at" if refunded else "succeeded_at"] = at
    if not refunded and data.get("after_deadline") is True:
        # Taken after payments tallied the campaign: it is refunded, never in the tally.
        fields["after_deadline"] = True
    if existing is None:
        await store.contributions.insert(
            tx, {"_id": payment_id, "refunded": False, "succeeded": False, **fields}
        )
    else:
        await store.contributions.patch(tx, payment_id, fields)
    if not refunded:
        await _on_contribution(tx, payment_id)
    # A refund recorded first also counts as a payment seen (it succeeded before): either
    # event can be the one that makes the records agree with a closed campaign's tally.
    await _finish_closing(tx, data["campaign_id"])


async def _charged(tx: Tx, campaign_id: str) -> list[Doc]:
    """The contributions the rules apply to: charged, not refunded, and not taken after
    payments tallied the campaign (those are refunded; their refund may not be here yet)."""
    charged = await store.charged_contributions(tx, [campaign_id])
    return [x for x in charged if not bool(x.get("after_deadline"))]


async def _release(tx: Tx, c: Doc, amount: int) -> None:
    await matching.commitments.patch(
        tx, c["_id"], {"status": "released", "given": amount, "closed_at": utcnow()}
    )
    data = match_data(c, amount=amount, counts_toward_goal=counts_toward_goal(c["rule"]["condition"]))
    await emit_with_public(tx, c["municipality"], "match.released", c["_id"], data)


async def _due(tx: Tx, c: Doc, amount: int) -> None:
    """The city owes `amount` for this commitment from now on (final): payments collects it.
    Once per commitment; nothing is due for a commitment that gave nothing."""
    current = await matching.commitments.get(tx, c["_id"]) or c
    if current.get("due_at") is not None or amount <= 0:
        return
    await matching.commitments.patch(tx, c["_id"], {"due_at": utcnow(), "due_amount": amount})
    data = match_data(c, amount=amount, counts_toward_goal=counts_toward_goal(c["rule"]["condition"]))
    tx.emit("match.due", c["_id"], data)


async def _settle_charging(tx: Tx, c: Doc, campaign_id: str) -> None:
    """all_or_nothing after success: the conditional rules over the money actually charged so
    far; the running total is published as match.released (consumers keep the highest)."""
    known = [
        Contribution(x["_id"], x["backer_id"], int(x["amount"])) for x in await _charged(tx, campaign_id)
    ]
    campaign = await store.campaign(tx, campaign_id) or {}
    total = settle_charged(c["rule"], known, int(campaign.get("goal") or 0), int(c["max_amount"]))
    if total <= int(c.get("given", 0)):
        return
    await matching.commitments.patch(tx, c["_id"], {"given": total})
    data = match_data(c, amount=total, counts_toward_goal=counts_toward_goal(c["rule"]["condition"]))
    await emit_with_public(tx, c["municipality"], "match.released", c["_id"], data)


async def _on_contribution(tx: Tx, payment_id: str) -> None:
    contribution = await store.contribution(tx, payment_id)
    if contribution is None or not bool(contribution.get("succeeded")) or bool(contribution.get("refunded")):
        return
    if bool(contribution.get("after_deadline")):
        return  # being refunded as arrived after the deadline: nothing to match
    campaign_id = contribution["campaign_id"]
    commitments = await matching.open_commitments(tx, campaign_id)
    if not commitments:
        return
    # Conflicts with a concurrent end of the campaign (which writes the same mark) on a replica
    # set: otherwise that end could count the payments without this one while this payment
    # still saw its commitments active, and they would wait for it for ever.
    await matching.touch_campaign(tx, campaign_id)
    # Reading every contribution costs O(campaign size) per payment: only when a rule needs it.
    needs_totals = any(
        c["rule"].get("min_backers") or c["rule"]["condition"] == "lump_sum_at_threshold" for c in commitments
    )
    effective = await _charged(tx, campaign_id) if needs_totals else []
    backers = len({c["backer_id"] for c in effective})
    for c in commitments:
        if c["currency"] != contribution["currency"]:
            continue
        condition = c["rule"]["condition"]
        if condition == "instant":
            await _apply_instant(tx, c, contribution, backers)
            if c["status"] == "closing":
                after = await matching.commitments.get(tx, c["_id"]) or c
                if after["status"] == "exhausted":  # the campaign has ended: what it gave is final
                    await _due(tx, after, int(after.get("given", 0)))
        elif c["status"] == "closing":
            continue  # finished by _finish_closing once the payments agree with the tally
        elif c.get("charging"):
            await _settle_charging(tx, c, campaign_id)
        elif condition == "lump_sum_at_threshold":
            campaign = await store.campaign(tx, campaign_id) or {}
            raised = sum(int(x["amount"]) for x in effective)
            if campaign.get("goal") and lump_sum_due(c["rule"], int(campaign["goal"]), raised, backers):
                await _release(tx, c, int(c["max_amount"]))
                if campaign.get("funding_model") != "all_or_nothing":
                    await _due(tx, c, int(c["max_amount"]))
        # on_goal_reached waits for campaign.succeeded.


async def _apply_instant(tx: Tx, c: Doc, contribution: Doc, backers: int) -> None:
    app_id = f"{c['_id']}|{contribution['_id']}"
    if await matching.applications.get(tx, app_id) is not None:
        return
    # `given` always equals the sum of the commitment's application records: both change in
    # the same transaction, so it is exact without re-reading every application.
    given = int(c.get("given", 0))
    backer_count = 0
    if c["rule"].get("max_contributions_per_backer"):
        backer_count = await matching.applications_for_backer(tx, c["_id"], contribution["backer_id"])
    amount = instant_match(
        c["rule"], int(contribution["amount"]), backer_count, backers, given, int(c["max_amount"])
    )
    if amount <= 0:
        return
    await matching.applications.insert(
        tx,
        {
            "_id": app_id,
            "commitment_id": c["_id"],
            "campaign_id": c["campaign_id"],
            "payment_id": contribution["_id"],
            "backer_id": contribution["backer_id"],
            "amount": amount,
            "at": utcnow(),
        },
    )
    given += amount
    changes: dict[str, Any] = {"given": given}
    if given >= int(c["max_amount"]):
        changes.update({"status": "exhausted", "closed_at": utcnow()})
    await matching.commitments.patch(tx, c["_id"], changes)
    data = match_data(
        c,
        amount=amount,
        counts_toward_goal=counts_toward_goal(c["rule"]["condition"]),
        application_id=app_id,
        payment_id=contribution["_id"],
    )
    await emit_with_public(tx, c["municipality"], "match.applied", c["_id"], data)


async def settle_ended_campaign(tx: Tx, campaign: dict[str, Any], verb: str) -> None:
    """Apply each open commitment's rule to the campaign's end (domain.end_action), and make
    due what the city now owes for good: keep-it-all at its end, all-or-nothing once the
    pledges were charged (the campaign completed)."""
    cid = campaign["campaign_id"]
    every = await matching.commitments_of_campaign(tx, cid)
    if not every:
        return
    try:
        tally = closing_tally(campaign)
    except TallyError as exc:
        raise PermanentError(str(exc)) from exc
    known = [Contribution(x["_id"], x["backer_id"], int(x["amount"])) for x in await _charged(tx, cid)]
    model = str(campaign.get("funding_model") or "keep_it_all")
    counted = sum(int(c.get("given", 0)) for c in every if counts_toward_goal(c["rule"]["condition"]))
    raised = int(campaign.get("raised") or 0)
    pledged = int(campaign.get("pledged") or 0) if model == "all_or_nothing" else 0
    if model == "all_or_nothing":
        # What instant matches would give the pledges still authorised counted toward the goal
        # in campaigns (they give nothing before success): the same goal is checked here.
        counted += int(campaign.get("match_pledged") or 0)
    final = verb != "succeeded" or model != "all_or_nothing"
    recorded = await matching.recorded_payments(tx, cid) if tally is not None else Seen(0, 0)
    waiting = waits_for_payments(model, verb, tally, recorded)
    if waiting:
        await matching.touch_campaign(tx, cid)  # see _on_contribution
    for c in every:
        if c["status"] == "exhausted" and final:
            await _due(tx, c, int(c.get("given", 0)))
        if c["status"] != "active":
            continue
        if c.get("charging"):
            if verb == "succeeded":
                continue  # a redelivery: the charges are still coming
            await _close_charged(tx, c)
            continue
        if waiting and tally is not None:
            closing = {"verb": verb, "tally": {"count": tally.count, "amount": tally.amount},
                       "funding_model": model, "goal": int(campaign.get("goal") or 0), "raised": raised,
                       "pledged": pledged, "since": utcnow()}  # fmt: skip
            await matching.commitments.patch(tx, c["_id"], {"status": "closing", "closing": closing})
            continue
        action = end_action(
            c["rule"], model, verb, known, int(campaign.get("goal") or 0), raised, pledged, counted,
            int(c["max_amount"]),
        )  # fmt: skip
        await _apply_end(tx, c, action, cid)


async def _apply_end(tx: Tx, c: Doc, action: EndAction, campaign_id: str) -> None:
    if action.kind == "release":
        await _release(tx, c, action.amount)
        await _due(tx, c, action.amount)
    elif action.kind == "charging":
        await matching.commitments.patch(tx, c["_id"], {"charging": True})
        if c["rule"]["condition"] != "instant":
            await _settle_charging(tx, {**c, "charging": True}, campaign_id)
    else:
        await cancel_commitment(tx, c["_id"], action.reason)
        await _due(tx, c, int(c.get("given", 0)))


async def _finish_closing(tx: Tx, campaign_id: str) -> None:
    """End the commitments that waited for the campaign's last payments, in the transaction of
    the payment that makes the payments recorded here agree with the tally (once: they leave
    `closing`). They end as they would have at the campaign's end, on every charge."""
    closing = await matching.closing_commitments(tx, campaign_id)
    if not closing:
        return
    every = await matching.commitments_of_campaign(tx, campaign_id)
    recorded = await matching.recorded_payments(tx, campaign_id)
    known = [
        Contribution(x["_id"], x["backer_id"], int(x["amount"])) for x in await _charged(tx, campaign_id)
    ]
    # What the instant matches gave by now, late payments included, counts toward the goal.
    counted = sum(int(c.get("given", 0)) for c in every if counts_toward_goal(c["rule"]["condition"]))
    for c in closing:
        info = c["closing"]
        tally = Seen(int(info["tally"]["count"]), int(info["tally"]["amount"]))
        if waits_for_payments(info["funding_model"], info["verb"], tally, recorded):
            continue
        action = end_action(
            c["rule"], info["funding_model"], info["verb"], known, int(info["goal"]), int(info["raised"]),
            int(info["pledged"]), counted, int(c["max_amount"]),
        )  # fmt: skip
        await _apply_end(tx, c, action, campaign_id)


async def _close_charged(tx: Tx, c: Doc) -> None:
    """An all-or-nothing campaign's charges are over (it completed): what the commitment gave
    is final and due; the rest returns to the pool."""
    current = await matching.commitments.get(tx, c["_id"]) or c
    given = int(current.get("given", 0))
    if given > 0 and current["rule"]["condition"] != "instant":
        await _release(tx, current, given)
    else:
        await cancel_commitment(tx, c["_id"], "charges over: unused remainder returned to the pool")
    await _due(tx, current, given)
