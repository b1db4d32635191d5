"""Events from payments (money), endorsements (labels, match funding, calls for projects).

Each handler stores or merges one record keyed by the id the event is about, then moves the
campaign's totals by the change of that record's contribution (store.apply_change, rules in
funding.py): a duplicated event changes nothing and events arriving in any order give the same
totals. Terminal facts (a pledge released or
charged, a commitment canceled, a label revoked) stay terminal whatever arrives after them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from servicekit.bus import Handlers, PermanentError
from servicekit.events import Event
from servicekit.mongo import Tx, utcnow

from . import domain
from .store import apply_change, emit_snapshot, empty_totals, insert, save

handlers = Handlers("campaigns.funding")


async def _campaign(tx: Tx, data: dict[str, Any]) -> dict[str, Any]:
    campaign = await tx.db.campaigns.find_one({"_id": data["campaign_id"]}, session=tx.session)
    if campaign is None:
        raise PermanentError(f"unknown campaign {data['campaign_id']}")
    currency = data.get("currency")
    if currency is not None and currency != campaign["currency"]:
        raise PermanentError(f"currency {currency} does not match the campaign's {campaign['currency']}")
    return campaign


async def _merge(
    tx: Tx, collection: str, record_id: str, base: dict[str, Any], facts: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Create the record from `base` + `facts`, or add `facts` to the existing one; returns
    (before, after)."""
    existing = await tx.db[collection].find_one({"_id": record_id}, session=tx.session)
    if existing is None:
        return None, await insert(tx, collection, {"_id": record_id, **base, **facts})
    if all(existing.get(k) == v for k, v in facts.items()):
        return existing, existing
    return existing, await save(tx, collection, {**existing, **facts})


async def _refunds(tx: Tx, payment_id: str) -> list[dict[str, Any]]:
    return await tx.db.refunds.find({"payment_id": payment_id}, session=tx.session).to_list()


# -- pledges and payments ----------------------------------------------------------------------


def _money_base(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "campaign_id": data["campaign_id"],
        "backer_id": data["backer_id"],
        "amount": int(data["amount"]),
        "currency": data["currency"],
    }


@handlers.on("pledge.authorized")
async def pledge_authorized(event: Event, tx: Tx) -> None:
    await _campaign(tx, event.data)
    data = event.data
    await apply_change(
        tx, "pledge", *await _merge(tx, "pledges", data["pledge_id"], _money_base(data), {"authorized": True})
    )


@handlers.on("pledge.released")
async def pledge_released(event: Event, tx: Tx) -> None:
    await _campaign(tx, event.data)
    data = event.data
    await apply_change(
        tx, "pledge", *await _merge(tx, "pledges", data["pledge_id"], _money_base(data), {"released": True})
    )


@handlers.on("payment.succeeded")
async def payment_succeeded(event: Event, tx: Tx) -> None:
    await _campaign(tx, event.data)
    data = event.data
    base = {**_money_base(data), "pledge_id": data["pledge_id"]}
    before, after = await _merge(
        tx, "payments", data["payment_id"], base, {"succeeded": True, "amount": int(data["amount"])}
    )
    refunds = await _refunds(tx, data["payment_id"])
    await apply_change(tx, "payment", before, after, refunds, refunds)
    # The pledge it paid is no longer merely promised (all-or-nothing charges at the deadline).
    charged = await _merge(
        tx, "pledges", data["pledge_id"], {**_money_base(data), "amount": 0}, {"charged": True}
    )
    await apply_change(tx, "pledge", *charged)


@handlers.on("payment.refunded")
async def payment_refunded(event: Event, tx: Tx) -> None:
    await _campaign(tx, event.data)
    data = event.data
    # Without a refund id the event id is the best key (the inbox already dedupes redeliveries).
    refund_id = data.get("refund_id") or f"evt:{event.id}"
    if await tx.db.refunds.find_one({"_id": refund_id}, session=tx.session) is not None:
        return
    refunds_before = await _refunds(tx, data["payment_id"])
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
    _, payment = await _merge(
        tx,
        "payments",
        data["payment_id"],
        {**_money_base(data), "pledge_id": data["pledge_id"], "amount": 0, "succeeded": False},
        {},
    )
    await apply_change(
        tx, "payment", payment, payment, refunds_before, await _refunds(tx, data["payment_id"])
    )


