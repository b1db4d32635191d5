"""Closing a campaign at its deadline, the use cases of the tally handshake (rules: domain.py,
"closing at the deadline"):

1. `request` (the deadline scheduler): the campaign, still live, records `closing.requested_at`
   and asks payments for its tally (campaign.deadline_passed); payments takes no new pledge.
2. `tallied` (payments' pledges.tallied): the tally is stored as `closing.tally`.
3. `recheck` (after the tally, and after every pledge or payment event while it waits): once
   campaigns' own funding records agree with the tally, the campaign succeeds or fails by its
   funding model's rule (domain.closing_action), in the same transaction.

They run inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from servicekit.bus import PermanentError
from servicekit.logging import get_logger
from servicekit.mongo import Tx, utcnow

from . import domain, lifecycle
from .store import CampaignStore, Doc, save

log = get_logger(__name__)


async def request(tx: Tx, campaign: Doc) -> Doc:
    """Ask payments for the tally of a live campaign past its deadline (once: the caller checks
    that no closing was requested yet)."""
    saved = await save(tx, "campaigns", {**campaign, "closing": {"requested_at": utcnow()}})
    tx.emit("campaign.deadline_passed", saved["_id"], domain.deadline_passed_data(saved))
    return saved


async def tallied(tx: Tx, data: dict[str, Any]) -> None:
    """payments' tally of a campaign whose closing was requested. A duplicate keeps the first
    tally (payments answers the same one); a campaign that ended meanwhile (canceled by its
    owner or an admin while closing) keeps its end."""
    store = CampaignStore.of(tx)
    campaign = await store.campaign(data["campaign_id"], tx)
    if campaign is None:
        raise PermanentError(f"unknown campaign {data['campaign_id']}")
    if data.get("currency") not in (None, campaign["currency"]):
        raise PermanentError(
            f"currency {data['currency']} does not match the campaign's {campaign['currency']}"
        )
    try:
        tally = domain.parse_tally(data)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    closing = domain.closing_of(campaign)
    if campaign["status"] != "live":
        return
    if closing is None:
        raise PermanentError(f"campaign {campaign['_id']} did not ask for a tally")
    if closing.get("tally") is not None:
        if closing["tally"] != tally:
            log.warning("tally_differs", campaign_id=campaign["_id"], kept=closing["tally"], got=tally)
        return
    saved = await save(tx, "campaigns", {**campaign, "closing": {**closing, "tally": tally}})
    await recheck(store, tx, saved)


async def recheck(store: CampaignStore, tx: Tx, campaign: Doc) -> Doc | None:
    """Close the campaign if it waits on a tally its records now agree with; returns the
    closed campaign, None if it goes on waiting (or does not wait for a tally)."""
    closing = domain.closing_of(campaign)
    if campaign["status"] != "live" or closing is None or closing.get("tally") is None:
        return None
    cid = campaign["_id"]
    pledges = await store.funding_records(tx, "pledges", cid)
    payments = await store.funding_records(tx, "payments", cid)
    refunds = await store.funding_records(tx, "refunds", cid)
    if not domain.tally_agrees(closing["tally"], pledges, payments, refunds):
        log.info("closing_waits_for_records", campaign_id=cid, tally=closing["tally"])
        return None
    saved = await lifecycle.transition(tx, campaign, domain.closing_action(campaign), {"system"})
    log.info("campaign_closed", campaign_id=cid, status=saved["status"])
    return saved
