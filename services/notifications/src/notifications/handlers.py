"""Event consumers: event -> use case. Projection events update the recipients projection
(recipients.py); notable events become a fan-out job (notices.py) naming who should hear what,
written in the event's inbox transaction. fanout.py expands jobs and mailer.py sends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from servicekit.bus import Handlers, PermanentError
from servicekit.events import Event
from servicekit.mongo import Tx

from . import notices, recipients
from .domain import Stage, to_backers, to_followers, to_officials, to_residents, to_user
from .links import action_path, event_url
from .notices import Invitee, NameOf, OwnerOf, TitleOf

handlers = Handlers("notifications.events")


async def _tell(tx: Tx, event: Event, audience: Sequence[Stage | OwnerOf | Invitee], **context: Any) -> None:
    """Tell `audience` about this event, linking to the page links.py names for it."""
    kind = event.routing_key
    await notices.notify(tx, event.id, kind, event.data, audience, action_path(kind, event.data), **context)


# -- users -----------------------------------------------------------------------------------


@handlers.on("user.registered", "user.updated")
async def user_changed(event: Event, tx: Tx) -> None:
    await recipients.user_changed(tx, event.data, event.time)


@handlers.on("user.deleted")
async def user_deleted(event: Event, tx: Tx) -> None:
    await recipients.user_deleted(tx, event.data["user_id"], event.time)


@handlers.on("user.verification_requested", "user.password_reset_requested")
async def account_email(event: Event, tx: Tx) -> None:
    # The address is in the event on purpose: it may be the new, not yet verified one.
    data = event.data
    url = event_url(event.routing_key, data)
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise PermanentError("account email without an http(s) link")
    contact = {"email": data["email"], "locale": data["locale"]}
    if data.get("display_name"):
        contact["display_name"] = data["display_name"]
    await _tell(tx, event, [to_user(data["user_id"], "user", **contact)], action_url=url)


# -- municipalities and officials ------------------------------------------------------------


@handlers.on("municipality.registered")
async def municipality_registered(event: Event, tx: Tx) -> None:
    data = event.data
    await recipients.municipality_registered(tx, data["slug"], data["name"], data.get("postcodes") or [])


@handlers.on("official.appointed", "official.removed")
async def official_changed(event: Event, tx: Tx) -> None:
    data = event.data
    active = event.routing_key == "official.appointed"
    await recipients.official_changed(
        tx, data["municipality"], data["user_id"], data.get("role"), active, event.time
    )


@handlers.on("official.invited")
async def official_invited(event: Event, tx: Tx) -> None:
    data = event.data
    await _tell(
        tx,
        event,
        [Invitee(data["email"], data["invitation_id"])],
        municipality_name=NameOf(data["municipality"], data.get("municipality_name")),
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
    data = event.data
    await recipients.campaign_changed(tx, data)
    if event.routing_key in ("campaign.returned", "campaign.rejected"):
        # Moderation's answer: the owner reads the reason (nobody else knows of the campaign yet).
        await _tell(
            tx,
            event,
            [to_user(data["owner_id"], "owner")],
            campaign_id=data["campaign_id"],
            campaign_title=data["title"],
        )


@handlers.on("campaign.content_hidden")
async def content_hidden(event: Event, tx: Tx) -> None:
    """An admin hid something after an abuse report: whoever wrote it is told why."""
    data = event.data
    cid = data["campaign_id"]
    role = "helper" if data["target"] == "offer" else "owner"
    await _tell(
        tx,
        event,
        [to_user(data["author_id"], role)],
        campaign_id=cid,
        campaign_title=TitleOf(cid, data.get("campaign_title")),
    )


@handlers.on("campaign.published", *CAMPAIGN_NEWS)
async def campaign_milestone(event: Event, tx: Tx) -> None:
    data = event.data
    cid = data["campaign_id"]
    await recipients.campaign_changed(tx, data)
    await _tell(
        tx,
        event,
        [to_user(data["owner_id"], "owner"), to_backers(cid), to_followers(cid)],
        campaign_id=cid,
        campaign_title=data["title"],
    )


@handlers.on("campaign.followed", "campaign.unfollowed")
async def follow_changed(event: Event, tx: Tx) -> None:
    data = event.data
    following = event.routing_key == "campaign.followed"
    await recipients.follow_changed(tx, data["campaign_id"], data["user_id"], following, event.time)


@handlers.on("campaign.update_posted", "campaign.meetup_scheduled")
async def campaign_news_for_followers(event: Event, tx: Tx) -> None:
    data = event.data
    cid = data["campaign_id"]
    await _tell(
        tx,
        event,
        [to_followers(cid), to_backers(cid)],
        campaign_id=cid,
        campaign_title=TitleOf(cid, data.get("campaign_title")),
    )


@handlers.on("campaign.offer_received")
async def offer_received(event: Event, tx: Tx) -> None:
    data = event.data
    cid = data["campaign_id"]
    await _tell(
        tx,
        event,
        [to_user(data["owner_id"], "owner")],
        campaign_id=cid,
        campaign_title=TitleOf(cid, data.get("campaign_title")),
    )


@handlers.on("campaign.offer_decided")
async def offer_decided(event: Event, tx: Tx) -> None:
    data = event.data
    cid = data["campaign_id"]
    await _tell(
        tx,
        event,
        [to_user(data["from_user_id"], "helper")],
        campaign_id=cid,
        campaign_title=TitleOf(cid, data.get("campaign_title")),
    )


# -- pledges and payments --------------------------------------------------------------------


@handlers.on(
    "pledge.authorized", "pledge.released", "payment.succeeded", "payment.failed", "payment.refunded"
)
async def money_event(event: Event, tx: Tx) -> None:
    data = event.data
    cid = data["campaign_id"]
    if event.routing_key in ("pledge.authorized", "payment.succeeded"):
        await recipients.backed(tx, cid, data["backer_id"], event.time)
    await _tell(
        tx,
        event,
        [to_user(data["backer_id"], "backer")],
        campaign_id=cid,
        campaign_title=TitleOf(cid, data.get("campaign_title")),
    )


# -- cities: labels, match funding, calls, subscriptions -------------------------------------


# Labels: the label.* names only. Endorsements also publishes the same changes as endorsement.*
# for one release; binding both would tell every recipient twice.
@handlers.on("label.requested")
async def label_requested(event: Event, tx: Tx) -> None:
    data = event.data
    slug = data["municipality"]
    await _tell(
        tx,
        event,
        [to_officials(slug, ["reviewer", "manager"])],
        campaign_id=data["campaign_id"],
        campaign_title=TitleOf(data["campaign_id"], data.get("campaign_title")),
        municipality_name=NameOf(slug),
    )


@handlers.on("label.granted", "label.declined", "label.revoked", "match.committed")
async def label_decided(event: Event, tx: Tx) -> None:
    data = event.data
    cid = data["campaign_id"]
    await _tell(
        tx,
        event,
        [OwnerOf(cid, data.get("owner_id"))],
        campaign_id=cid,
        campaign_title=TitleOf(cid, data.get("campaign_title")),
        municipality_name=NameOf(data["municipality"]),
    )


@handlers.on("call.opened")
async def call_opened(event: Event, tx: Tx) -> None:
    data = event.data
    await _tell(
        tx,
        event,
        [to_residents(data["municipality"])],
        municipality_name=NameOf(data["municipality"]),
    )


@handlers.on("call.proposal_selected")
async def proposal_selected(event: Event, tx: Tx) -> None:
    data = event.data
    await _tell(
        tx,
        event,
        [to_user(data["proposer_id"], "proposer")],
        municipality_name=NameOf(data["municipality"]),
    )


@handlers.on("subscription.lapsed")
async def subscription_lapsed(event: Event, tx: Tx) -> None:
    data = event.data
    await _tell(
        tx,
        event,
        [to_officials(data["municipality"], ["manager"])],
        municipality_name=NameOf(data["municipality"]),
    )
