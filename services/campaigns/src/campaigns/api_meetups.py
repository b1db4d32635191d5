"""HTTP: offline meetups with RSVP and a waiting list (use cases: meetups.py)."""

from __future__ import annotations

from fastapi import APIRouter

from servicekit.auth import OptionalPrincipalDep, PrincipalDep

from . import meetups
from .deps import Store
from .models import Attendees, MeetupIn, MeetupList, MeetupOut, RsvpOut
from .views import meetup_out

router = APIRouter(tags=["meetups"])


def _rsvp_out(rsvp: meetups.Rsvp) -> RsvpOut:
    return RsvpOut(meetup=meetup_out(rsvp.meetup), state=rsvp.state)


@router.post("/campaigns/{campaign_id}/meetups", status_code=201, response_model=MeetupOut)
async def schedule_meetup(
    campaign_id: str, body: MeetupIn, store: Store, principal: PrincipalDep
) -> MeetupOut:
    """Owner: schedule an offline meetup; followers are told (campaign.meetup_scheduled)."""
    return meetup_out(await meetups.schedule(store, principal, campaign_id, body))


@router.get("/campaigns/{campaign_id}/meetups", response_model=MeetupList)
async def list_meetups(
    campaign_id: str, store: Store, principal: OptionalPrincipalDep, past: bool = False
) -> MeetupList:
    """Upcoming meetups, soonest first (`past=true`: the ones that already started)."""
    return MeetupList(
        items=[meetup_out(m) for m in await meetups.list_of(store, principal, campaign_id, past)]
    )


@router.put("/campaigns/{campaign_id}/meetups/{meetup_id}/rsvp", response_model=RsvpOut)
async def rsvp(campaign_id: str, meetup_id: str, store: Store, principal: PrincipalDep) -> RsvpOut:
    """Come to a meetup: `going` if a seat is free, else `waitlisted`. Repeating it changes nothing."""
    return _rsvp_out(await meetups.rsvp(store, principal, campaign_id, meetup_id))


@router.delete("/campaigns/{campaign_id}/meetups/{meetup_id}/rsvp", response_model=RsvpOut)
async def cancel_rsvp(campaign_id: str, meetup_id: str, store: Store, principal: PrincipalDep) -> RsvpOut:
    """Give the seat (or the place on the waiting list) back."""
    return _rsvp_out(await meetups.cancel_rsvp(store, principal, campaign_id, meetup_id))


@router.get("/campaigns/{campaign_id}/meetups/{meetup_id}/attendees", response_model=Attendees)
async def attendees(campaign_id: str, meetup_id: str, store: Store, principal: PrincipalDep) -> Attendees:
    """Owner: who comes and who waits, in order."""
    found = await meetups.attendees(store, principal, campaign_id, meetup_id)
    return Attendees(going=found.going, waitlisted=found.waitlisted)
