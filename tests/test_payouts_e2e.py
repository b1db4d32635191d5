"""Payouts across the platform, through public doors: people registered and logged in at the
gateway, a campaign drafted, submitted and approved through campaigns' API, a backer paying on
the local Stripe, the holder onboarding through the API and the local Stripe's page, the admin
approving through payments' API; Stripe's side read with the official SDK. A reversed transfer
fails the payout, the admin retries, and a second transfer pays it.

The one step not taken through a public door: the campaign's deadline is moved into the past in
campaigns' datastore (a campaign runs 7 days at least), as the devstack runner test does."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import stripe

P = "/api/v1/payments"


async def _payout(
    platform: Any, who: Any, campaign_id: str, status: str, timeout: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        items = (await platform.call("GET", f"{P}/campaigns/{campaign_id}/payouts", who))["items"]
        if items and items[-1]["status"] == status:
            return dict(items[-1])
        assert time.monotonic() < deadline, f"no {status} payout: {items}"
        await asyncio.sleep(0.5)


def _idem() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def test_a_campaigns_money_reaches_its_holder_and_a_reversal_is_retried(
    platform: Any, make_account: Any, stack: Any
) -> None:
    holder, backer, stranger = await make_account(), await make_account(), await make_account()
    sdk = stripe.StripeClient(
        "sk_test_civicfund_local",
        base_addresses={"api": platform.stripe_base},
        http_client=stripe.HTTPXClient(),
    )
    campaign = await platform.live_campaign(holder, title="Repair café", funding_model="keep_it_all")
    await platform.pledge(backer, campaign, 4_000, tip=500)

    # Onboarding: the API gives Stripe's link; the holder's browser completes it.
    assert (await platform.call("GET", f"{P}/payouts/account", holder))["status"] == "none"
    started = await platform.call("POST", f"{P}/payouts/account/onboarding", holder, headers=_idem(), json={})
    async with httpx.AsyncClient(timeout=30) as browser:
        page = await browser.get(started["url"])
        assert page.status_code == 200 and "Complete onboarding" in page.text
        done = await browser.post(started["url"], data={"decision": "complete"})
    assert done.status_code == 303 and done.headers["location"] == f"{platform.url}/payouts/onboarding/return"
    account = await platform.call("POST", f"{P}/payouts/account/refresh", holder)
    assert account["status"] == "ready", account

    # The campaign ends: a payout of what it raised less Stripe's fee, the tip apart.
    await stack.end_campaign_now(campaign["id"])
    payout = await _payout(platform, holder, campaign["id"], "pending")
    fee = 25 + (4_500 * 150 + 5_000) // 10_000
    assert (payout["raised"], payout["stripe_fees"], payout["tips"]) == (4_000, fee, 500), payout
    assert payout["amount"] == 4_000 - fee
    await platform.call("GET", f"{P}/campaigns/{campaign['id']}/payouts", stranger, expect=404)
    await platform.call("POST", f"{P}/payouts/{payout['id']}/approve", holder, expect=403, headers=_idem())
    queue = await platform.call(
        "GET", f"{P}/payouts", platform.admin, params={"status": "pending", "limit": 200}
    )
    assert payout["id"] in [p["id"] for p in queue["items"]]

    # The admin approves; Stripe's transfer.created makes it paid.
    await platform.call("POST", f"{P}/payouts/{payout['id']}/approve", platform.admin, headers=_idem())
    paid = await _payout(platform, holder, campaign["id"], "paid")
    transfer = await sdk.v1.transfers.retrieve_async(paid["transfer_id"])
    assert transfer.amount == 4_000 - fee and transfer.destination == account["stripe_account_id"]
    assert transfer.transfer_group == f"campaign_{campaign['id']}"

    # Reversed at Stripe: failed; the admin sees it with the reason and retries.
    await sdk.v1.transfers.reversals.create_async(paid["transfer_id"])
    failed = await _payout(platform, holder, campaign["id"], "failed")
    assert failed["failure_reason"] == "transfer_reversed"
    failures = await platform.call(
        "GET", f"{P}/payouts", platform.admin, params={"status": "failed", "limit": 200}
    )
    assert payout["id"] in [p["id"] for p in failures["items"]]
    await platform.call("POST", f"{P}/payouts/{payout['id']}/retry", platform.admin, headers=_idem())
    again = await _payout(platform, holder, campaign["id"], "paid")
    assert again["attempt"] == 2 and again["transfer_id"] != paid["transfer_id"]
    ledger = await platform.call("GET", f"{P}/campaigns/{campaign['id']}/ledger", holder)
    assert ledger["totals"]["paid_out"] == 4_000 - fee and ledger["totals"]["payout_owed"] == 0, ledger
    mine = await platform.call("GET", f"{P}/me/payouts", holder)
    assert [p["id"] for p in mine["items"]] == [payout["id"]]
