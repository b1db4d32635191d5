"""Use cases of offline meetups with RSVP and a waiting list: a seat while there is one, else
the list; a seat given back goes to the first person waiting."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.mongo import Tx, utcnow

from . import domain_community
from .access import not_found, require_owner, visible
from .models import MeetupIn
from .store import CampaignStore, Doc, delete, insert, ms, save

MEETUP_STATUSES = ("live", "succeeded", "completed")


@dataclass(frozen=True)
class Rsvp:
    meetup: Doc
    state: str  # going, waitlisted, none


async def _meetup(store: CampaignStore, tx: Tx, campaign_id: str, meetup_id: str) -> Doc:
    meetup = await store.meetup(campaign_id, meetup_id, tx)
    if meetup is None:
        raise not_found("meetup")
    return meetup


async def _recount(store: CampaignStore, tx: Tx, meetup: Doc) -> Doc:
    """Fill free seats from the waiting list, then store the counts on the meetup. Writing the
    meetup document in every RSVP transaction makes concurrent RSVPs conflict (and retry)
    instead of both taking the last seat."""
    rsvps = await store.rsvps(meetup["_id"], tx)
    going = [r for r in rsvps if r["state"] == "going"]
    waiting = [r for r in rsvps if r["state"] == "waitlisted"]
    for promoted in domain_community.promotions(meetup["capacity"], len(going), waiting):
        await save(tx, "rsvps", {**promoted, "state": "going", "promoted_at": utcnow()})
        going.append(promoted)
        waiting.remove(promoted)
    return await save(tx, "meetups", {**meetup, "going": len(going), "waitlisted": len(waiting)})


async def schedule(store: CampaignStore, principal: Principal, campaign_id: str, body: MeetupIn) -> Doc:
    """Owner: schedule an offline meetup; followers are told (campaign.meetup_scheduled)."""
    campaign = await visible(store, campaign_id, principal)
    require_owner(campaign, principal, "schedule meetups")
    if campaign["status"] not in MEETUP_STATUSES:
        raise DomainError(
            "campaign_not_published", 409, f"a {campaign['status']} campaign cannot schedule meetups"
        )
    if body.starts_at <= utcnow():
        raise DomainError("in_the_past", 422, "a meetup starts in the future")

    async def work(tx: Tx) -> Doc:
        meetup = await insert(
            tx,
            "meetups",
            {
                "_id": f"mtp_{uuid.uuid4().hex}",
                "campaign_id": campaign_id,
                **body.model_dump(),
                "going": 0,
                "waitlisted": 0,
                "next_seq": 0,
                "starts_ms": ms(body.starts_at),
                "created_at": utcnow(),
            },
        )
        tx.emit(
            "campaign.meetup_scheduled",
            campaign_id,
            {
                "campaign_id": campaign_id,
                "meetup_id": meetup["_id"],
                "owner_id": campaign["owner_id"],
                "title": body.title,
                "campaign_title": campaign["title"],
                "starts_at": body.starts_at.isoformat(),
                "place": body.place,
                "capacity": body.capacity,
            },
        )
        return meetup

    return await store.run(work)


async def list_of(
    store: CampaignStore, principal: Principal | None, campaign_id: str, past: bool
) -> list[Doc]:
    """Upcoming meetups, soonest first (`past`: the ones that already started)."""
    await visible(store, campaign_id, principal)
    return await store.meetups(campaign_id, ms(utcnow()), past=past, limit=50)


async def rsvp(store: CampaignStore, principal: Principal, campaign_id: str, meetup_id: str) -> Rsvp:
    """Come to a meetup: `going` if a seat is free, else `waitlisted`. Repeating it changes nothing."""
    await visible(store, campaign_id, principal)
    rsvp_id = f"{meetup_id}|{principal.sub}"

    async def work(tx: Tx) -> Rsvp:
        meetup = await _meetup(store, tx, campaign_id, meetup_id)
        if meetup["starts_at"] <= utcnow():
            raise DomainError("meetup_started", 409, "this meetup already started")
        existing = await store.by_id("rsvps", rsvp_id, tx)
        if existing is not None:
            return Rsvp(meetup, existing["state"])
        state = domain_community.rsvp_state(meetup["capacity"], int(meetup.get("going", 0)))
        seq = int(meetup.get("next_seq", 0))
        await insert(
            tx,
            "rsvps",
            {
                "_id": rsvp_id,
                "meetup_id": meetup_id,
                "user_id": principal.sub,
                "state": state,
                "seq": seq,
                "at": utcnow(),
            },
        )
        return Rsvp(await _recount(store, tx, {**meetup, "next_seq": seq + 1}), state)

    return await store.run(work)


async def cancel_rsvp(store: CampaignStore, principal: Principal, campaign_id: str, meetup_id: str) -> Rsvp:
    """Give the seat (or the place on the waiting list) back."""
    await visible(store, campaign_id, principal)
    rsvp_id = f"{meetup_id}|{principal.sub}"

    async def work(tx: Tx) -> Rsvp:
        meetup = await _meetup(store, tx, campaign_id, meetup_id)
        await delete(tx, "rsvps", rsvp_id)
        return Rsvp(await _recount(store, tx, meetup), "none")

    return await store.run(work)


@dataclass(frozen=True)
class Attendance:
    going: list[str]
    waitlisted: list[str]


async def attendees(
    store: CampaignStore, principal: Principal, campaign_id: str, meetup_id: str
) -> Attendance:
    """Owner: who comes and who waits, in order."""
    campaign = await visible(store, campaign_id, principal)
    require_owner(campaign, principal, "see attendees")
    if await store.meetup(campaign_id, meetup_id) is None:
        raise not_found("meetup")
    rsvps = await store.rsvps(meetup_id)
    return Attendance(
        going=[r["user_id"] for r in rsvps if r["state"] == "going"],
        waitlisted=[r["user_id"] for r in rsvps if r["state"] == "waitlisted"],
    )
