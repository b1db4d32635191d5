"""A tax receipt on the site: an admin recorded the holder as an eligible association (API); a
backer pays by card, asks for the receipt from "My pledges" (a missing name is said beside its
field), gets it numbered, downloads the PDF, and sees the year's total without the tip."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from playwright.async_api import Page, expect

from .conftest import Person, api_login
from .test_cities import call_api
from .test_pledges import SLOW, back_with_card, owner

ASSOCIATION = {
    "eligible": True, "legal_name": "Association Bel-Air Sport", "registration": "W931234567",
    "address": "3 rue des Lilas, 93100 Montreuil", "object": "Promouvoir le sport de plein air à Bel-Air",
}  # fmt: skip


async def test_a_backer_gets_the_tax_receipt_of_a_gift_to_an_eligible_association(
    page: Page, person: Any, sign_up: Any, log_in: Any, make_campaign: Any, admin: Person, site_url: str,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    campaign = await make_campaign(owner(), title="Outdoor gym in Bel-Air", funding_model="keep_it_all")
    token = await api_login(site_url, admin)
    await call_api(site_url, "PUT", f"/api/v1/payments/holders/{campaign['owner_id']}/tax-status", token,
                   json=ASSOCIATION)  # fmt: skip
    await sign_up(person)
    await log_in(page, person)
    await expect(page.get_by_role("link", name=person.name)).to_be_visible(timeout=SLOW)
    await back_with_card(page, campaign["id"], "40", "2", "Pay €42.00")

    await page.goto("/me/pledges")
    item = page.locator(".pledge-item").filter(has_text="Outdoor gym in Bel-Air")
    await item.get_by_role("link", name="Tax receipt").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Tax receipt", timeout=SLOW)
    await expect(page.get_by_text("Your gift of €40.00 can be deducted")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("Full name").fill("")
    await page.get_by_label("Street address").fill("12 rue de Paris")
    await page.get_by_label("Postcode").fill("93100")
    await page.get_by_label("Town").fill("Montreuil")
    await page.get_by_role("button", name="Issue my receipt").click()
    await expect(page.locator("#f-name-error")).to_contain_text("full name")
    await expect(page.get_by_label("Street address")).to_have_value("12 rue de Paris")
    await page.get_by_label("Full name").fill("Sofia Martin")
    await page.get_by_role("button", name="Issue my receipt").click()
    await expect(page.get_by_role("status")).to_contain_text("Your tax receipt is ready", timeout=SLOW)
    year = datetime.now(UTC).year
    await expect(page.locator(".pledge-facts")).to_contain_text(f"{year}-")
    await expect(page.locator(".pledge-facts")).to_contain_text("€40.00")
    await expect(page.locator(".pledge-facts")).to_contain_text("Sofia Martin")
    await assert_accessible(page)
    href = await page.get_by_role("link", name="Download the receipt (PDF)").get_attribute("href")
    pdf = await page.request.get(str(href))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert (await pdf.body()).startswith(b"%PDF")

    await page.goto("/me/tax-receipts")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"My tax receipts {year}")
    await expect(page.get_by_text("Total of the year: €40.00")).to_be_visible()
    await assert_accessible(page)
