"""Getting paid (issue 13, payouts with Stripe Connect), in the browser against the whole stack:
a holder sets up their payout account through the local Stripe's hosted onboarding page and
comes back to the site; their keep-it-all campaign, backed once, ends; the payout waits on the
admins' page, an admin approves it, Stripe's transfer webhook makes it paid, and the holder's
page shows it with Stripe's fees and the tip apart. axe on every page (the local Stripe's too).

The one step not taken through a public door: the campaign's deadline is moved into the past
in campaigns' datastore (a campaign runs 7 days at least), as the devstack runner test does."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from playwright.async_api import Page, expect

from .conftest import Person, api_login
from .test_cities import signed_in


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.5)


async def test_a_holder_gets_paid_through_stripe_connect(
    new_page: Callable[..., Awaitable[Page]], admin: Person, make_campaign: Any, log_in: Any,
    make_account: Any, platform: Any, site_url: str, assert_accessible: Any, stack: Any,
) -> None:  # fmt: skip
    token = uuid.uuid4().hex[:6]
    holder = Person(f"holder-{token}@example.localhost", "a long demo password", f"Holder {token}")
    campaign = await make_campaign(holder, title=f"Repair café {token}")
    backer = await make_account()
    await platform.pledge(backer, campaign, 2_500, tip=200)

    # The holder sets up their payout account: the site, the local Stripe's page, back.
    page = await new_page()
    await signed_in(log_in, page, holder)
    await page.goto("/me")
    await page.get_by_role("link", name="Get paid").click()
    await expect(page.get_by_role("heading", name="Get paid", level=1)).to_be_visible()
    await expect(page.locator("#payout-account-status")).to_have_text("Not set up yet")
    await assert_accessible(page)
    await page.get_by_role("button", name="Set up payouts with Stripe").click()
    await expect(page.get_by_role("link", name="Continue to Stripe")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("link", name="Continue to Stripe").click()
    await expect(page.get_by_role("heading", name="Set up payouts for", level=1)).to_be_visible()
    assert "/connect/onboarding/" in page.url
    await assert_accessible(page)
    await page.get_by_role("button", name="Complete onboarding").click()
    await page.wait_for_url("**/payouts/onboarding/return")
    await expect(page.locator("#payout-account-status")).to_contain_text("your payout account is ready")
    await assert_accessible(page)
    await page.get_by_role("link", name="Back to Get paid").click()
    await expect(page.locator("#payout-account-status")).to_have_text("Ready to receive payouts")
    await expect(page.get_by_role("button", name="Set up payouts with Stripe")).to_have_count(0)

    # The campaign ends; keep-it-all releases what it raised, less Stripe's fees.
    await stack.end_campaign_now(campaign["id"])
    holder_token = await api_login(site_url, holder)
    headers = {"Authorization": f"Bearer {holder_token}"}

    async def payout_status(status: str) -> bool:
        async with httpx.AsyncClient(base_url=site_url, timeout=30, headers=headers) as client:
            answer = await client.get(f"/api/v1/payments/campaigns/{campaign['id']}/payouts")
        items = answer.json().get("items", []) if answer.status_code == 200 else []
        return bool(items) and items[-1]["status"] == status

    await _until(lambda: payout_status("pending"), "a pending payout", 90)
    await page.reload()
    item = page.locator(".payout-item").filter(has_text=campaign["title"])
    await expect(item.locator(".badge")).to_have_text("Waiting for approval")
    fee = 25 + (2_700 * 150 + 5_000) // 10_000  # the local Stripe's fee on the 27.00 charge
    await expect(item).to_contain_text("25.00")  # raised for the project
    await expect(item).to_contain_text(f"{fee / 100:.2f}")  # Stripe fees
    await expect(item.locator(".payout-amount")).to_contain_text(f"{(2_500 - fee) / 100:.2f}")
    await expect(item).to_contain_text("2.00")  # the tip, not paid out
    await assert_accessible(page)

    # An admin approves it on the admins' page.
    admin_page = await new_page()
    await signed_in(log_in, admin_page, admin)
    await admin_page.goto("/admin")
    await admin_page.get_by_role("navigation", name="Admin").get_by_role("link", name="Payouts").click()
    await expect(admin_page.get_by_role("heading", name="Payouts", level=1)).to_be_visible()
    await assert_accessible(admin_page)
    waiting = admin_page.locator(".payout-item").filter(has_text=campaign["title"])
    await expect(waiting.locator(".badge")).to_have_text("Waiting for approval")
    await waiting.get_by_role("button", name="Approve").click()
    await expect(admin_page.get_by_role("status").first).to_contain_text("Payout approved.")
    await expect(admin_page.locator(".payout-item").filter(has_text=campaign["title"])).to_have_count(0)
    await assert_accessible(admin_page)

    # Stripe's transfer.created makes it paid; the holder sees it.
    await _until(lambda: payout_status("paid"), "the payout paid", 60)
    await page.reload()
    await expect(item.locator(".badge")).to_have_text("Paid to your account")
    await assert_accessible(page)
    async with httpx.AsyncClient(base_url=site_url, timeout=30, headers=headers) as client:
        ledger = (await client.get(f"/api/v1/payments/campaigns/{campaign['id']}/ledger")).json()
    assert ledger["totals"]["paid_out"] == 2_500 - fee and ledger["totals"]["payout_owed"] == 0, ledger
