"""Events this service consumes: campaign projection, money that triggers match funding,
city subscriptions, residents' postcodes (for call votes)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from servicekit.bus import Handlers, PermanentError
from servicekit.events import Event
from servicekit.mongo import Tx

from . import store
from .calls_intake import proposal_from_campaign
from .matching_apply import on_campaign_ended, on_contribution
from .store import put

handlers = Handlers("endorsements.events")

CAMPAIGN_EVENTS = (
    "campaign.created", "campaign.edited", "campaign.submitted", "campaign.published", "campaign.returned",
    "campaign.rejected", "campaign.goal_reached", "campaign.succeeded", "campaign.failed",
    "campaign.canceled", "campaign.completed",
)  # fmt: skip
CAMPAIGN_FIELDS = (
    "owner_id", "title", "status", "municipality", "neighbourhood", "category", "postcode", "lat", "lon",
    "goal", "currency", "funding_model", "deadline", "call_id", "raised", "matched", "pledged", "version",
)  # fmt: skip


def verb_of(event: Event) -> str:
    return event.routing_key.split(".", 1)[1]


@handlers.on(*CAMPAIGN_EVENTS)
async def project_campaign(event: Event, tx: Tx) -> None:
    data = event.data
    cid = data["campaign_id"]
    existing = await tx.db.campaigns.find_one({"_id": cid}, session=tx.session)
    # Keep the highest version: a late, older event must not roll the projection back.
    if existing is None or int(existing["version"]) < int(data["version"]):
        doc = {"_id": cid, **{k: data[k] for k in CAMPAIGN_FIELDS if k in data}}
        if isinstance(doc.get("postcode"), str):
            doc["postcode"] = doc["postcode"].strip().upper()
        if existing is None:
            await tx.db.campaigns.insert_one(doc, session=tx.session)
        else:
            await tx.db.campaigns.replace_one({"_id": cid}, doc, session=tx.session)
    if verb_of(event) in ("created", "submitted", "published"):
        await proposal_from_campaign(tx, data)
    # Settlement follows the event type, not the projection: it is idempotent per commitment.
    verb = verb_of(event)
    if verb in ("succeeded", "failed", "canceled", "completed"):
        await on_campaign_ended(tx, data, verb)


@handlers.on("payment.succeeded", "payment.refunded")
async def record_payment(event: Event, tx: Tx) -> None:
    data = event.data
    pid = data["payment_id"]
    refunded = event.routing_key == "payment.refunded"
    existing = await tx.db.contributions.find_one({"_id": pid}, session=tx.session)
    if existing is not None and existing["campaign_id"] != data["campaign_id"]:
        raise PermanentError(f"payment {pid} was recorded for campaign {existing['campaign_id']}")
    fields: dict[str, Any] = {
        "campaign_id": data["campaign_id"],
        "backer_id": data["backer_id"],
        "amount": int(data["amount"]),
        "currency": data["currency"],
    }
    # A refund may arrive before the success it reverses: both facts are kept, whatever the order.
    fields["refunded" if refunded else "succeeded"] = True
    fields["refunded_at" if refunded else "succeeded_at"] = event.time
    if existing is None:
        await tx.db.contributions.insert_one(
            {"_id": pid, "refunded": False, "succeeded": False, **fields}, session=tx.session
        )
    else:
        await store.patch(tx, "contributions", pid, fields)
    if not refunded:
        await on_contribution(tx, pid)


async def _newer(tx: Tx, collection: str, key: str, at: datetime) -> bool:
    """True if `at` is newer than what we hold for `key` (events may arrive out of order)."""
    doc = await tx.db[collection].find_one({"_id": key}, session=tx.session)
    return doc is None or doc["event_time"] < at


@handlers.on("subscription.activated", "subscription.lapsed")
async def track_subscription(event: Event, tx: Tx) -> None:
    data = event.data
    sid = data["subscription_id"]
    if not await _newer(tx, "subscriptions", sid, event.time):
        return
    status = "active" if event.routing_key == "subscription.activated" else "lapsed"
    if status == "active" and data.get("status") not in (None, "active", "trialing"):
        status = str(data["status"])
    doc = {
        "_id": sid,
        "municipality": data["municipality"],
        "status": status,
        "plan": data.get("plan"),
        "current_period_end": data.get("current_period_end"),
        "event_time": event.time,
    }
    await put(tx, "subscriptions", doc)


@handlers.on("user.registered", "user.updated")
async def project_user(event: Event, tx: Tx) -> None:
    data = event.data
    uid = data["user_id"]
    if not await _newer(tx, "users", uid, event.time):
        return
    existing = await tx.db.users.find_one({"_id": uid}, session=tx.session) or {}
    postcode = data.get("postcode", existing.get("postcode"))
    email = data.get("email", existing.get("email"))
    doc = {
        "_id": uid,
        "postcode": postcode.strip().upper() if isinstance(postcode, str) else None,
        "email": email.strip().lower() if isinstance(email, str) else None,
        "event_time": event.time,
    }
    await put(tx, "users", doc)


@handlers.on("user.deleted")
async def forget_user(event: Event, tx: Tx) -> None:
    """GDPR: the person stops being an official; their proposals and ballots keep counting under
    a pseudonym (results stay reproducible) but no longer name them."""
    uid = event.data["user_id"]
    # A tombstone with the deletion time keeps a late user.updated from resurrecting them.
    await put(tx, "users", {"_id": uid, "postcode": None, "deleted": True, "event_time": event.time})
    for official in [o async for o in tx.db.officials.find({"user_id": uid}, session=tx.session)]:
        await tx.db.officials.delete_one({"_id": official["_id"]}, session=tx.session)
        data = {"user_id": uid, "municipality": official["municipality"], "role": official["role"]}
        tx.emit("official.removed", uid, data)
    alias = "deleted-" + hashlib.sha256(uid.encode()).hexdigest()[:16]
    for proposal in [p async for p in tx.db.proposals.find({"proposer_id": uid}, session=tx.session)]:
        await store.patch(tx, "proposals", proposal["_id"], {"proposer_id": alias})
    for vote in [v async for v in tx.db.votes.find({"voter_id": uid}, session=tx.session)]:
        await tx.db.votes.delete_one({"_id": vote["_id"]}, session=tx.session)
        renamed = {**vote, "_id": f"{vote['call_id']}|{alias}|{vote['proposal_id']}", "voter_id": alias}
        await tx.db.votes.insert_one(renamed, session=tx.session)
