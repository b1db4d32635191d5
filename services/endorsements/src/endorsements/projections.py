"""What this service keeps of other services' facts (campaigns, city subscriptions, people),
as the handlers' use cases. Events may come late or twice: each keeps the newest state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from servicekit.mongo import Tx

from . import store
from .calls import usecases as calls
from .matching import usecases as matching
from .officials import usecases as officials

CAMPAIGN_FIELDS = (
    "owner_id", "title", "status", "municipality", "neighbourhood", "category", "postcode", "lat", "lon",
    "goal", "currency", "funding_model", "deadline", "call_id", "raised", "matched", "pledged", "match_pledged",
    "version",
)  # fmt: skip


async def campaign_changed(tx: Tx, verb: str, data: dict[str, Any]) -> None:
    """Project the campaign (highest version wins), make a draft naming a call its proposal,
    and settle match funding when the campaign ends."""
    cid = data["campaign_id"]
    existing = await store.campaign(tx, cid)
    # Keep the highest version: a late, older event must not roll the projection back.
    if existing is None or int(existing["version"]) < int(data["version"]):
        doc = {"_id": cid, **{k: data[k] for k in CAMPAIGN_FIELDS if k in data}}
        if isinstance(doc.get("postcode"), str):
            doc["postcode"] = doc["postcode"].strip().upper()
        await store.campaigns.put(tx, doc)
    if verb in ("created", "submitted", "published"):
        await calls.proposal_from_campaign(tx, data)
    # Settlement follows the event type, not the projection: it is idempotent per commitment.
    if verb in ("succeeded", "failed", "canceled", "completed"):
        await matching.settle_ended_campaign(tx, data, verb)


async def _newer(tx: Tx, collection: str, key: str, at: datetime) -> bool:
    held = await store.event_time(tx, collection, key)
    return held is None or held < at


async def subscription_changed(tx: Tx, activated: bool, data: dict[str, Any], at: datetime) -> None:
    sid = data["subscription_id"]
    if not await _newer(tx, "subscriptions", sid, at):
        return
    status = "active" if activated else "lapsed"
    if status == "active" and data.get("status") not in (None, "active", "trialing"):
        status = str(data["status"])
    doc = {
        "_id": sid,
        "municipality": data["municipality"],
        "status": status,
        "plan": data.get("plan"),
        "current_period_end": data.get("current_period_end"),
        "event_time": at,
    }
    await store.subscriptions.put(tx, doc)


async def person_changed(tx: Tx, data: dict[str, Any], at: datetime) -> None:
    """A resident's postcode (call votes) and email (invitations)."""
    uid = data["user_id"]
    if not await _newer(tx, "users", uid, at):
        return
    existing = await store.user(tx, uid) or {}
    postcode = data.get("postcode", existing.get("postcode"))
    email = data.get("email", existing.get("email"))
    doc = {
        "_id": uid,
        "postcode": postcode.strip().upper() if isinstance(postcode, str) else None,
        "email": email.strip().lower() if isinstance(email, str) else None,
        "event_time": at,
    }
    await store.users.put(tx, doc)


async def person_deleted(tx: Tx, user_id: str, at: datetime) -> None:
    """GDPR: the person stops being an official; their proposals and ballots keep counting under
    a pseudonym but no longer name them."""
    await officials.remove_every_role(tx, user_id)
    await calls.forget_person(tx, user_id)
    # A tombstone with the deletion time keeps a late user.updated from resurrecting them.
    # Written last: on nx-27017 another connection may read a transaction's writes before it
    # commits, so whoever waits for the tombstone then also finds the rest done.
    await store.users.put(tx, {"_id": user_id, "postcode": None, "deleted": True, "event_time": at})
