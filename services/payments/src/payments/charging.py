"""The money that moves without a backer in the room: off-session charges when an
all-or-nothing campaign succeeds, refunds when a campaign is canceled, the end of grace
periods, and the sweeper that re-fetches intents whose webhooks never came. Each is a periodic
job (`jobs()`, run by servicekit.jobs.every).

Work is claimed by a conditional status change (charge_due -> charging), so two replicas never
charge one pledge; the Stripe idempotency key derives from the pledge id, so a worker that dies
mid-charge and is retried gets Stripe's first answer back instead of a second charge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import stripe

from servicekit.logging import get_logger
from servicekit.mongo import Tx, utcnow
from servicekit.mongo import as_utc as when

from . import domain
from .domain import IntentState
from .metrics import CHARGES, REFUNDS
from .pledges import PledgeBook
from .store import Doc

log = get_logger(__name__)


class Charger:
    def __init__(self, book: PledgeBook) -> None:
        self.book = book
        self.settings = book.settings
        self.mongo = book.mongo
        self.store = book.store
        self.stripe = book.stripe

    def jobs(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """The periodic jobs, by name (app.py runs each every WORKER_TICK_S)."""
        return {
            "charge-due": self.charge_due,
            "refund-due": self.refund_due,
            "grace-periods": self.expire_grace_periods,
            "sweep": self.sweep,
        }

    async def run_once(self) -> None:
        """Every job once, now (tests and benchmarks)."""
        for job in self.jobs().values():
            await job()

    async def _claim(self, pledge: Doc, from_status: str, to_status: str) -> Doc | None:
        async def write(tx: Tx) -> Doc | None:
            return await self.store.move_pledge(
                tx, pledge["_id"], [from_status], to_status, claimed_at=utcnow()
            )

        return await self.mongo.transact(write)

    async def _release_claim(self, pledge_id: str, from_status: str, to_status: str) -> None:
        async def write(tx: Tx) -> None:
            await self.store.move_pledge(tx, pledge_id, [from_status], to_status)

        await self.mongo.transact(write)

    def _stuck(self, pledge: Doc) -> bool:
        claimed = when(pledge.get("claimed_at"))
        return claimed is None or utcnow() - claimed > timedelta(seconds=self.settings.stuck_claim_after_s)

    # -- charges --------------------------------------------------------------------------------

    async def charge_due(self) -> None:
        due = await self.store.pledges_in([domain.CHARGE_DUE, domain.CHARGING], limit=500)
        todo = [p for p in due if p["status"] == domain.CHARGE_DUE or self._stuck(p)]
        if not todo:
            return
        semaphore = asyncio.Semaphore(self.settings.charge_concurrency)

        async def one(pledge: Doc) -> None:
            async with semaphore:
                try:
                    await self.charge(pledge)
                except Exception:
                    log.exception("charge_crashed", pledge_id=pledge["_id"])

        await asyncio.gather(*(one(p) for p in todo))

    async def charge(self, pledge: Doc) -> None:
        claimed = await self._claim(pledge, pledge["status"], domain.CHARGING)
        if claimed is None:
            return  # another worker has it
        key = f"pledge-{pledge['_id']}-charge"
        metadata = {
            "pledge_id": pledge["_id"],
            "campaign_id": pledge["campaign_id"],
            "backer_id": pledge["backer_id"],
        }
        try:
            state = await self.stripe.charge_saved_card(
                pledge["amount"] + pledge.get("tip", 0),
                pledge["currency"],
                pledge["customer_id"],
                pledge["payment_method"],
                metadata,
                key,
                off_session=True,
            )
            if state.status == "requires_action":
                # Nobody is there to authenticate (real Stripe answers authentication_required):
                # a failure with a grace period; the open intent is closed so it cannot charge later.
                await self.stripe.cancel_payment_intent(state.id)
                state = IntentState(state.id, "canceled", "authentication_required")
        except stripe.StripeError as exc:
            # Stripe unreachable or refusing for a reason a later try may not hit: back to the
            # queue; the same idempotency key makes the next try safe.
            CHARGES.labels("error").inc()
            log.warning("charge_error", pledge_id=pledge["_id"], error=str(exc))
            await self._release_claim(pledge["_id"], domain.CHARGING, domain.CHARGE_DUE)
            return
        if not state.id:
            # Some declines come back without the PaymentIntent.
            state = IntentState(domain.unnamed_intent_id(key), state.status, state.error)
        status = await self.book.record_payment_intent(pledge["_id"], state, new_intent=True)
        CHARGES.labels(status or "pending").inc()
        if status is None and state.status not in ("succeeded",):
            # Still processing: left `charging`; once the claim is stale it is charged again
            # with the same idempotency key, which returns this intent in its current state.
            log.info("charge_pending", pledge_id=pledge["_id"], intent_status=state.status)

    # -- refunds --------------------------------------------------------------------------------

    async def refund_due(self) -> None:
        due = await self.store.pledges_in([domain.REFUND_DUE, domain.REFUNDING], limit=500)
        for pledge in due:
            if pledge["status"] == domain.REFUNDING and not self._stuck(pledge):
                continue
            try:
                await self.refund(pledge)
            except Exception:
                log.exception("refund_crashed", pledge_id=pledge["_id"])

    async def refund(self, pledge: Doc) -> None:
        if await self._claim(pledge, pledge["status"], domain.REFUNDING) is None:
            return
        try:
            # What is left after an admin's partial refund (refunds.py), named: localstripe
            # refunds the whole charge when no amount is given. Nothing left (our own earlier
            # attempt went through): journal what Stripe has.
            left = pledge["amount"] + pledge.get("tip", 0)
            left -= sum(a for _, a in await self.stripe.refunds_of(pledge["payment_intent_id"]))
            if left <= 0:
                await self.book.record_refunds_of({**pledge, "status": domain.REFUNDING})
                return
            refund_id, amount = await self.stripe.refund(
                pledge["payment_intent_id"],
                {"pledge_id": pledge["_id"], "campaign_id": pledge["campaign_id"]},
                # The amount in the key: Stripe answers a key reused with other parameters 400.
                f"pledge-{pledge['_id']}-refund"
                + ("" if left == pledge["amount"] + pledge.get("tip", 0) else f"-{left}"),
                amount=left,
            )
        except stripe.StripeError as exc:
            REFUNDS.labels("error").inc()
            log.warning("refund_error", pledge_id=pledge["_id"], error=str(exc))
            await self._release_claim(pledge["_id"], domain.REFUNDING, domain.REFUND_DUE)
            return
        await self.book.record_refund(pledge["_id"], refund_id, amount, final=True)
        REFUNDS.labels("ok").inc()

    # -- grace periods and the sweeper ----------------------------------------------------------

    async def expire_grace_periods(self) -> None:
        now = utcnow()
        for pledge in await self.store.pledges_in([domain.CHARGE_FAILED, domain.REQUIRES_ACTION], limit=500):
            if not domain.grace_expired(pledge["status"], when(pledge.get("retry_until")), now):
                continue
            if pledge["status"] == domain.REQUIRES_ACTION:
                # A 3-D Secure payment still open could take money after the release: close it
                # first; if Stripe refuses (it went through meanwhile), record what it says.
                try:
                    await self.stripe.cancel_payment_intent(pledge["payment_intent_id"])
                except stripe.StripeError:
                    await self.book.refresh(pledge)
                    continue

            async def write(tx: Tx, pledge: Doc = pledge) -> None:
                moved = await self.store.move_pledge(tx, pledge["_id"], [pledge["status"]], domain.RELEASED)
                if moved is not None:
                    tx.emit(
                        "pledge.released",
                        pledge["_id"],
                        domain.event_data(pledge, reason="charge failed and the grace period ended"),
                    )

            await self.mongo.transact(write)

    async def sweep(self) -> None:
        """Re-fetch intents still waiting long after their last check (covers lost webhooks)."""
        now = utcnow()
        cutoff_ms = int((now.timestamp() - self.settings.sweep_after_s) * 1000)
        oldest = now - timedelta(seconds=self.settings.sweep_window_s)
        waiting = await self.store.pledges_in(
            [domain.PENDING, domain.REQUIRES_ACTION, domain.FAILED, domain.CHARGE_FAILED], limit=200
        )
        for pledge in waiting:
            if pledge.get("checked_ms", 0) > cutoff_ms:
                break  # sorted by last check: the rest were checked even more recently
            created = when(pledge.get("created_at"))
            if created is not None and created < oldest:
                continue  # a backer who never came back is not polled forever
            try:
                await self.book.refresh(pledge)
            except Exception as exc:
                log.warning("sweep_failed", pledge_id=pledge["_id"], error=str(exc))
