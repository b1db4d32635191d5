"""Event consumers: keep the recipients projection and turn events into fan-out jobs.

A handler never sends anything: it records who should hear what (a job with audience stages)
in the event's inbox transaction; fanout.py expands jobs page by page and mailer.py sends.
"""

from __future__ import annotations

from typing import Any

from servicekit.bus import Handlers, PermanentError
from servicekit.events import Event
from servicekit.mongo import Tx

from . import store

handlers = Handlers("notifications.events")


class ProjectionNotReady(Exception):
    """Retryable: the event names a campaign whose owner we have not learnt yet (reordering)."""


def _stage_user(user_id: str, role: str, **extra: Any) -> dict[str, Any]:
    return {"t": "user", "user_id": user_id, "role": role, **extra}


async def _campaign(tx: Tx, campaign_id: str) -> dict[str, Any] | None:
    return await tx.db.campaigns.find_one({"_id": campaign_id}, session=tx.session)


async def _campaign_title(tx: Tx, data: dict[str, Any]) -> str:
    if data.get("campaign_title"):
        return data["campaign_title"]
    campaign = await _campaign(tx, data["campaign_id"])
    return campaign["title"] if campaign else data["campaign_id"]


async def _municipality_name(tx: Tx, slug: str) -> str:
    doc = await tx.db.municipalities.find_one({"_id": slug}, session=tx.session)
    return doc["name"] if doc else slug.replace("-", " ").title()


async def _owner_of(tx: Tx, data: dict[str, Any]) -> str:
    if data.get("owner_id"):
        return data["owner_id"]
    campaign = await _campaign(tx, data["campaign_id"])
    if campaign is None:
        raise ProjectionNotReady(f"campaign {data['campaign_id']} not known yet")
    return campaign["owner_id"]


async def _job(
    tx: Tx, event: Event, kind: str, stages: list[dict[str, Any]], action_path: str = "", **context: Any
) -> None:
    await store.add_fanout_job(
        tx,
        f"{event.id}|{kind}",
        kind,
        {"event_id": event.id, "d": event.data, "action_path": action_path, **context},
        stages,
    )


# -- users -----------------------------------------------------------------------------------


@handlers.on("user.registered", "user.updated")
async def user_changed(event: Event, tx: Tx) -> None:
    data = event.data
    fields = {k: data[k] for k in ("email", "display_name", "locale", "postcode") if k in data}
    await store.upsert_user(tx, data["user_id"], fields, event.time)


@handlers.on("user.deleted")
async def user_deleted(event: Event, tx: Tx) -> None:
    await store.forget_user(tx, event.data["user_id"], event.time)


