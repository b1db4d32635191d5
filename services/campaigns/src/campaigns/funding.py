"""Use cases of the money other services report (payments' pledges, payments and refunds; the
cities' match funding): each event stores or merges one record keyed by the id it is about, then
moves the campaign's totals by the change of that record's contribution (rules in
domain_funding.py). A duplicated event changes nothing and events arriving in any order give
the same totals. Terminal facts (a pledge released or charged, a commitment canceled) stay
terminal whatever arrives after them. They run in the event handler's transaction."""

from __future__ import annotations

from typing import Any

from servicekit.bus import PermanentError
from servicekit.mongo import Tx, utcnow

from . import closing, domain, domain_funding
from .lifecycle import emit_snapshot
from .store import CampaignStore, Doc, insert, save


async def campaign_for(store: CampaignStore, tx: Tx, data: dict[str, Any]) -> Doc:
    """The campaign an event is about; an unknown one or another currency parks the event."""
    campaign = await store.campaign(data["campaign_id"], tx)
    if campaign is None:
        raise PermanentError(f"unknown campaign {data['campaign_id']}")
    currency = data.get("currency")
    if currency is not None and currency != campaign["currency"]:
        raise PermanentError(f"currency {currency} does not match the campaign's {campaign['currency']}")
    return campaign


async def merge(
    store: CampaignStore, tx: Tx, collection: str, record_id: str, base: Doc, facts: Doc
) -> tuple[Doc | None, Doc]:
    """Create the record from `base` + `facts`, or add `facts` to the existing one; returns
    (before, after)."""
    existing = await store.by_id(collection, record_id, tx)
    if existing is None:
        return None, await insert(tx, collection, {"_id": record_id, **base, **facts})
    if all(existing.get(k) == v for k, v in facts.items()):
        return existing, existing
    return existing, await save(tx, collection, {**existing, **facts})


async def apply_change(
    store: CampaignStore,
    tx: Tx,
    kind: str,
    before: Doc | None,
    after: Doc,
    refunds_before: list[Doc] | None = None,
    refunds_after: list[Doc] | None = None,
) -> None:
    """One funding record changed from `before` to `after`: move the campaign's totals (and
    its backer count) by the difference of the record's contribution, derive the pledged match
    again when a pledge or a commitment of an all-or-nothing campaign changed; emit
    goal_reached once. A campaign that waits for its records to agree with payments' tally
    closes as soon as they do (closing.recheck)."""
    if before == after and refunds_before == refunds_after:
        return
    await _move_totals(store, tx, kind, before, after, refunds_before, refunds_after)
    if kind in ("pledge", "payment"):
        campaign = await store.campaign(after["campaign_id"], tx)
        if campaign is not None:
            await closing.recheck(store, tx, campaign)


async def _move_totals(
    store: CampaignStore,
    tx: Tx,
    kind: str,
    before: Doc | None,
    after: Doc,
    refunds_before: list[Doc] | None,
    refunds_after: list[Doc] | None,
) -> None:
    old = domain_funding.contribution(kind, before, refunds_before or [])
    new = domain_funding.contribution(kind, after, refunds_after or [])
    change = domain_funding.delta(old, new)
    share_change = domain_funding.backer_share(new) - domain_funding.backer_share(old)
    cid = after["campaign_id"]
    campaign = await store.campaign(cid, tx)
    if campaign is None:
        raise LookupError(f"campaign {cid} vanished")
    totals = {**domain_funding.empty_totals(), **(campaign.get("totals") or {})}
    if kind in ("pledge", "commitment") and campaign.get("funding_model") == "all_or_nothing":
        pledged_match = await _match_pledged(store, tx, cid)
        change["match_pledged"] = pledged_match - totals["match_pledged"]
    if not any(change.values()):
        return
    for key, value in change.items():
        totals[key] += value
    if share_change and kind in ("pledge", "payment"):
        totals["backers_count"] += await _move_backer(store, tx, cid, after["backer_id"], share_change)
    totals["funded"] = totals["raised"] + totals["pledged"] + totals["matched"]
    totals["progress_bp"] = domain.progress_bp(totals, campaign["goal"])
    changed = {**campaign, "totals": totals}
    if domain.goal_just_reached(changed):
        changed["goal_reached_at"] = utcnow()
        changed["version"] = campaign["version"] + 1
        emit_snapshot(tx, "campaign.goal_reached", await save(tx, "campaigns", changed))
        return
    await save(tx, "campaigns", changed)


async def _match_pledged(store: CampaignStore, tx: Tx, campaign_id: str) -> int:
    """The pledged match from the campaign's records as they are in this transaction (a
    concurrent change to another pledge conflicts on the campaign document and is retried)."""
    commitments = await store.funding_records(tx, "commitments", campaign_id)
    if not any((c.get("rule") or {}).get("condition") == "instant" for c in commitments):
        return 0
    pledges = await store.funding_records(tx, "pledges", campaign_id)
    return domain_funding.match_pledged("all_or_nothing", commitments, pledges)


