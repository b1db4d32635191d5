"""Match money on the running platform, through public doors: a city commits an on_goal_reached
match on a labelled campaign, backers pay on localstripe, the campaign succeeds at its deadline,
the match becomes due, and the city pays it: the first city by the invoice payments bills on its
Stripe customer (the one its subscription uses) and localstripe charges, the second by a bank
transfer its manager declares and an admin confirms. Payments' ledger shows it received, the
campaign's public match money reads promised -> due -> received, and the campaign's payouts
carry the match to its holder.

The one step not taken through a public door: the campaign's deadline is moved into the past in
campaigns' datastore (a campaign runs 7 days at least), as tests/browser/test_payouts.py does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

E = "/api/v1/endorsements"
P = "/api/v1/payments"


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.5)


async def _subscribe(platform: Any, manager: Any, slug: str) -> None:
    """The city saves its card (the console's card setup, confirmCardSetup on localstripe) and
    subscribes with it."""
    body = {"municipality": slug}
    async with platform.client() as client:
        for _ in range(150):  # until payments heard municipality.registered
            r = await client.post(
                f"{P}/subscriptions/card-setups", json=body,
                headers={**manager.headers, "Idempotency-Key": f"card-{slug}"},
            )  # fmt: skip
            if r.status_code == 201:
                break
            assert r.json()["error"]["code"] == "municipality_not_found", r.text
            await asyncio.sleep(0.3)
        else:
            raise AssertionError("payments never heard of the city")
    setup = r.json()
    await platform.save_card(setup["client_secret"])
    await platform.call(
        "POST", f"{P}/subscriptions", manager, 201, headers={"Idempotency-Key": f"sub-{slug}"},
        json={"municipality": slug, "plan": "monthly", "setup_intent": setup["setup_intent"]},
    )  # fmt: skip


async def _matched_campaign(platform: Any, make_account: Any, manager: Any, slug: str) -> tuple[dict, str]:
    """A live keep-it-all campaign in `slug`, labelled with an on_goal_reached 1:1 match (cap 60 €)."""
    owner = await make_account()
    pool = await platform.call(
        "POST", f"{E}/municipalities/{slug}/pools", manager, 201, headers={"Idempotency-Key": f"pool-{slug}"},
        json={"name": "Budget participatif", "year": 2027, "budget": 100_000, "currency": "EUR"},
    )  # fmt: skip
    campaign = await platform.live_campaign(owner, municipality=slug, postcode="93100", goal=10_000)
    async with platform.client() as client:
        for _ in range(150):
            r = await client.post(f"{E}/labels", headers=owner.headers, json={"campaign_id": campaign["id"]})
            if r.status_code == 201:
                label = r.json()
                break
            assert r.json()["error"]["code"] == "campaign_not_found", r.text
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("endorsements never heard of the campaign")
    match = {"pool_id": pool["id"], "condition": "on_goal_reached", "ratio": 1, "cap_per_project": 6_000}
    granted = await platform.call(
        "POST", f"{E}/labels/{label['id']}/grant", manager, headers={"Idempotency-Key": f"grant-{slug}"},
        json={"match": match},
    )  # fmt: skip
    (commitment,) = granted["commitment_ids"]
    return campaign, commitment


async def _matches(platform: Any, campaign_id: str) -> list[dict[str, Any]]:
    return (await platform.call("GET", f"{P}/campaigns/{campaign_id}/city-matches", None))["items"]


@pytest.mark.timeout(600)  # two campaigns through the whole stack: minutes on a loaded machine
async def test_a_city_pays_its_match_by_invoice_or_by_bank_transfer(
    platform: Any, make_account: Any, stack: Any
) -> None:
    billed, transfer = await make_account(), await make_account()
    billed_city, transfer_city = await platform.city(billed), await platform.city(transfer)
    await _subscribe(platform, billed, billed_city)  # the other city only has its trial
    campaigns = {}
    for manager, slug in ((billed, billed_city), (transfer, transfer_city)):
        campaign, commitment = await _matched_campaign(platform, make_account, manager, slug)
        campaigns[slug] = (campaign, commitment)

        async def promised(cid: str = campaign["id"]) -> bool:
            return [m["status"] for m in await _matches(platform, cid)] == ["promised"]

        await _until(promised, "the match promised on the campaign")
        # Two backers pay 60 € + 45 € on localstripe: the 100 € goal is reached.
        for amount in (6_000, 4_500):
            paid = await platform.pledge(await make_account(), campaign, amount)
            assert paid["status"] == "succeeded", paid

        async def raised(cid: str = campaign["id"]) -> bool:
            totals = (await platform.call("GET", f"/api/v1/campaigns/campaigns/{cid}", None))["totals"]
            return totals["raised"] == 10_500

        await _until(raised, "campaigns counted the payments")
        await stack.end_campaign_now(campaign["id"])

    # The billed city: due at success, invoiced on its customer, charged, received.
    campaign, commitment = campaigns[billed_city]

    async def received(cid: str = campaign["id"]) -> bool:
        return [(m["status"], m["received"]) for m in await _matches(platform, cid)] == [("received", 6_000)]

    await _until(received, "the invoiced match received", timeout=120)
    dues = await platform.call("GET", f"{P}/city-dues", billed, params={"municipality": billed_city})
    (due,) = dues["items"]
    assert due["id"] == commitment and due["method"] == "invoice" and due["amount"] == 6_000
    async with httpx.AsyncClient(
        base_url=platform.stripe_base, timeout=10, auth=("sk_test_e2e", "")
    ) as stripe:
        invoice = (await stripe.get(f"/v1/invoices/{due['invoice_id']}")).json()
    assert invoice["status"] == "paid" and invoice["amount_paid"] == 6_000
    assert invoice["metadata"]["city_due_id"] == commitment
    ledger = await platform.call("GET", f"{P}/campaigns/{campaign['id']}/ledger", platform.admin)
    assert ledger["totals"]["match_received"] == 6_000 and ledger["totals"]["match_owed_by_city"] == 0
    await _until(lambda: _paid_out_with_match(platform, campaign["id"]), "the invoiced match in a payout")

    # The other city: due, it declares its transfer, an admin confirms it received.
    campaign, commitment = campaigns[transfer_city]

    async def due_now(cid: str = campaign["id"]) -> bool:
        return [(m["status"], m["due"]) for m in await _matches(platform, cid)] == [("due", 6_000)]

    await _until(due_now, "the transferred match due", timeout=120)
    dues = await platform.call("GET", f"{P}/city-dues", transfer, params={"municipality": transfer_city})
    assert [(d["id"], d["method"]) for d in dues["items"]] == [(commitment, "bank_transfer")]
    declared = await platform.call(
        "POST", f"{P}/city-dues/{commitment}/transfer-declaration", transfer,
        headers={"Idempotency-Key": f"decl-{commitment}"}, json={"reference": "VIR-E2E-0001"},
    )  # fmt: skip
    assert declared["status"] == "transfer_declared"
    waiting = await platform.call(
        "GET", f"{P}/city-dues", platform.admin, params={"status": "transfer_declared"}
    )
    assert commitment in [d["id"] for d in waiting["items"]]
    confirmed = await platform.call(
        "POST", f"{P}/city-dues/{commitment}/transfer-confirmation", platform.admin,
        headers={"Idempotency-Key": f"conf-{commitment}"},
    )  # fmt: skip
    assert confirmed["status"] == "received"
    assert [(m["status"], m["received"]) for m in await _matches(platform, campaign["id"])] == [
        ("received", 6_000)
    ]
    ledger = await platform.call("GET", f"{P}/campaigns/{campaign['id']}/ledger", platform.admin)
    kinds = sorted(e["kind"] for e in ledger["entries"] if e["kind"].startswith("match_"))
    assert kinds == ["match_committed", "match_due", "match_received", "match_released"]
    assert ledger["totals"]["match_received"] == 6_000 and ledger["totals"]["matched"] == 6_000
    # Received after the campaign ended: its payouts carry the match (the first one, or a
    # second payout when the confirmation came after the first was computed).
    await _until(lambda: _paid_out_with_match(platform, campaign["id"]), "the transferred match in a payout")


async def _paid_out_with_match(platform: Any, campaign_id: str) -> bool:
    """The campaign's payouts add up to the backers' 105 € less Stripe's fees, plus the city's 60 €."""
    payouts = (await platform.call("GET", f"{P}/campaigns/{campaign_id}/payouts", platform.admin))["items"]
    fees = sum(p["stripe_fees"] for p in payouts)
    return (
        sum(p["match"] for p in payouts) == 6_000
        and sum(p["raised"] for p in payouts) == 10_500
        and sum(p["amount"] for p in payouts) == 10_500 - fees + 6_000
        and fees == sum(25 + (a * 150 + 5_000) // 10_000 for a in (6_000, 4_500))  # 1.5 % + 0.25 €
    )