@handlers.on("user.verification_requested", "user.password_reset_requested")
async def account_email(event: Event, tx: Tx) -> None:
    # The address is in the event on purpose: it may be the new, not yet verified one.
    data = event.data
    url = data.get("verify_url") or data.get("reset_url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise PermanentError("account email without an http(s) link")
    stage = _stage_user(data["user_id"], "user", email=data["email"], locale=data["locale"])
    if data.get("display_name"):
        stage["display_name"] = data["display_name"]
    await _job(tx, event, event.routing_key, [stage], action_url=url)


# -- municipalities and officials ------------------------------------------------------------


@handlers.on("municipality.registered")
async def municipality_registered(event: Event, tx: Tx) -> None:
    data = event.data
    postcodes = [str(p) for p in data.get("postcodes") or []]
    await store.upsert_municipality(tx, data["slug"], data["name"], postcodes)


@handlers.on("official.appointed", "official.removed")
async def official_changed(event: Event, tx: Tx) -> None:
    data = event.data
    active = event.routing_key == "official.appointed"
    await store.set_official(tx, data["municipality"], data["user_id"], data.get("role"), active, event.time)


@handlers.on("official.invited")
async def official_invited(event: Event, tx: Tx) -> None:
    # The invitee may have no account yet: address from the event, language from their account
    # when we know one with that address, English otherwise.
    data = event.data
    known = await tx.db.users.find_one({"email": data["email"]}, session=tx.session)
    locale = (known or {}).get("locale") or "en"
    recipient = known["_id"] if known else f"invitee:{data['invitation_id']}"
    stage = _stage_user(recipient, "user", email=data["email"], locale=locale)
    await _job(
        tx,
        event,
        event.routing_key,
        [stage],
        action_path=f"/invitations/accept?token={data['token']}",
        municipality_name=data.get("municipality_name") or await _municipality_name(tx, data["municipality"]),
    )


# -- campaigns -------------------------------------------------------------------------------

CAMPAIGN_NEWS = ("campaign.goal_reached", "campaign.succeeded", "campaign.failed", "campaign.canceled")


@handlers.on(
    "campaign.created",
    "campaign.edited",
    "campaign.submitted",
    "campaign.returned",
    "campaign.rejected",
    "campaign.completed",
)
async def campaign_changed(event: Event, tx: Tx) -> None:
    await store.upsert_campaign(tx, event.data)


@handlers.on("campaign.published", *CAMPAIGN_NEWS)
async def campaign_milestone(event: Event, tx: Tx) -> None:
    data = event.data
    await store.upsert_campaign(tx, data)
    cid = data["campaign_id"]
    stages = [
        _stage_user(data["owner_id"], "owner"),
        {"t": "backers", "campaign_id": cid},
        {"t": "followers", "campaign_id": cid},
    ]
    await _job(
        tx,
        event,
        event.routing_key,
        stages,
        f"/campaigns/{cid}",
        campaign_id=cid,
        campaign_title=data["title"],
    )


@handlers.on("campaign.followed", "campaign.unfollowed")
async def follow_changed(event: Event, tx: Tx) -> None:
    data = event.data
    following = event.routing_key == "campaign.followed"
    await store.set_follow(tx, data["campaign_id"], data["user_id"], following, event.time)


@handlers.on("campaign.update_posted", "campaign.meetup_scheduled")
async def campaign_news_for_followers(event: Event, tx: Tx) -> None:
    data = event.data
    cid = data["campaign_id"]
    path = f"/campaigns/{cid}/updates/{data['update_id']}" if "update_id" in data else f"/campaigns/{cid}"
    stages = [{"t": "followers", "campaign_id": cid}, {"t": "backers", "campaign_id": cid}]
    title = await _campaign_title(tx, data)
    await _job(tx, event, event.routing_key, stages, path, campaign_id=cid, campaign_title=title)


@handlers.on("campaign.offer_received")
async def offer_received(event: Event, tx: Tx) -> None:
    data = event.data
    cid = data["campaign_id"]
    await _job(
        tx,
        event,
        "campaign.offer_received",
        [_stage_user(data["owner_id"], "owner")],
        f"/campaigns/{cid}/offers/{data['offer_id']}",
        campaign_id=cid,
        campaign_title=await _campaign_title(tx, data),
    )


# -- pledges and payments --------------------------------------------------------------------


@handlers.on(
    "pledge.authorized", "pledge.released", "payment.succeeded", "payment.failed", "payment.refunded"
)
async def money_event(event: Event, tx: Tx) -> None:
    data = event.data
    cid = data["campaign_id"]
    if event.routing_key in ("pledge.authorized", "payment.succeeded"):
        await store.add_backer(tx, cid, data["backer_id"], event.time)
    path = (
        f"/pledges/{data['pledge_id']}/retry"
        if event.routing_key == "payment.failed"
        else f"/campaigns/{cid}"
    )
    await _job(
        tx,
        event,
        event.routing_key,
        [_stage_user(data["backer_id"], "backer")],
        path,
        campaign_id=cid,
        campaign_title=await _campaign_title(tx, data),
    )


# -- cities: labels, match funding, calls, subscriptions -------------------------------------


@handlers.on("endorsement.requested")
async def label_requested(event: Event, tx: Tx) -> None:
    data = event.data
    slug = data["municipality"]
    await _job(
        tx,
        event,
        "endorsement.requested",
        [{"t": "officials", "municipality": slug, "roles": ["reviewer", "manager"]}],
        f"/cities/{slug}/endorsements/{data['endorsement_id']}",
        campaign_id=data["campaign_id"],
        campaign_title=await _campaign_title(tx, data),
        municipality_name=await _municipality_name(tx, slug),
    )


@handlers.on("endorsement.granted", "endorsement.declined", "endorsement.revoked", "match.committed")
async def label_decided(event: Event, tx: Tx) -> None:
    data = event.data
    cid = data["campaign_id"]
    await _job(
        tx,
        event,
        event.routing_key,
        [_stage_user(await _owner_of(tx, data), "owner")],
        f"/campaigns/{cid}",
        campaign_id=cid,
        campaign_title=await _campaign_title(tx, data),
        municipality_name=await _municipality_name(tx, data["municipality"]),
    )


@handlers.on("call.opened")
async def call_opened(event: Event, tx: Tx) -> None:
    data = event.data
    slug = data["municipality"]
    await _job(
        tx,
        event,
        "call.opened",
        [{"t": "residents", "municipality": slug}],
        f"/cities/{slug}/calls/{data['call_id']}",
        municipality_name=await _municipality_name(tx, slug),
    )


@handlers.on("call.proposal_selected")
async def proposal_selected(event: Event, tx: Tx) -> None:
    data = event.data
    slug = data["municipality"]
    path = (
        f"/campaigns/{data['campaign_id']}"
        if data.get("campaign_id")
        else f"/cities/{slug}/calls/{data['call_id']}"
    )
    await _job(
        tx,
        event,
        "call.proposal_selected",
        [_stage_user(data["proposer_id"], "proposer")],
        path,
        municipality_name=await _municipality_name(tx, slug),
    )


@handlers.on("subscription.lapsed")
async def subscription_lapsed(event: Event, tx: Tx) -> None:
    slug = event.data["municipality"]
    await _job(
        tx,
        event,
        "subscription.lapsed",
        [{"t": "officials", "municipality": slug, "roles": ["manager"]}],
        f"/cities/{slug}/subscription",
        municipality_name=await _municipality_name(tx, slug),
    )
