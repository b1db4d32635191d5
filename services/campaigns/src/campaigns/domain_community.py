"""Rules for what neighbours give besides money: offers against needs, meetup places. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

OFFER_STATES = ("pending", "accepted", "declined", "withdrawn")
# Needs and meetups belong to a campaign that is being prepared or running.
COMMUNITY_OPEN_STATUSES = ("draft", "submitted", "live")


def need_counts(need: dict[str, Any], offers: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Public counts of a need: how much was offered (still pending) and accepted."""
    offered = accepted = delivered = count = 0
    for offer in offers:
        if offer.get("hidden") is True:  # hidden by moderation (domain_reports): not help on offer
            continue
        if offer["state"] == "pending":
            offered += int(offer["quantity"])
            count += 1
        elif offer["state"] in ("accepted", "delivered"):
            accepted += int(offer["quantity"])
            count += 1
            if offer["state"] == "delivered":
                delivered += int(offer["quantity"])
    return {
        "offers_count": count,
        "offered": offered,
        "accepted": accepted,
        "remaining": max(0, int(need["quantity"]) - accepted),
        "delivered": delivered,
    }


def delivery_refusal(offer: dict[str, Any]) -> str | None:
    """Why the owner cannot confirm this offer as delivered, or None (only accepted help is)."""
    if offer["state"] == "delivered":
        return None  # confirming again changes nothing
    if offer["state"] != "accepted":
        return f"only accepted help can be confirmed delivered (this offer is {offer['state']})"
    return None


def decide_offer(offer: dict[str, Any], decision: str, need: dict[str, Any], accepted: int) -> str:
    """The offer's next state, or ValueError with the reason it cannot be decided."""
    if offer["state"] != "pending":
        raise ValueError(f"the offer is already {offer['state']}")
    if decision == "accept":
        if accepted + int(offer["quantity"]) > int(need["quantity"]):
            raise ValueError("accepting it would exceed the quantity the need asks for")
        return "accepted"
    if decision == "decline":
        return "declined"
    raise ValueError(f"unknown decision {decision!r}")


def rsvp_state(capacity: int, going: int) -> str:
    """A new RSVP: a seat if one is free, else the waiting list."""
    return "going" if going < capacity else "waitlisted"


def promotions(capacity: int, going: int, waitlist: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Who moves from the waiting list to a seat, first come first served."""
    free = max(0, capacity - going)
    ordered = sorted(waitlist, key=lambda r: (r["seq"], r["_id"]))
    return ordered[:free]
