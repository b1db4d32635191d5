"""Admins' refunds and disputes in the browser, against the whole stack: an admin refunds part
of a backer's payment (an amount above what is left is refused beside its field), sees a
backer's bank's dispute in the open disputes, then refunds every backer of a campaign that will
not happen (not without confirming it). axe on every page.

The campaigns and payments are made through the API as people would; the dispute is opened on
the local Stripe's test-only route (on Stripe, the backer's bank opens it)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from playwright.async_api import Page, expect

from .conftest import Person
from .test_cities import signed_in
from .test_city_calls import signed_in_fr
from .test_payouts import _until

SECRET_KEY = "sk_test_civicfund_browser"


async def test_an_admin_refunds_a_payment_sees_a_dispute_and_refunds_a_whole_campaign(
    new_page: Callable[..., Awaitable[Page]], admin: Person, make_campaign: Any, log_in: Any,
    make_account: Any, platform: Any, assert_accessible: Any,
) -> None:  # fmt: skip
    token = uuid.uuid4().hex[:6]
    holder = Person(f"holder-{token}@example.localhost", "a long demo password", f"Holder {token}")
    campaign = await make_campaign(holder, title=f"Community oven {token}")
    backer, other = await make_account(), await make_account()
    paid = await platform.pledge(backer, campaign, 2_500, tip=200)
    disputed = await platform.pledge(other, campaign, 1_000)
    assert paid["status"] == "succeeded" and disputed["status"] == "succeeded"

    page = await new_page()
    await signed_in(log_in, page, admin)
    await page.goto("/admin")
    await (
        page.get_by_role("navigation", name="Admin").get_by_role("link", name="Refunds and disputes").click()
    )
    await expect(page.get_by_role("heading", name="Refunds and disputes", level=1)).to_be_visible()
    await assert_accessible(page)

    # More than the payment (27.00 with the tip): refused beside the amount.
    refund = page.locator("form[action='/admin/refunds/pledge']")
    await refund.get_by_label("Pledge reference").fill(paid["id"])
    await refund.get_by_label("Amount to refund").fill("30.00")
    await refund.get_by_label("Reason").fill("Charged twice by mistake")
    await refund.get_by_role("button", name="Refund this payment").click()
    await expect(page.locator("#f-amount-error")).to_have_text(
        "This is more than what is left to refund on this payment."
    )
    await expect(page.get_by_label("Amount to refund")).to_have_attribute("aria-invalid", "true")
    await assert_accessible(page)
    await refund.get_by_label("Amount to refund").fill("5.00")
    await refund.get_by_role("button", name="Refund this payment").click()
    await expect(page.get_by_role("status").first).to_contain_text("Refunded 5.00 EUR.")
    await assert_accessible(page)

    # The other backer's bank disputes their payment: it is listed, its campaign's payout waits.
    async with httpx.AsyncClient(base_url=platform.stripe_base, timeout=15, auth=(SECRET_KEY, "")) as stripe:
        intent = (await stripe.get(f"/v1/payment_intents/{disputed['receipt']['payment_intent_id']}")).json()
        charge = intent["latest_charge"]
        charge_id = charge["id"] if isinstance(charge, dict) else charge
        opened = await stripe.post(f"/_test/charges/{charge_id}/dispute")
        assert opened.status_code == 200, opened.text
    dispute_id = opened.json()["id"]

    async def listed() -> bool:
        await page.reload()
        return await page.locator(".dispute-item").filter(has_text=dispute_id).count() == 1

    await _until(listed, "the dispute listed", 30)
    row = page.locator(".dispute-item").filter(has_text=dispute_id)
    await expect(row).to_contain_text("10.00 EUR")
    await expect(row).to_contain_text("Waiting for the bank's decision")
    await assert_accessible(page)

    # The project will not happen: without the confirmation, nothing; with it, every backer.
    whole = page.locator("form[action='/admin/refunds/campaign']")
    await whole.get_by_label("Campaign reference").fill(campaign["id"])
    await whole.get_by_label("Reason").fill("The city withdrew the site")
    await whole.get_by_role("button", name="Refund every backer").click()
    await expect(page.locator("#f-confirm-error")).to_have_text(
        "Confirm that every backer is to be refunded."
    )
    await assert_accessible(page)
    await whole.get_by_label("I confirm: refund every backer of this campaign").check()
    await whole.get_by_role("button", name="Refund every backer").click()
    # The disputed payment is left to the bank's decision (Stripe refuses to refund it).
    await expect(page.get_by_role("status").first).to_contain_text("1 payments are being refunded")
    await assert_accessible(page)

    async def refunded() -> bool:
        mine = await platform.call("GET", f"/api/v1/payments/pledges/{paid['id']}", backer)
        return bool(mine["status"] == "refunded")

    await _until(refunded, "the first backer refunded", 60)
    ledger = await platform.call("GET", f"/api/v1/payments/campaigns/{campaign['id']}/ledger", platform.admin)
    assert ledger["totals"]["refunded"] == 2_500 and ledger["totals"]["disputed"] == 1_000, ledger["totals"]
    theirs = await platform.call("GET", f"/api/v1/payments/pledges/{disputed['id']}", other)
    assert theirs["status"] == "succeeded"

    # In French.
    fr = await new_page(locale="fr-FR")
    await signed_in_fr(fr, admin)
    await fr.goto("/admin/refunds")
    await fr.get_by_role("link", name="Français").click()  # the admin's account speaks English
    try:
        await expect(fr.get_by_role("heading", name="Remboursements et litiges", level=1)).to_be_visible()
        await expect(fr.get_by_role("heading", name="Litiges en cours")).to_be_visible()
        await assert_accessible(fr)
    finally:
        # The switch changed the admin's account: later tests of the session read it in English.
        await fr.goto("/lang/en?next=/admin/refunds")
