"""A backer's pledges: the list with each status in plain words, and the printable receipt."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Page, expect

GOOD_CARD = "4242424242424242"
RECEIPT = re.compile(r"^Receipt\b")
# Logins hash a password and confirms call Stripe: slow on a loaded machine.
SLOW = 20_000


@dataclass
class Owner:
    """A project holder (the shape make_campaign reads: email, password, name)."""

    email: str
    password: str
    name: str


def owner() -> Owner:
    token = uuid.uuid4().hex[:8]
    return Owner(f"owner-{token}@example.localhost", "a long demo password", f"Owner {token}")


async def back_with_card(page: Page, campaign_id: str, amount: str, tip: str, button: str) -> None:
    await page.goto(f"/campaigns/{campaign_id}/back")
    await page.get_by_label("Amount (EUR)").fill(amount)
    await page.get_by_label("Tip to the platform (EUR)").fill(tip)
    await page.get_by_role("button", name="Continue to card entry").click()
    await page.get_by_label("Card number").fill(GOOD_CARD)
    await page.get_by_label("Expiry month (MM)").fill("12")
    await page.get_by_label("Expiry year (YY)").fill("34")
    await page.get_by_label("Security code (CVC)").fill("123")
    await page.get_by_label("Postcode").fill("93100")
    await page.get_by_role("button", name=button).click()
    await expect(page.locator("#result-title")).to_be_visible(timeout=SLOW)


async def test_my_pledges_list_both_models_with_status_and_receipt(
    page: Page, person: Any, sign_up: Any, log_in: Any, make_campaign: Any,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    paid = await make_campaign(owner(), title="Repair café", funding_model="keep_it_all")
    saved = await make_campaign(owner(), title="Rooftop beehives", funding_model="all_or_nothing")
    await sign_up(person)
    await log_in(page, person)
    await expect(page.get_by_role("link", name=person.name)).to_be_visible(timeout=SLOW)
    await back_with_card(page, paid["id"], "20", "1,50", "Pay €21.50")
    await back_with_card(page, saved["id"], "30", "", "Save my card (nothing charged now)")

    await page.goto("/me/pledges")
    await expect(page.get_by_role("heading", level=1)).to_have_text("My pledges")
    paid_item = page.locator(".pledge-item").filter(has_text="Repair café")
    saved_item = page.locator(".pledge-item").filter(has_text="Rooftop beehives")
    await expect(paid_item).to_contain_text("Paid")
    await expect(paid_item).to_contain_text("€21.50")
    await expect(saved_item).to_contain_text("Card saved, not charged")
    await expect(saved_item).to_contain_text("Charged only if the project reaches its goal by")
    # (Not the "Tax receipt" link beside it: a name that starts with "Receipt".)
    await expect(saved_item.get_by_role("link", name=RECEIPT)).to_have_count(0)
    await assert_accessible(page)

    await paid_item.get_by_role("link", name=RECEIPT).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Receipt", timeout=SLOW)
    receipt = page.locator(".receipt")
    await expect(receipt).to_contain_text("Repair café")
    await expect(receipt.get_by_role("row", name="Pledge to the project")).to_contain_text("€20.00")
    await expect(receipt.get_by_role("row", name="Tip to Civicfund")).to_contain_text("€1.50")
    await expect(receipt.get_by_role("row", name="Total paid")).to_contain_text("€21.50")
    await assert_accessible(page)


async def test_my_pledges_in_french_when_there_are_none(
    new_page: Any, person: Any, sign_up: Any, log_in: Any,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    await sign_up(person, locale="fr")
    page = await new_page(locale="fr-FR")
    await page.goto("/login")
    await page.get_by_label("Adresse e-mail").fill(person.email)
    await page.get_by_label("Mot de passe", exact=True).fill(person.password)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_role("link", name=person.name)).to_be_visible(timeout=SLOW)
    await page.goto("/me/pledges")
    await expect(page.get_by_text("encore soutenu aucun projet")).to_be_visible()
    await assert_accessible(page)