async def _move_backer(store: CampaignStore, tx: Tx, campaign_id: str, backer_id: str, amount: int) -> int:
    """Add to what one backer gives the campaign; returns the change in the backer count."""
    key = f"{campaign_id}|{backer_id}"
    backer = await store.by_id("backers", key, tx)
    before = int(backer["amount"]) if backer else 0
    after = before + amount
    if backer is None:
        await insert(
            tx, "backers", {"_id": key, "campaign_id": campaign_id, "backer_id": backer_id, "amount": after}
        )
    else:
        await save(tx, "backers", {**backer, "amount": after})
    return int(after > 0) - int(before > 0)


# -- pledges and payments ----------------------------------------------------------------------


def _money_base(data: dict[str, Any]) -> Doc:
    return {
        "campaign_id": data["campaign_id"],
        "backer_id": data["backer_id"],
        "amount": int(data["amount"]),
        "currency": data["currency"],
    }


async def pledge_authorized(tx: Tx, data: dict[str, Any]) -> None:
    store = CampaignStore.of(tx)
    await campaign_for(store, tx, data)
    record = await merge(store, tx, "pledges", data["pledge_id"], _money_base(data), {"authorized": True})
    await apply_change(store, tx, "pledge", *record)


async def pledge_released(tx: Tx, data: dict[str, Any]) -> None:
    store = CampaignStore.of(tx)
    await campaign_for(store, tx, data)
    record = await merge(store, tx, "pledges", data["pledge_id"], _money_base(data), {"released": True})
    await apply_change(store, tx, "pledge", *record)


async def payment_succeeded(tx: Tx, data: dict[str, Any]) -> None:
    store = CampaignStore.of(tx)
    await campaign_for(store, tx, data)
    base = {**_money_base(data), "pledge_id": data["pledge_id"]}
    facts: Doc = {"succeeded": True, "amount": int(data["amount"])}
    if data.get("after_deadline") is True:
        facts["after_deadline"] = True  # taken after payments tallied: refunded, not in the tally
    before, after = await merge(store, tx, "payments", data["payment_id"], base, facts)
    refunds = await store.refunds_of_payment(tx, data["payment_id"])
    await apply_change(store, tx, "payment", before, after, refunds, refunds)
    # The pledge it paid is no longer merely promised (all-or-nothing charges at the deadline).
    charged = await merge(
        store, tx, "pledges", data["pledge_id"], {**_money_base(data), "amount": 0}, {"charged": True}
    )
    await apply_change(store, tx, "pledge", *charged)


async def payment_refunded(tx: Tx, data: dict[str, Any], event_id: str) -> None:
    store = CampaignStore.of(tx)
    await campaign_for(store, tx, data)
    # Without a refund id the event id is the best key (the inbox already dedupes redeliveries).
    refund_id = data.get("refund_id") or f"evt:{event_id}"
    if await store.by_id("refunds", refund_id, tx) is not None:
        return
    refunds_before = await store.refunds_of_payment(tx, data["payment_id"])
    await insert(
        tx,
        "refunds",
        {
            "_id": refund_id,
            "campaign_id": data["campaign_id"],
            "payment_id": data["payment_id"],
            "amount": int(data["amount"]),
        },
    )
    # A refund may overtake its payment.succeeded: the payment record then waits for it.
    _, payment = await merge(
        store,
        tx,
        "payments",
        data["payment_id"],
        {**_money_base(data), "pledge_id": data["pledge_id"], "amount": 0, "succeeded": False},
        {},
    )
    refunds_after = await store.refunds_of_payment(tx, data["payment_id"])
    await apply_change(store, tx, "payment", payment, payment, refunds_before, refunds_after)


# -- match funding -----------------------------------------------------------------------------


def match_base(campaign_id: str) -> Doc:
    return {"campaign_id": campaign_id, "applied": {}, "canceled": False, "max_amount": 0}


def _match_terms(data: dict[str, Any]) -> Doc:
    terms: Doc = {}
    for key in ("municipality", "pool_id", "rule", "max_amount"):
        if key in data:
            terms[key] = data[key]
    if "counts_toward_goal" in data:
        terms["counts_toward_goal"] = bool(data["counts_toward_goal"])
    return terms


async def _match_event(tx: Tx, data: dict[str, Any], change: dict[str, Any] | None = None) -> None:
    store = CampaignStore.of(tx)
    await campaign_for(store, tx, data)
    cid = data["commitment_id"]
    existing = await store.by_id("commitments", cid, tx)
    record = existing or {"_id": cid, **match_base(data["campaign_id"])}
    record = {**record, **_match_terms(data)}
    if change:
        record = domain_funding.change_commitment(record, change)
    if existing is None:
        record = await insert(tx, "commitments", record)
    elif record != existing:
        record = await save(tx, "commitments", record)
    await apply_change(store, tx, "commitment", existing, record)


async def match_committed(tx: Tx, data: dict[str, Any]) -> None:
    await _match_event(tx, data)


async def match_applied(tx: Tx, data: dict[str, Any]) -> None:
    await _match_event(tx, data, {"application_id": data["application_id"], "amount": int(data["amount"])})


async def match_released(tx: Tx, data: dict[str, Any]) -> None:
    await _match_event(tx, data, {"released_amount": int(data["amount"])})


async def match_canceled(tx: Tx, data: dict[str, Any]) -> None:
    amount = data.get("amount")
    await _match_event(
        tx, data, {"canceled": True, "canceled_amount": int(amount) if amount is not None else None}
    )
