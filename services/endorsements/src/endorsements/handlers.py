"""Events this service consumes, each mapped to its use case: the campaign projection (and
match settlement, call proposals), money that triggers match funding, city subscriptions,
residents' postcodes (for call votes)."""

from __future__ import annotations

from servicekit.bus import Handlers
from servicekit.events import Event
from servicekit.mongo import Tx

from . import projections
from .matching import usecases as matching

handlers = Handlers("endorsements.events")

CAMPAIGN_EVENTS = (
    "campaign.created", "campaign.edited", "campaign.submitted", "campaign.published", "campaign.returned",
    "campaign.rejected", "campaign.goal_reached", "campaign.succeeded", "campaign.failed",
    "campaign.canceled", "campaign.completed",
)  # fmt: skip


def verb_of(event: Event) -> str:
    return event.routing_key.split(".", 1)[1]


@handlers.on(*CAMPAIGN_EVENTS)
async def project_campaign(event: Event, tx: Tx) -> None:
    await projections.campaign_changed(tx, verb_of(event), event.data)


@handlers.on("payment.succeeded", "payment.refunded")
async def record_payment(event: Event, tx: Tx) -> None:
    refunded = event.routing_key == "payment.refunded"
    await matching.record_payment(tx, event.data["payment_id"], event.data, refunded, event.time)


@handlers.on("subscription.activated", "subscription.lapsed")
async def track_subscription(event: Event, tx: Tx) -> None:
    activated = event.routing_key == "subscription.activated"
    await projections.subscription_changed(tx, activated, event.data, event.time)


@handlers.on("user.registered", "user.updated")
async def project_user(event: Event, tx: Tx) -> None:
    await projections.person_changed(tx, event.data, event.time)


@handlers.on("user.deleted")
async def forget_user(event: Event, tx: Tx) -> None:
    await projections.person_deleted(tx, event.data["user_id"], event.time)
