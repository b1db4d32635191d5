"""The reconciliation check: does the journal agree with Stripe's objects?

For every pledge of a campaign, the money Stripe says its PaymentIntents took (succeeded), gave
back (refunds) and had withdrawn by disputes not won is compared with the journal's entries. Used by
`GET /campaigns/{id}/reconciliation` and by ops from a shell:

    python -m payments.reconciliation cmp_... [cmp_...]   # exit status 1 if anything differs
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

from servicekit.idempotency import Idempotency
from servicekit.mongo import Mongo

from . import domain
from .pledges import PledgeBook
from .settings import Settings
from .store import Store
from .stripe_api import StripeApi


@dataclass(frozen=True)
class Reconciliation:
    campaign_id: str
    ok: bool
    checked_pledges: int
    differences: list[dict[str, Any]]


async def reconcile_campaign(book: PledgeBook, campaign_id: str) -> Reconciliation:
    """Compare the journal with what Stripe says each pledge's intents took and gave back."""
    journal = domain.journal_by_pledge(await book.store.ledger(campaign_id))
    theirs: dict[str, domain.MoneyView] = {}
    pledges = await book.store.pledges_of_campaign(campaign_id)
    for pledge in pledges:
        charged = refunded = disputed = 0
        for intent_id in pledge.get("intents", []):
            state, amount = await book.stripe.payment_intent_amount(intent_id)
            if state.status == "succeeded":
                charged += amount
                refunded += sum(a for _, a in await book.stripe.refunds_of(intent_id))
                # A dispute holds its money back until won (open or lost: withdrawn).
                disputed += sum(
                    int(d["amount"])
                    for d in await book.stripe.disputes_of(intent_id)
                    if d.get("status") != "won"
                )
        if charged or refunded or disputed:
            theirs[pledge["_id"]] = domain.MoneyView(charged, refunded, disputed)
    differences = domain.reconcile(journal, theirs)
    return Reconciliation(campaign_id, not differences, len(pledges), differences)


async def run_check(settings: Settings, campaign_ids: list[str]) -> int:
    """Print one JSON report per campaign; 0 if the journal agrees with Stripe everywhere."""
    mongo = Mongo(settings)
    await mongo.connect()
    try:
        book = PledgeBook(settings, mongo, Store(mongo.db), StripeApi(settings), Idempotency(mongo))
        clean = True
        for campaign_id in campaign_ids:
            report = await reconcile_campaign(book, campaign_id)
            print(json.dumps(asdict(report)))
            clean = clean and report.ok
        return 0 if clean else 1
    finally:
        await mongo.close()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: python -m payments.reconciliation <campaign id>...", file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(run_check(Settings(), sys.argv[1:])))
