"""Events payments consumes, each mapped to its use case (run in the consumer's transaction):
campaigns (projection and outcomes: campaigns.py), municipalities (subscriptions.py),
cities' match funding (matches.py), deleted accounts (accounts.py) and campaigns whose end
releases money (payouts.py)."""

from __future__ import annotations

from servicekit.bus import Handlers, PermanentError
from servicekit.events import Event
from servicekit.mongo import Tx

from . import accounts, campaigns, domain, matches, payouts, subscriptions, tranches

campaign_handlers = Handlers("payments.campaigns")
municipality_handlers = Handlers("payments.municipalities")
match_handlers = Handlers("payments.matches")
account_handlers = Handlers("payments.accounts")
# Milestone releases: which cities label a campaign, and the updates a proof may name.
tranche_handlers = Handlers("payments.tranches")


@campaign_handlers.on(*(f"campaign.{verb}" for verb in domain.CAMPAIGN_STATES_WITH_VERSION))
async def on_campaign_changed(event: Event, tx: Tx) -> None:
    await campaigns.campaign_changed(tx, event.routing_key, event.data)
    # After the projection (same transaction): an end that releases money is remembered.
    await payouts.campaign_ended(tx, event.data["campaign_id"])
    # A permit declared or granted holds or releases the campaign's pending payouts.
    await payouts.permits_changed(tx, event.data["campaign_id"])


# On the campaigns queue: behind the campaign.published it follows, so the campaign is known.
@campaign_handlers.on("campaign.deadline_passed")
async def on_deadline_passed(event: Event, tx: Tx) -> None:
    await campaigns.deadline_passed(tx, event.data)


@municipality_handlers.on("municipality.registered")
async def on_municipality_registered(event: Event, tx: Tx) -> None:
    await subscriptions.municipality_registered(tx, event.data)


@match_handlers.on("match.committed")
async def on_match_committed(event: Event, tx: Tx) -> None:
    await matches.committed(tx, event.data)


@match_handlers.on("match.canceled")
async def on_match_canceled(event: Event, tx: Tx) -> None:
    await matches.canceled(tx, event.data)


@match_handlers.on("match.applied")
async def on_match_applied(event: Event, tx: Tx) -> None:
    await matches.applied(tx, event.data)


@match_handlers.on("match.released")
async def on_match_released(event: Event, tx: Tx) -> None:
    await matches.released(tx, event.data)


@account_handlers.on("user.deleted")
async def on_user_deleted(event: Event, tx: Tx) -> None:
    user_id = event.data.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise PermanentError("user.deleted without a user_id")
    await accounts.user_deleted(tx, user_id)


@tranche_handlers.on("label.granted", "label.revoked")
async def on_label_changed(event: Event, tx: Tx) -> None:
    await tranches.label_changed(tx, event.routing_key, event.data)


@tranche_handlers.on("campaign.update_posted")
async def on_update_posted(event: Event, tx: Tx) -> None:
    await tranches.update_posted(tx, event.data)
