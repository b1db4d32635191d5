"""Webhook endpoints, deliveries and the attempt log (this service's own database).

Endpoint secrets are stored as given (HMAC needs the raw secret); in production the database
must be encrypted at rest and access-controlled like any credential store.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from servicekit.mongo import Index, Tx, as_utc, utcnow
from servicekit.mongo import epoch_ms as ms

from .store import insert_if_absent

WEBHOOK_INDEXES = [
    Index("webhook_endpoints", [("municipality", 1), ("created_at", 1)]),
    Index("webhook_deliveries", [("status", 1), ("due_ms", 1)]),
    Index("webhook_deliveries", [("endpoint_id", 1), ("created_at", -1)]),
    Index("webhook_attempts", [("delivery_id", 1), ("at", 1)]),
    # The attempt log is kept 90 days.
    Index("webhook_attempts", [("at", 1)], expire_after_seconds=90 * 24 * 3600, name="attempts_ttl"),
]
WEBHOOK_COLLECTIONS = ["webhook_endpoints", "webhook_deliveries", "webhook_attempts"]


def original_delivery_id(event_id: str, endpoint_id: str) -> str:
    """Deterministic, so a redelivered event never creates a second delivery."""
    return "whd_" + hashlib.sha256(f"{event_id}|{endpoint_id}".encode()).hexdigest()[:24]


def valid_secrets(endpoint: dict[str, Any], now: datetime) -> list[str]:
    """The current secret first, then rotated-out ones still inside their grace period."""
    return [
        s["secret"]
        for s in endpoint.get("secrets", [])
        if "expires_at" not in s or as_utc(s["expires_at"]) > now
    ]


async def create_delivery(
    tx: Tx,
    delivery_id: str,
    endpoint: dict[str, Any],
    event_id: str,
    event_type: str,
    body: str,
    replay_of: str | None = None,
) -> bool:
    now = utcnow()
    doc: dict[str, Any] = {
        "_id": delivery_id,
        "endpoint_id": endpoint["_id"],
        "municipality": endpoint["municipality"],
        "event_id": event_id,
        "event_type": event_type,
        "body": body,
        "status": "pending",
        "attempts": 0,
        "due_ms": ms(now),
        "lease_ms": 0,
        "created_at": now,
    }
    if replay_of:
        doc["replay_of"] = replay_of
    return await insert_if_absent(tx, "webhook_deliveries", doc)


async def fan_out_event(tx: Tx, event_id: str, event_type: str, municipality: str, body: str) -> int:
    """One delivery per endpoint of this city whose filter matches (disabled ones too: they
    are held, not lost, and flow once the endpoint is enabled again)."""
    from .webhook_rules import matches

    endpoints = await tx.db.webhook_endpoints.find(
        {"municipality": municipality, "status": {"$in": ["active", "disabled"]}}, session=tx.session
    ).to_list()
    created = 0
    for endpoint in endpoints:
        if matches(list(endpoint["event_types"]), event_type):
            delivery_id = original_delivery_id(event_id, endpoint["_id"])
            created += await create_delivery(tx, delivery_id, endpoint, event_id, event_type, body)
    return created


async def replay(tx: Tx, delivery: dict[str, Any], endpoint: dict[str, Any]) -> str:
    """A new delivery of the same event (same event id in the body, new delivery id)."""
    delivery_id = "whd_" + uuid.uuid4().hex[:24]
    await create_delivery(
        tx,
        delivery_id,
        endpoint,
        delivery["event_id"],
        delivery["event_type"],
        delivery["body"],
        replay_of=delivery.get("replay_of") or delivery["_id"],
    )
    return delivery_id


def rotated_secrets(
    endpoint: dict[str, Any], new_secret: str, grace_s: int, now: datetime
) -> list[dict[str, Any]]:
    """The new secret becomes current; the previous current one expires after the grace period;
    secrets already expired are dropped."""
    kept = []
    for s in endpoint.get("secrets", []):
        if "expires_at" in s:
            if as_utc(s["expires_at"]) > now:
                kept.append(s)
        elif grace_s > 0:
            kept.append({**s, "expires_at": now + timedelta(seconds=grace_s)})
    return [{"id": "sec_" + uuid.uuid4().hex[:12], "secret": new_secret, "created_at": now}, *kept]


def envelope_body(event_json: bytes) -> str:
    """The CloudEvent exactly as delivered (compact JSON, stable key order)."""
    return json.dumps(json.loads(event_json), separators=(",", ":"), ensure_ascii=False)