# -- labels ------------------------------------------------------------------------------------


async def _refresh_labels(tx: Tx, campaign: dict[str, Any]) -> None:
    granted = await tx.db.labels.find(
        {"campaign_id": campaign["_id"], "status": "granted"}, session=tx.session
    ).to_list()
    cities = sorted({label["municipality"] for label in granted})
    fresh = await tx.db.campaigns.find_one({"_id": campaign["_id"]}, session=tx.session)
    assert fresh is not None
    if cities != list(fresh.get("labelled_by") or []):
        await save(tx, "campaigns", {**fresh, "labelled_by": cities})


def _label_facts(data: dict[str, Any], status: str) -> dict[str, Any]:
    facts: dict[str, Any] = {"status": status, "municipality": data["municipality"]}
    for key in ("support", "in_kind_value", "currency", "reason"):
        if key in data:
            facts[key] = data[key]
    return facts


@handlers.on("endorsement.granted")
async def endorsement_granted(event: Event, tx: Tx) -> None:
    data = event.data
    campaign = await _campaign(tx, {"campaign_id": data["campaign_id"]})
    existing = await tx.db.labels.find_one({"_id": data["endorsement_id"]}, session=tx.session)
    if existing is not None and existing["status"] == "revoked":
        return  # the revocation overtook this grant: it stays revoked
    base = {"campaign_id": data["campaign_id"]}
    await _merge(tx, "labels", data["endorsement_id"], base, _label_facts(data, "granted"))
    await _refresh_labels(tx, campaign)


@handlers.on("endorsement.revoked")
async def endorsement_revoked(event: Event, tx: Tx) -> None:
    data = event.data
    campaign = await _campaign(tx, {"campaign_id": data["campaign_id"]})
    base = {"campaign_id": data["campaign_id"]}
    await _merge(tx, "labels", data["endorsement_id"], base, _label_facts(data, "revoked"))
    await _refresh_labels(tx, campaign)


# -- match funding -----------------------------------------------------------------------------


def _match_base(data: dict[str, Any]) -> dict[str, Any]:
    return {"campaign_id": data["campaign_id"], "applied": {}, "canceled": False, "max_amount": 0}


def _match_terms(data: dict[str, Any]) -> dict[str, Any]:
    terms: dict[str, Any] = {}
    for key in ("municipality", "pool_id", "rule", "max_amount"):
        if key in data:
            terms[key] = data[key]
    if "counts_toward_goal" in data:
        terms["counts_toward_goal"] = bool(data["counts_toward_goal"])
    return terms


async def _match_event(tx: Tx, data: dict[str, Any], change: dict[str, Any] | None = None) -> None:
    await _campaign(tx, data)
    cid = data["commitment_id"]
    existing = await tx.db.commitments.find_one({"_id": cid}, session=tx.session)
    record = existing or {"_id": cid, **_match_base(data)}
    record = {**record, **_match_terms(data)}
    if change:
        record = change_commitment(record, change)
    if existing is None:
        record = await insert(tx, "commitments", record)
    elif record != existing:
        record = await save(tx, "commitments", record)
    await apply_change(tx, "commitment", existing, record)


