"""A backer's pledges: the list with each pledge's status in plain words, and the printable
receipt of a paid one. The words for statuses and failures live here; the checkout uses them too."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from civicfund_client import CampaignsCampaignDetail

from ..gateway import ApiFailure
from ..site import SignedIn, Site

router = APIRouter()

PAGE_SIZE = 50


def status_text(gettext: Callable[[str], str], status: str) -> str:
    """A pledge's status as a backer would say it (the API's names are in the payments README)."""
    words = {
        "creating": gettext("Being prepared"),
        "pending": gettext("Waiting for your card"),
        "requires_action": gettext("Waiting for your bank's confirmation"),
        "failed": gettext("Payment failed: nothing was taken"),
        "authorized": gettext("Card saved, not charged"),
        "charge_due": gettext("Goal reached: being charged"),
        "charging": gettext("Goal reached: being charged"),
        "charge_failed": gettext("Charge failed: please retry"),
        "succeeded": gettext("Paid"),
        "refund_due": gettext("Being refunded"),
        "refunding": gettext("Being refunded"),
        "refunded": gettext("Refunded"),
        "released": gettext("Not charged: released"),
        "abandoned": gettext("Not completed"),
    }
    return words.get(status, status)


def status_kind(status: str) -> str:
    """The badge colour: good news, something to do, or neutral."""
    if status in ("succeeded", "authorized"):
        return "badge-label"
    if status in ("failed", "charge_failed", "requires_action", "pending"):
        return "badge-warn"
    return ""


def failure_text(gettext: Callable[[str], str], reason: str | None) -> str:
    words = {
        "card_declined": gettext("Your card was declined."),
        "payment_intent_authentication_failure": gettext("Your bank could not confirm the payment."),
        "authentication_required": gettext("Your bank asks you to confirm this payment yourself."),
        "expired_card": gettext("Your card has expired."),
        "insufficient_funds": gettext("Your card was declined: insufficient funds."),
        "incorrect_cvc": gettext("The card's security code is wrong."),
    }
    if reason and reason in words:
        return words[reason]
    return gettext("The payment did not go through.")


async def campaigns_by_id(site: Site, ids: list[str]) -> dict[str, CampaignsCampaignDetail | None]:
    """The campaigns of these pledges (titles and totals), read concurrently; one that cannot be
    read is None (the list still shows)."""

    async def one(campaign_id: str) -> CampaignsCampaignDetail | None:
        try:
            return await site.client().campaigns_get_campaign(campaign_id)
        except ApiFailure:
            return None

    unique = list(dict.fromkeys(ids))
    found = await asyncio.gather(*(one(i) for i in unique))
    return dict(zip(unique, found, strict=True))


def describe(site: Site, pledge: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **pledge,
        "status_text": status_text(site.gettext, pledge["status"]),
        "status_kind": status_kind(pledge["status"]),
        "total": int(pledge.get("amount", 0)) + int(pledge.get("tip", 0)),
    }


@router.get("/me/pledges", include_in_schema=False)
async def my_pledges(site: SignedIn, page: int = Query(1, ge=1, le=1000)) -> Response:
    answer = await site.client().payments_my_pledges(limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    items = answer["items"]
    more = len(items) > PAGE_SIZE
    pledges = [describe(site, p) for p in items[:PAGE_SIZE]]
    # The projects backers chose to send their pledge to if theirs fails are named too.
    chosen = [str((p.get("fallback") or {}).get("campaign_id") or "") for p in pledges]
    campaigns = await campaigns_by_id(site, [p["campaign_id"] for p in pledges] + [c for c in chosen if c])
    return site.render("pledges/list.html", pledges=pledges, campaigns=campaigns, page=page, more=more)


@router.get("/me/pledges/{pledge_id}/receipt", include_in_schema=False)
async def receipt(site: SignedIn, pledge_id: str) -> Response:
    pledge = describe(site, await site.client().payments_get_pledge(pledge_id))
    campaigns = await campaigns_by_id(site, [pledge["campaign_id"]])
    status = 200 if pledge.get("receipt") else 404
    return site.render(
        "pledges/receipt.html", status=status, pledge=pledge, campaign=campaigns[pledge["campaign_id"]]
    )
