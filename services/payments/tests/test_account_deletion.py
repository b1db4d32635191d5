"""A deleted account (`user.deleted` over the real broker), on localstripe: the backer's paid
pledge stays in the ledger under a pseudonym, a saved card never to be charged is released, an
unfinished checkout abandoned, and their Stripe customer is deleted at Stripe; another backer's
pledge is untouched."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from servicekit.events import new_event
from servicekit.privacy import pseudonym
from servicekit.testing.helpers import eventually, tap


async def _pledge(
    payments: Any, client: httpx.AsyncClient, backer: str, campaign_id: str, **extra: Any
) -> dict:
    created = await client.post(
        "/pledges",
        json={"campaign_id": campaign_id, "amount": 2_000, "currency": "EUR", **extra},
        headers={**payments.auth(backer), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert created.status_code == 201, created.text
    return created.json()


async def test_deleted_backer_pseudonymised_pledges_kept_and_stripe_customer_deleted(payments: Any) -> None:
    assert payments.ctx.bus is not None
    _, released = await tap(payments.ctx.bus, "pledge.released")
    keep, aon = f"cmp_{uuid.uuid4().hex}", f"cmp_{uuid.uuid4().hex}"
    for campaign_id, model in ((keep, "keep_it_all"), (aon, "all_or_nothing")):
        data = payments.campaign_data(campaign_id, "usr_owner_del", "live", model, 2)
        await payments.publish("campaign.published", campaign_id, data)
        await eventually(lambda cid=campaign_id: payments.store.campaign(cid))
    backer, other = f"usr_del_{uuid.uuid4().hex[:8]}", f"usr_keep_{uuid.uuid4().hex[:8]}"
    alias = pseudonym(backer)
    async with payments.client() as client:
        paid = await payments.checkout(
            await _pledge(payments, client, backer, keep, public_name="Nadia"),
            payments.good_card,
            payments.auth(backer),
        )
        saved = await payments.checkout(
            await _pledge(payments, client, backer, aon), payments.good_card, payments.auth(backer)
        )
        unfinished = await _pledge(payments, client, backer, aon)
        theirs = await payments.checkout(
            await _pledge(payments, client, other, keep), payments.good_card, payments.auth(other)
        )
    assert (paid["status"], saved["status"], unfinished["status"]) == ("succeeded", "authorized", "pending")
    customer = (await payments.store.customer(f"user:{backer}"))["stripe_customer_id"]
    assert (await payments.browser.get(f"/v1/customers/{customer}"))["id"] == customer

    await payments.ctx.bus.publish(new_event("gateway", "user.deleted", backer, {"user_id": backer}))

    async def stripe_forgot() -> bool:
        async with httpx.AsyncClient(
            base_url=payments.browser.base, auth=("sk_test_civicfund_tests", "")
        ) as http:
            return (await http.get(f"/v1/customers/{customer}")).status_code == 404

    await eventually(stripe_forgot, timeout=30)
    assert await payments.store.customer(f"user:{backer}") is None
    assert await payments.store.pledges_of_backer(backer, 10, 0) == []
    kept = {p["_id"]: p for p in await payments.store.pledges_of_backer(alias, 10, 0)}
    assert {pid: p["status"] for pid, p in kept.items()} == {
        paid["id"]: "succeeded",
        saved["id"]: "released",
        unfinished["id"]: "abandoned",
    }
    assert kept[paid["id"]]["public_name"] is None
    # The ledger still holds the money that was taken, pledge by pledge.
    ledger = await payments.store.ledger(keep)
    assert {(e["pledge_id"], e["kind"], e["amount"]) for e in ledger} == {
        (paid["id"], "charge", 2_000),
        (theirs["id"], "charge", 2_000),
    }
    # Campaigns hears that the saved card will never be charged, under the pseudonym.

    def release() -> list[dict[str, Any]]:
        return [json.loads(m.body)["data"] for m in released if json.loads(m.body)["subject"] == saved["id"]]

    await eventually(release)
    assert (release()[0]["backer_id"], release()[0]["reason"]) == (alias, "account deleted")
    untouched = await payments.store.pledge(theirs["id"])
    assert untouched is not None and (untouched["backer_id"], untouched["status"]) == (other, "succeeded")
    async with payments.client() as client:
        mine = await client.get("/me/pledges", headers=payments.auth(backer))
        assert mine.status_code == 200 and mine.json()["items"] == []
        # The admin still reads the pledge for the ledger.
        seen = await client.get(
            f"/pledges/{paid['id']}", headers=payments.auth("usr_admin", roles=["citizen", "admin"])
        )
        assert seen.status_code == 200, seen.text
