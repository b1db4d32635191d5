"""Admins' refunds after a payment succeeded, the use cases: one pledge (all of it or part), or
every backer of a campaign whose project will not happen.

Both go through Stripe refunds and are journaled by the one refund path (PledgeBook.record_refund,
once per Stripe refund id: the webhook's `charge.refunded` lands there too), which emits
`payment.refunded` so the campaign's totals drop and voids the tax receipt.

- One pledge: the refund is asked of Stripe at once, with an idempotency key derived from the
  admin's Idempotency-Key, then every refund of the payment is re-fetched and journaled.
- A whole campaign: in one transaction every paid pledge (but those under an open dispute, which
  Stripe will not refund) moves to `refund_due` (the charger's
  refund job asks Stripe, retried until it answers, as for a canceled campaign), the campaign
  is marked refunded (its payouts are held for good: payouts_domain.hold_reason) and its
  payouts that have not left fail with `campaign_refunded`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import stripe

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.mongo import Tx, utcnow

from . import domain
from . import payouts_domain as rules
from .disputes import refresh_holds
from .pledges import PledgeBook, stripe_unavailable
from .store import Doc


def _field_error(code: str, status: int, message: str, field: str) -> DomainError:
    return DomainError(
        code, status, message, details=[{"loc": ["body", field], "msg": message, "type": code}]
    )


class Refunds:
    def __init__(self, book: PledgeBook) -> None:
        self.book = book
        self.store = book.store
        self.mongo = book.mongo
        self.stripe = book.stripe
        self.idempotency = book.idempotency

    async def refund_pledge(
        self, pledge_id: str, admin: Principal, amount: int | None, reason: str, key: str
    ) -> Doc:
        """Refund `amount` (minor units; None: all that is left) of a paid pledge."""
        request = {"pledge_id": pledge_id, "amount": amount, "reason": reason}
        claim = await self.idempotency.begin(f"refunds.pledge|{admin.sub}", key, request)
        if claim.stored is not None:
            return claim.stored.value
        try:
            pledge = await self.store.pledge(pledge_id)
            if pledge is None:
                raise DomainError("not_found", 404, "pledge not found")
            if pledge["status"] != domain.SUCCEEDED or not pledge.get("payment_intent_id"):
                raise DomainError(
                    "not_refundable",
                    409,
                    f"only a paid pledge can be refunded (this one is {pledge['status']})",
                )
            intent_id = str(pledge["payment_intent_id"])
            try:
                refunds = await self.stripe.refunds_of(intent_id)
                disputes = await self.stripe.disputes_of(intent_id)
            except stripe.StripeError as exc:
                raise stripe_unavailable(exc) from exc
            if disputes:
                # Stripe refuses refunds of a disputed charge: the bank's decision gives it back.
                raise DomainError("disputed", 409, "this payment is disputed by the backer's bank")
            left = pledge["amount"] + pledge.get("tip", 0) - sum(a for _, a in refunds)
            wanted = left if amount is None else amount
            if wanted <= 0 or wanted > left:
                raise _field_error(
                    "amount_out_of_range", 422, f"at most {left} (minor units) is left to refund", "amount"
                )

            async def note(tx: Tx) -> None:
                await self.store.set_pledge(
                    tx, pledge_id, refund_reason=reason, refund_requested_by=admin.sub, updated_at=utcnow()
                )

            await self.mongo.transact(note)
            digest = hashlib.sha256(f"{admin.sub}|{key}".encode()).hexdigest()[:24]
            metadata = {"pledge_id": pledge_id, "campaign_id": pledge["campaign_id"], "reason": reason[:200]}
            try:
                refund_id, refunded = await self.stripe.refund(
                    intent_id, metadata, f"pledge-{pledge_id}-admin-refund-{digest}", amount=wanted
                )
                fresh = await self.store.pledge(pledge_id)
                assert fresh is not None
                await self.book.record_refunds_of(fresh)
            except stripe.StripeError as exc:
                raise stripe_unavailable(exc) from exc
            after = await self.store.pledge(pledge_id)
            assert after is not None
            answer = {
                "pledge_id": pledge_id,
                "campaign_id": pledge["campaign_id"],
                "refund_id": refund_id,
                "amount": refunded,
                "currency": pledge["currency"],
                "reason": reason,
                "status": after["status"],
                "left_to_refund": left - refunded,
            }
            await claim.complete(answer)
        except BaseException:
            await claim.release()
            raise
        return answer

    async def refund_campaign(self, campaign_id: str, admin: Principal, reason: str, key: str) -> Doc:
        """The project will not happen: every paid pledge refunded, its payouts stopped."""
        claim = await self.idempotency.begin(
            f"refunds.campaign|{admin.sub}", key, {"campaign_id": campaign_id, "reason": reason}
        )
        if claim.stored is not None:
            return claim.stored.value
        try:

            async def write(tx: Tx) -> Doc:
                campaign = await self.store.campaign(campaign_id, tx)
                if campaign is None:
                    raise DomainError("not_found", 404, "campaign not found")
                now = utcnow()
                moved = 0
                # Stripe refuses to refund a disputed charge: the bank's decision settles those.
                disputed = {
                    d["pledge_id"] for d in await self.store.open_disputes_of_campaign(tx, campaign_id)
                }
                for pledge in await self.store.pledges_of_campaign(campaign_id, tx):
                    if pledge["status"] != domain.SUCCEEDED or pledge["_id"] in disputed:
                        continue
                    done = await self.store.move_pledge(
                        tx, pledge["_id"], [domain.SUCCEEDED], domain.REFUND_DUE,
                        refund_reason=reason, refund_requested_by=admin.sub,
                    )  # fmt: skip
                    moved += done is not None
                if not campaign.get("refunded_all_at"):
                    fields: dict[str, Any] = {
                        "refunded_all_at": now, "refunded_all_by": admin.sub, "refund_all_reason": reason,
                    }  # fmt: skip
                    await self.store.save_campaign(tx, campaign_id, fields, exists=True)
                stopped = 0
                for payout in await self.store.payouts_not_left(tx, campaign_id):
                    to = rules.next_state(payout["status"], "cancel")
                    if to is None:
                        continue
                    failed = await self.store.move_payout(
                        tx,
                        payout["_id"],
                        payout["status"],
                        to,
                        failure_reason=rules.CAMPAIGN_REFUNDED,
                        hold_reason=rules.CAMPAIGN_REFUNDED,
                    )
                    if failed is not None:
                        stopped += 1
                        tx.emit("payout.failed", failed["_id"], rules.event_data(failed))
                await refresh_holds(tx, self.store, campaign_id)
                answer = {
                    "campaign_id": campaign_id,
                    "reason": reason,
                    "pledges_to_refund": moved,
                    "payouts_stopped": stopped,
                }
                await claim.complete_in(tx, answer)
                return answer

            answer = await self.mongo.transact(write)
        except BaseException:
            await claim.release()
            raise
        return answer
