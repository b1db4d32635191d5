"""Disputes (chargebacks), the use cases: what Stripe's `charge.dispute.*` webhooks do, and the
admins' list of them.

A webhook is only a hint: the Dispute is re-fetched from Stripe and its current state
recorded, so duplicated and reordered deliveries converge. The money a dispute takes back is
journaled once (entry ids derive from the dispute id): withdrawn when it opens, reinstated if
the bank decides for us (won), kept withdrawn if lost, and then announced as a refund
(`payment.refunded`, reason `dispute_lost`). While any dispute of a campaign is open
its payouts that have not left wait (`hold_reason` dispute_open, payouts_domain.hold_reason).
"""

from __future__ import annotations

from typing import Any

from servicekit.logging import get_logger
from servicekit.mongo import Tx, utcnow

from . import domain
from . import payouts_domain as rules
from .payouts import Payouts
from .pledges import PledgeBook
from .receipts_store import ReceiptStore
from .store import Doc, Store

log = get_logger(__name__)


async def refresh_holds(tx: Tx, store: Store, campaign_id: str) -> None:
    """The campaign's payouts that have not left take the campaign's current hold."""
    hold = rules.hold_reason(await store.campaign(campaign_id, tx))
    for payout in await store.payouts_not_left(tx, campaign_id):
        if payout.get("hold_reason") != hold:
            await store.set_payout(tx, payout["_id"], payout["status"], hold_reason=hold, updated_at=utcnow())


async def _announce_lost(tx: Tx, pledge: Doc, dispute_id: str, withdrawn: list[dict[str, Any]]) -> None:
    """A lost dispute gave the money back to the backer for good: to campaigns' totals and to
    the matching it is a refund (`payment.refunded`, keyed by the dispute so it counts once),
    and the gift's tax receipt no longer holds. While a dispute is open the money is only held:
    the bank may still decide for us."""
    await ReceiptStore(tx.db).void_receipt(tx, pledge["_id"], "dispute_lost")
    data = domain.event_data(
        pledge,
        payment_id=pledge.get("payment_id"),
        payment_intent_id=pledge.get("payment_intent_id"),
        refund_id=f"dispute:{dispute_id}",
        reason="dispute_lost",
    )
    data.update(
        amount=-sum(int(e["amount"]) for e in withdrawn if e["account"] == "project"),
        tip=-sum(int(e["amount"]) for e in withdrawn if e["account"] == "platform"),
    )
    tx.emit("payment.refunded", pledge["_id"], data)


class Disputes:
    def __init__(self, book: PledgeBook, payouts: Payouts) -> None:
        self.book = book
        self.payouts = payouts
        self.store = book.store
        self.mongo = book.mongo
        self.stripe = book.stripe

    async def listing(self, open_only: bool, limit: int) -> list[Doc]:
        return await self.store.disputes_listing(open_only, limit)

    async def changed(self, dispute_id: str) -> bool:
        """Record the dispute's current state; False when it is not about one of our pledges."""
        dispute = await self.stripe.dispute(dispute_id)
        intent_id = dispute.get("payment_intent")
        if isinstance(intent_id, dict):
            intent_id = intent_id.get("id")
        pledge = await self.store.pledge_with_intent(intent_id) if isinstance(intent_id, str) else None
        if pledge is None:
            log.info("dispute_not_ours", dispute_id=dispute_id)
            return False
        status = str(dispute.get("status"))
        is_open = status in domain.DISPUTE_OPEN
        campaign_id = pledge["campaign_id"]

        async def write(tx: Tx) -> bool:
            withdrawn = await self.store.entries_of_ref(tx, "dispute_withdrawn", dispute_id)
            balance = sum(e["amount"] for e in await self.store.project_entries_of(tx, pledge["_id"]))
            entries = domain.dispute_entries(
                campaign_id, pledge["_id"], dispute_id, int(dispute["amount"]), balance,
                pledge["currency"], withdrawn, won=status == "won",
            )  # fmt: skip
            await self.store.append_ledger(tx, entries, utcnow())
            now = utcnow()
            known = await self.store.dispute(dispute_id, tx)
            if status == "lost" and (known is None or known.get("status") != "lost"):
                taken = withdrawn or [e.doc() for e in entries if e.kind == "dispute_withdrawn"]
                await _announce_lost(tx, pledge, dispute_id, taken)
            fields: dict[str, Any] = {
                "campaign_id": campaign_id,
                "pledge_id": pledge["_id"],
                "payment_intent_id": intent_id,
                "charge_id": dispute.get("charge"),
                "amount": int(dispute["amount"]),
                "currency": pledge["currency"],
                "reason": dispute.get("reason"),
                "status": status,
                "open": 1 if is_open else 0,  # an int: nx-27017's $set stores booleans as 1
                "updated_at": now,
            }
            if known is None:
                fields.update(created_at=now, created_ms=int(now.timestamp() * 1000))
            if not is_open and (known is None or known.get("open")):
                fields["closed_at"] = now
            await self.store.save_dispute(tx, dispute_id, fields)
            campaign = await self.store.campaign(campaign_id, tx)
            if campaign is not None:
                # Counted here, not kept as a tally: a redelivery recounts the same number.
                still_open = await self.store.open_disputes_of_campaign(tx, campaign_id)
                await self.store.save_campaign(
                    tx, campaign_id, {"disputes_open": len(still_open)}, exists=True
                )
                await refresh_holds(tx, self.store, campaign_id)
            return campaign is not None and not is_open

        released = await self.mongo.transact(write)
        log.info("dispute_recorded", dispute_id=dispute_id, status=status, pledge_id=pledge["_id"])
        if released:
            # An approved payout held by the dispute goes now, if nothing else holds it.
            campaign = await self.store.campaign(campaign_id)
            if campaign is not None and campaign.get("owner_id"):
                await self.payouts.transfer_approved_of(str(campaign["owner_id"]))
        return True
