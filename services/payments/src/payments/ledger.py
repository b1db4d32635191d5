"""A campaign's ledger (its owner, from the campaign projection, and admins) and its
reconciliation with Stripe (admins), the use cases behind api_ledger.py."""

from __future__ import annotations

from dataclasses import dataclass

import stripe

from servicekit.auth import Principal
from servicekit.errors import DomainError

from . import domain
from .pledges import PledgeBook, stripe_unavailable
from .reconciliation import Reconciliation, reconcile_campaign
from .store import Doc


@dataclass(frozen=True)
class CampaignLedger:
    campaign_id: str
    currency: str | None
    totals: dict[str, int]
    entries: list[Doc]


class LedgerBook:
    def __init__(self, book: PledgeBook) -> None:
        self.book = book
        self.store = book.store

    async def _campaign_for(self, campaign_id: str, principal: Principal) -> Doc:
        campaign = await self.store.campaign(campaign_id)
        if campaign is None:
            raise DomainError("not_found", 404, "campaign not found")
        if not principal.is_admin and campaign.get("owner_id") != principal.sub:
            raise DomainError("forbidden", 403, "only the campaign's owner and admins see its ledger")
        return campaign

    async def ledger(self, campaign_id: str, principal: Principal) -> CampaignLedger:
        campaign = await self._campaign_for(campaign_id, principal)
        entries = await self.store.ledger(campaign_id)
        return CampaignLedger(campaign_id, campaign.get("currency"), domain.ledger_totals(entries), entries)

    async def reconciliation(self, campaign_id: str, principal: Principal) -> Reconciliation:
        await self._campaign_for(campaign_id, principal)
        try:
            return await reconcile_campaign(self.book, campaign_id)
        except stripe.StripeError as exc:
            raise stripe_unavailable(exc) from exc