def change_commitment(record: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    if "application_id" in change:
        out["applied"] = {**(record.get("applied") or {}), change["application_id"]: change["amount"]}
    if "released_amount" in change:
        out["released_amount"] = max(int(record.get("released_amount") or 0), change["released_amount"])
    if "canceled_amount" in change or change.get("canceled"):
        out["canceled"] = True
        if change.get("canceled_amount") is not None:
            out["canceled_amount"] = change["canceled_amount"]
    return out


@handlers.on("match.committed")
async def match_committed(event: Event, tx: Tx) -> None:
    await _match_event(tx, event.data)


@handlers.on("match.applied")
async def match_applied(event: Event, tx: Tx) -> None:
    data = event.data
    await _match_event(tx, data, {"application_id": data["application_id"], "amount": int(data["amount"])})


@handlers.on("match.released")
async def match_released(event: Event, tx: Tx) -> None:
    await _match_event(tx, event.data, {"released_amount": int(event.data["amount"])})


@handlers.on("match.canceled")
async def match_canceled(event: Event, tx: Tx) -> None:
    amount = event.data.get("amount")
    await _match_event(
        tx, event.data, {"canceled": True, "canceled_amount": int(amount) if amount is not None else None}
    )


# -- calls for projects ------------------------------------------------------------------------


def _instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise PermanentError(f"deadline {value!r} is not an ISO date-time") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@handlers.on("call.proposal_selected")
async def proposal_selected(event: Event, tx: Tx) -> None:
    """The city's call selected a proposal: launch it live, labelled by the city, with the
    award as match funding counted toward the goal. Running it twice changes nothing."""
    data = event.data
    now = utcnow()
    campaign_id = data.get("campaign_id") or f"cmp_{uuid.uuid5(uuid.NAMESPACE_URL, data['proposal_id']).hex}"
    campaign = await tx.db.campaigns.find_one({"_id": campaign_id}, session=tx.session)
    if campaign is None:
        goal = int(data.get("goal") or 0) or int(data["award"])
        if goal <= 0 or goal > domain.MAX_GOAL:
            raise PermanentError(f"selected proposal has no usable goal ({goal})")
        deadline = data.get("deadline")
        campaign = await insert(
            tx,
            "campaigns",
            {
                "_id": campaign_id,
                "owner_id": data["proposer_id"],
                "status": "draft",
                "version": 1,
                "title": data["title"][:140],
                "summary": (data.get("summary") or "")[:500],
                "description": data.get("note") or "",
                "category": data.get("category") or "other",
                "municipality": data["municipality"],
                "neighbourhood": "",
                "address": "",
                "postcode": "",
                "lat": None,
                "lon": None,
                "cover_image_url": None,
                "goal": goal,
                "currency": data["currency"],
                "funding_model": data.get("funding_model") or "keep_it_all",
                "duration_days": domain.DEFAULT_DURATION_DAYS,
                "fixed_deadline": domain.clamp_deadline(_instant(deadline) if deadline else None, now),
                "call_id": data["call_id"],
                "proposal_id": data["proposal_id"],
                "created_at": now,
                "updated_at": now,
                "totals": empty_totals(),
                "followers_count": 0,
                "labelled_by": [],
            },
        )
        emit_snapshot(tx, "campaign.created", campaign)
    elif campaign["currency"] != data["currency"]:
        raise PermanentError(f"award currency {data['currency']} differs from the campaign's")
    if campaign["status"] in ("draft", "submitted"):
        if data.get("deadline"):
            campaign = {
                **campaign,
                "fixed_deadline": domain.clamp_deadline(_instant(data["deadline"]), now),
            }
        changed, event_type = domain.apply_transition(campaign, "launch_selected", {"system"}, now)
        campaign = await save(tx, "campaigns", {**changed, "call_id": data["call_id"]})
        emit_snapshot(tx, event_type, campaign)
    label_id = data.get("endorsement_id") or f"call:{data['call_id']}:{data['proposal_id']}"
    support = [{"kind": "match_funding", "value": int(data["award"]), "currency": data["currency"]}]
    if await tx.db.labels.find_one({"_id": label_id}, session=tx.session) is None:
        await insert(
            tx,
            "labels",
            {
                "_id": label_id,
                "campaign_id": campaign_id,
                "municipality": data["municipality"],
                "status": "granted",
                "support": support,
                "call_id": data["call_id"],
            },
        )
    await _refresh_labels(tx, campaign)
    commitment_id = data.get("commitment_id") or f"award:{data['proposal_id']}"
    award = {"award": int(data["award"]), "municipality": data["municipality"]}
    base = {
        **_match_base({"campaign_id": campaign_id}),
        "counts_toward_goal": True,
        "max_amount": int(data["award"]),
    }
    await apply_change(tx, "commitment", *await _merge(tx, "commitments", commitment_id, base, award))
