"""Use cases of a deleted account (`user.deleted`, from the gateway).

The ledger is kept: a pledge that took money stays, with its amounts, Stripe references and
ledger entries, because totals, refunds, reconciliation with Stripe and the campaign's accounts
must still add up; the backer is replaced by their pseudonym (servicekit.privacy) and the name
they showed publicly is dropped. Their Stripe customer is deleted (with the cards saved on it),
so a pledge that was still to be charged can never be: it is released (a saved card) or
abandoned (a checkout never finished), and campaigns' `pledged` drops by it.

The handler's part runs in the consumer's transaction and never calls Stripe; the Stripe
customer is deleted afterwards by `AccountErasures`, a WorkQueue retried with backoff, which
treats a customer Stripe no longer knows as done."""

from __future__ import annotations

import asyncio

from servicekit.jobs import WorkQueue
from servicekit.logging import get_logger
from servicekit.mongo import Tx, utcnow
from servicekit.privacy import pseudonym

from . import domain
from .pledges import PledgeBook
from .receipts_store import ReceiptStore
from .store import ERASURES, Doc, Store

log = get_logger(__name__)

# Card saved, nothing taken: never charged once the customer (and the card) is gone.
RELEASE = (domain.AUTHORIZED, domain.CHARGE_DUE, domain.CHARGE_FAILED)
# Checkout not finished.
ABANDON = (domain.CREATING, domain.PENDING, domain.FAILED)
BACKOFF_S = (5, 15, 60, 300, 900, 3600)


async def user_deleted(tx: Tx, user_id: str) -> None:
    """Pseudonymise the person's pledges, end those that can no longer be paid, and queue the
    deletion of their Stripe customer. A redelivery finds nothing that names them."""
    store = Store.of(tx)
    alias = pseudonym(user_id)
    now = utcnow()
    for pledge in await store.every_pledge_of(tx, user_id):
        # A pledge that is being charged (`charging`) or waits for 3-D Secure keeps its status:
        # if the money comes, it is recorded like any other payment, under the pseudonym.
        await store.set_pledge(
            tx, pledge["_id"], backer_id=alias, public_name=None, backer_deleted_at=now, updated_at=now
        )
        renamed = {**pledge, "backer_id": alias, "public_name": None}
        if pledge["status"] in RELEASE:
            moved = await store.move_pledge(
                tx, pledge["_id"], [pledge["status"]], domain.RELEASED, release_reason="account deleted"
            )
            if moved is not None:
                tx.emit(
                    "pledge.released", pledge["_id"], domain.event_data(renamed, reason="account deleted")
                )
        elif pledge["status"] in ABANDON:
            await store.move_pledge(tx, pledge["_id"], [pledge["status"]], domain.ABANDONED, setup_open=False)
    await ReceiptStore(tx.db).pseudonymise_backer(tx, user_id, alias)
    customer = await store.take_customer(tx, f"user:{user_id}")
    if customer is not None:
        await store.insert_erasure(
            tx,
            f"customer:{customer['stripe_customer_id']}",
            stripe_customer_id=customer["stripe_customer_id"],
        )


class AccountErasures:
    """Deletes the Stripe customers of deleted accounts (the `erasures` work queue)."""

    def __init__(self, book: PledgeBook) -> None:
        self.book = book
        self.queue = WorkQueue(
            book.mongo, ERASURES, lease_s=60, backoff_s=BACKOFF_S, working_status="erasing"
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self.queue.run(self.process, stop, poll_s=self.book.settings.worker_tick_s)

    async def process(self, item: Doc) -> None:
        """One customer (raises to be retried with backoff while Stripe is unreachable)."""
        existed = await self.book.stripe.delete_customer(item["stripe_customer_id"])
        log.info("stripe_customer_deleted", customer=item["stripe_customer_id"], existed=existed)
        await self.queue.complete(item["_id"], {"status": "done", "done_at": utcnow(), "existed": existed})
