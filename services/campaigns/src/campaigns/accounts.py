"""Use cases of a deleted account (`user.deleted`, from the gateway) and the admin's decision
on the campaigns it leaves without an owner.

What the person did for others stays, under their pseudonym (servicekit.privacy): an accepted
offer still counts toward its need, a past meetup keeps its attendance, a backer still counts in
the totals. What only served to reach them goes: an offer's contact and message, their follows,
their seat at a meetup still to come (given to the first person waiting), offers nobody answered
yet (withdrawn: the owner could not reach them any more). Their live or submitted campaigns wait
for an admin (`pending_decision: owner_deleted`), who keeps them running or stops them; the
backers' money follows the usual rules of a cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.mongo import Tx, epoch_ms, utcnow
from servicekit.privacy import pseudonym

from . import domain_community
from .access import not_found
from .lifecycle import transition
from .store import CampaignStore, Doc, delete, insert, save

OWNER_DELETED = "owner_deleted"
# Campaigns someone else may still act on: an admin decides what becomes of them.
DECISION_STATUSES = ("live", "submitted")
# What an admin's "stop" means for a campaign in each of those statuses.
STOP_ACTION = {"live": "cancel", "submitted": "reject"}


async def user_deleted(tx: Tx, user_id: str, at: datetime) -> None:
    """Replace the person by their pseudonym everywhere campaigns keeps their part, drop what
    only served to reach them; runs in the event handler's transaction (a redelivery finds
    nothing left that names them)."""
    store = CampaignStore.of(tx)
    alias = pseudonym(user_id)
    traces = await store.traces_of(tx, user_id)
    for campaign in traces["campaigns"]:
        await _owner_gone(tx, campaign, at)
    for update in traces["updates"]:
        await save(tx, "updates", {**update, "author_id": alias})
    for offer in traces["offers"]:
        await _offer_anonymised(store, tx, offer, alias)
    for rsvp in traces["rsvps"]:
        await _rsvp_anonymised(store, tx, rsvp, alias)
    for follow in traces["follows"]:
        await _unfollowed(store, tx, follow)
    for collection in ("pledges", "payments"):
        for record in traces[collection]:
            await save(tx, collection, {**record, "backer_id": alias})
    for backer in traces["backers"]:
        # Keyed by campaign and backer: later events about their money name the pseudonym.
        await delete(tx, "backers", backer["_id"])
        await insert(
            tx,
            "backers",
            {k: v for k, v in backer.items() if k != "rev"}
            | {"_id": f"{backer['campaign_id']}|{alias}", "backer_id": alias},
        )


async def _owner_gone(tx: Tx, campaign: Doc, at: datetime) -> None:
    """The owner's id stays (payments and endorsements know the campaign by it; it names nobody
    once the account is gone); a campaign others may still act on waits for an admin."""
    if campaign.get("owner_deleted_at") is not None:
        return
    changed: Doc = {**campaign, "owner_deleted_at": at, "owner_deleted_ms": epoch_ms(at)}
    if campaign["status"] in DECISION_STATUSES:
        changed["pending_decision"] = OWNER_DELETED
    await save(tx, "campaigns", changed)


async def _offer_anonymised(store: CampaignStore, tx: Tx, offer: Doc, alias: str) -> None:
    state = "withdrawn" if offer["state"] == "pending" else offer["state"]
    await save(
        tx,
        "offers",
        {
            **offer,
            "from_user_id": alias,
            "message": "",
            "contact": {"channel": "in_app", "value": ""},
            "state": state,
        },
    )
    if state != offer["state"]:
        need = await store.by_id("needs", offer["need_id"], tx)
        if need is not None:
            offers = await store.offers_of_need(tx, need["_id"])
            await save(tx, "needs", {**need, "counts": domain_community.need_counts(need, offers)})


async def _rsvp_anonymised(store: CampaignStore, tx: Tx, rsvp: Doc, alias: str) -> None:
    """A meetup still to come gets the seat back (the first person waiting takes it); a past
    one keeps its attendance under the pseudonym."""
    meetup = await store.by_id("meetups", rsvp["meetup_id"], tx)
    await delete(tx, "rsvps", rsvp["_id"])
    if meetup is not None and meetup["starts_at"] > utcnow():
        rsvps = await store.rsvps(meetup["_id"], tx)
        going = [r for r in rsvps if r["state"] == "going"]
        waiting = [r for r in rsvps if r["state"] == "waitlisted"]
        for promoted in domain_community.promotions(meetup["capacity"], len(going), waiting):
            await save(tx, "rsvps", {**promoted, "state": "going", "promoted_at": utcnow()})
            going.append(promoted)
            waiting.remove(promoted)
        await save(tx, "meetups", {**meetup, "going": len(going), "waitlisted": len(waiting)})
        return
    kept = {k: v for k, v in rsvp.items() if k != "rev"}
    await insert(tx, "rsvps", {**kept, "_id": f"{rsvp['meetup_id']}|{alias}", "user_id": alias})


async def _unfollowed(store: CampaignStore, tx: Tx, follow: Doc) -> None:
    """Notifications forgets the person on its own (user.deleted): no campaign.unfollowed."""
    await delete(tx, "follows", follow["_id"])
    campaign = await store.campaign(follow["campaign_id"], tx)
    if campaign is not None:
        count = await store.followers_count(tx, follow["campaign_id"])
        await save(tx, "campaigns", {**campaign, "followers_count": count})


# -- the admin's decision ------------------------------------------------------------------------


async def awaiting(store: CampaignStore, limit: int) -> list[Doc]:
    """Admin: the campaigns waiting for a decision since their owner deleted their account."""
    return await store.awaiting_owner_decision(limit)


async def decide(
    store: CampaignStore,
    principal: Principal,
    campaign_id: str,
    decision: Literal["keep", "stop"],
    reason: str | None,
) -> Doc:
    """Admin: `keep` the campaign running without its owner, or `stop` it (a live campaign is
    canceled, so payments releases and refunds its pledges; a submitted one is rejected)."""

    async def work(tx: Tx) -> Doc:
        campaign = await store.campaign(campaign_id, tx)
        if campaign is None:
            raise not_found()
        if campaign.get("pending_decision") != OWNER_DELETED:
            raise DomainError("no_decision_pending", 409, "this campaign is not waiting for a decision")
        extra: Doc = {"pending_decision": None, "owner_decision": decision, "owner_decided_by": principal.sub}
        if decision == "keep":
            return await save(tx, "campaigns", {**campaign, **extra, "updated_at": utcnow()})
        action = STOP_ACTION.get(campaign["status"])
        if action is None:
            raise DomainError("not_stoppable", 409, f"a {campaign['status']} campaign cannot be stopped")
        return await transition(
            tx, campaign, action, {"admin"}, reason or "the owner deleted their account", extra
        )

    return await store.run(work)
