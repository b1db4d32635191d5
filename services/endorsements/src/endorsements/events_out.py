"""Shapes of the events this service publishes; their public forms are in public_forms.py."""

from __future__ import annotations

from typing import Any

from servicekit.mongo import Tx

from .feed import store as feed
from .public_forms import public_data

# The status a label moves to -> the verb of the event it publishes (under_review is internal).
LABEL_EVENT_VERBS = {
    "requested": "requested",
    "granted": "granted",
    "declined": "declined",
    "revoked": "revoked",
}


async def emit_with_public(tx: Tx, slug: str, key: str, subject: str, data: dict[str, Any]) -> None:
    """Stage the internal event and its public form for `<slug>.<key>` in the same transaction,
    and add the public form to the city's feed (the HTTPS catch-up of civicfund.public)."""
    tx.emit(key, subject, data)
    event = tx.emit_public(slug, key, subject, public_data(key, data))
    await feed.append(tx, slug, f"{slug}.{key}", event)


async def emit_label_event(tx: Tx, doc: dict[str, Any]) -> None:
    """Publish a label's new status as `label.<verb>` and, for one release, under its older
    name `endorsement.<verb>` (same data, the id named endorsement_id), each with its public form."""
    verb = LABEL_EVENT_VERBS.get(doc["status"])
    if verb is None:
        return
    data = label_data(doc)
    await emit_with_public(tx, doc["municipality"], f"label.{verb}", doc["_id"], data)
    old = {"endorsement_id": data.pop("label_id"), **data}
    await emit_with_public(tx, doc["municipality"], f"endorsement.{verb}", doc["_id"], old)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def label_data(doc: dict[str, Any]) -> dict[str, Any]:
    return _drop_none(
        {
            "label_id": doc["_id"],
            "campaign_id": doc["campaign_id"],
            "municipality": doc["municipality"],
            "status": doc["status"],
            "reason": doc.get("reason"),
            "owner_id": doc.get("owner_id"),
            "support": [_drop_none(dict(o)) for o in doc.get("support", [])],
            "in_kind_value": doc.get("in_kind_value", 0),
            "currency": doc.get("currency"),
        }
    )


def match_data(c: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return _drop_none(
        {
            "commitment_id": c["_id"],
            "campaign_id": c["campaign_id"],
            "municipality": c["municipality"],
            "pool_id": c["pool_id"],
            "currency": c["currency"],
            "rule": _drop_none(dict(c["rule"])),
            "max_amount": c["max_amount"],
            "label_id": c.get("label_id"),
            "endorsement_id": c.get("label_id"),  # the older name, for one release
            **extra,
        }
    )


def call_data(call: dict[str, Any]) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return _drop_none(
        {
            "call_id": call["_id"],
            "municipality": call["municipality"],
            "title": call["title"],
            "theme": call.get("theme"),
            "budget": call["budget"],
            "max_award": call["max_award"],
            "currency": call["currency"],
            "selection_mode": call["selection_mode"],
            "submission_opens_at": iso(call["submission_opens_at"]),
            "submission_closes_at": iso(call["submission_closes_at"]),
            "vote_opens_at": iso(call.get("vote_opens_at")),
            "vote_closes_at": iso(call.get("vote_closes_at")),
        }
    )


def proposal_data(p: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return _drop_none(
        {
            "call_id": p["call_id"],
            "proposal_id": p["_id"],
            "municipality": p["municipality"],
            "proposer_id": p["proposer_id"],
            "title": p["title"],
            "campaign_id": p.get("campaign_id"),
            "note": p.get("note"),
            **extra,
        }
    )
