"""Shapes of the events this service publishes, internal and public (city systems)."""

from __future__ import annotations

from typing import Any

from servicekit.mongo import Tx

# Public forms go to city systems outside the platform: no user ids, no emails.
_PRIVATE = ("owner_id", "proposer_id", "voter_id", "email", "backer_id", "token")


def public_form(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in _PRIVATE}


def emit_with_public(tx: Tx, slug: str, key: str, subject: str, data: dict[str, Any]) -> None:
    """Stage the internal event and its public form for `<slug>.<key>` in the same transaction."""
    tx.emit(key, subject, data)
    tx.emit_public(slug, key, subject, public_form(data))


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def endorsement_data(doc: dict[str, Any]) -> dict[str, Any]:
    return _drop_none(
        {
            "endorsement_id": doc["_id"],
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
            "endorsement_id": c.get("endorsement_id"),
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
