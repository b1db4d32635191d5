"""Offline meetups with RSVP and a waiting list: a seat while there is one, else the list;
a seat given back goes to the first person waiting."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request

from servicekit.auth import Principal, current_principal, optional_principal
from servicekit.errors import ApiError
from servicekit.mongo import Tx, utcnow

from . import community
from .models import MeetupIn
from .store import insert, ms, save
from .views import meetup_out, require_owner, store_of, visible_campaign

router = APIRouter(tags=["meetups"])
MEETUP_STATUSES = ("live", "succeeded", "completed")


async def _meetup(tx: Tx, campaign_id: str, meetup_id: str) -> dict[str, Any]:
    meetup = await tx.db.meetups.find_one({"_id": meetup_id, "campaign_id": campaign_id}, session=tx.session)
    if meetup is None:
        raise ApiError(404, "not_found", "meetup not found")
    return meetup


async def _recount(tx: Tx, meetup: dict[str, Any]) -> dict[str, Any]:
    """Fill free seats from the waiting list, then store the counts on the meetup. Writing the
    meetup document in every RSVP transaction makes concurrent RSVPs conflict (and retry)
    instead of both taking the last seat."""
    rsvps = await tx.db.rsvps.find({"meetup_id": meetup["_id"]}, session=tx.session).to_list()
    going = [r for r in rsvps if r["state"] == "going"]
    waiting = [r for r in rsvps if r["state"] == "waitlisted"]
    for promoted in community.promotions(meetup["capacity"], len(going), waiting):
        await save(tx, "rsvps", {**promoted, "state": "going", "promoted_at": utcnow()})
        going.append(promoted)
        waiting.remove(promoted)
    return await save(tx, "meetups", {**meetup, "going": len(going), "waitlisted": len(waiting)})


@router.post("/campaigns/{campaign_id}/meetups", status_code=201)
async def schedule_meetup(
    campaign_id: str, body: MeetupIn, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    """Owner: schedule an offline meetup; followers are told (campaign.meetup_scheduled)."""
    campaign = await visible_campaign(request, campaign_id, principal)
    require_owner(campaign, principal, "schedule meetups")
    if campaign["status"] not in MEETUP_STATUSES:
        raise ApiError(
            409, "campaign_not_published", f"a {campaign['status']} campaign cannot schedule meetups"
        )
    if body.starts_at <= utcnow():
        raise ApiError(422, "in_the_past", "a meetup starts in the future")

    async def work(tx: Tx) -> dict[str, Any]:
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

    return meetup_out(await store_of(request).run(work))


@router.get("/campaigns/{campaign_id}/meetups")
async def list_meetups(
    campaign_id: str,
    request: Request,
    past: bool = False,
    principal: Principal | None = Depends(optional_principal),
) -> dict[str, Any]:
    """Upcoming meetups, soonest first (`past=true`: the ones that already started)."""
    await visible_campaign(request, campaign_id, principal)
    now = ms(utcnow())
    when = {"$lt": now} if past else {"$gte": now}
    docs = (
        await store_of(request)
        .db.meetups.find({"campaign_id": campaign_id, "starts_ms": when})
        .sort([("starts_ms", -1 if past else 1)])
        .limit(50)
        .to_list()
    )
    return {"items": [meetup_out(m) for m in docs]}


@router.put("/campaigns/{campaign_id}/meetups/{meetup_id}/rsvp")
async def rsvp(
    campaign_id: str, meetup_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    """Come to a meetup: `going` if a seat is free, else `waitlisted`. Repeating it changes nothing."""
    await visible_campaign(request, campaign_id, principal)
    rsvp_id = f"{meetup_id}|{principal.sub}"

    async def work(tx: Tx) -> dict[str, Any]:
        meetup = await _meetup(tx, campaign_id, meetup_id)
        if meetup["starts_at"] <= utcnow():
            raise ApiError(409, "meetup_started", "this meetup already started")
        existing = await tx.db.rsvps.find_one({"_id": rsvp_id}, session=tx.session)
        if existing is not None:
            return {"meetup": meetup_out(meetup), "state": existing["state"]}
        state = community.rsvp_state(meetup["capacity"], int(meetup.get("going", 0)))
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
        meetup = await _recount(tx, {**meetup, "next_seq": seq + 1})
        return {"meetup": meetup_out(meetup), "state": state}

    return await store_of(request).run(work)


@router.delete("/campaigns/{campaign_id}/meetups/{meetup_id}/rsvp")
async def cancel_rsvp(
    campaign_id: str, meetup_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    """Give the seat (or the place on the waiting list) back."""
    await visible_campaign(request, campaign_id, principal)
    rsvp_id = f"{meetup_id}|{principal.sub}"

    async def work(tx: Tx) -> dict[str, Any]:
        meetup = await _meetup(tx, campaign_id, meetup_id)
        await tx.db.rsvps.delete_one({"_id": rsvp_id}, session=tx.session)
        meetup = await _recount(tx, meetup)
        return {"meetup": meetup_out(meetup), "state": "none"}

    return await store_of(request).run(work)


@router.get("/campaigns/{campaign_id}/meetups/{meetup_id}/attendees")
async def attendees(
    campaign_id: str, meetup_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> dict[str, Any]:
    """Owner: who comes and who waits, in order."""
    campaign = await visible_campaign(request, campaign_id, principal)
    require_owner(campaign, principal, "see attendees")
    store = store_of(request)
    if await store.db.meetups.find_one({"_id": meetup_id, "campaign_id": campaign_id}) is None:
        raise ApiError(404, "not_found", "meetup not found")
    rsvps = await store.db.rsvps.find({"meetup_id": meetup_id}).sort([("seq", 1)]).to_list()
    return {
        "going": [r["user_id"] for r in rsvps if r["state"] == "going"],
        "waitlisted": [r["user_id"] for r in rsvps if r["state"] == "waitlisted"],
    }
