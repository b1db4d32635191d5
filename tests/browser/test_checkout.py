"""Backing a campaign in the browser: the amount form, card entry on localstripe's Stripe.js
(five plain inputs), the result for both funding models, a declined card and its retry, bad
input, no JavaScript, a phone-sized screen."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Page, expect

GOOD_CARD = "4242424242424242"
DECLINED_CHARGE = "4000000000000341"  # localstripe: the card saves, every charge is declined
DECLINED_CARD = "4000000000000002"  # localstripe: the card cannot even be saved
SECURE_CARD = "4000002500003155"  # localstripe: 3-D Secure when saved and when charged
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


async def fill_card(page: Page, number: str) -> None:
    await page.get_by_label("Card number").fill(number)
    await page.get_by_label("Expiry month (MM)").fill("12")
    await page.get_by_label("Expiry year (YY)").fill("34")
    await page.get_by_label("Security code (CVC)").fill("123")
    await page.get_by_label("Postcode").fill("93100")


async def signed_in(page: Page, who: Any, log_in: Any) -> None:
    await log_in(page, who)
    # (a login hashes the password: slow on a loaded machine)
    await expect(page.get_by_role("link", name=who.name)).to_be_visible(timeout=SLOW)


async def pledge(page: Page, campaign_id: str, amount: str, tip: str = "") -> None:
    await page.goto(f"/campaigns/{campaign_id}/back")
    await page.get_by_label("Amount (EUR)").fill(amount)
    if tip:
        await page.get_by_label("Tip to the platform (EUR)").fill(tip)
    await page.get_by_role("button", name="Continue to card entry").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your card", timeout=SLOW)


async def test_back_a_keep_it_all_campaign_with_the_test_card(
    page: Page, person: Any, sign_up: Any, log_in: Any, make_campaign: Any,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    campaign = await make_campaign(owner(), title="Bike repair corner", funding_model="keep_it_all")
    await sign_up(person)
    await signed_in(page, person, log_in)
    await page.goto(f"/campaigns/{campaign['id']}/back")
    await expect(page.get_by_text("charged as soon as you confirm")).to_be_visible()
    await assert_accessible(page)
    await pledge(page, campaign["id"], "25", tip="2")
    await expect(page.get_by_text("Tip to Civicfund")).to_be_visible()
    await expect(page.locator("#card-needs-js")).to_be_hidden()
    await fill_card(page, GOOD_CARD)
    await assert_accessible(page)
    await page.get_by_role("button", name="Pay €27.00").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: €27.00 charged", timeout=SLOW)
    await expect(page.locator("#campaign-total")).to_contain_text("Now €25.00 of €3,000.00")
    await assert_accessible(page)
    await page.get_by_role("link", name="Back to the project").first.click()
    await expect(page).to_have_url(re.compile(f"/campaigns/{campaign['id']}$"))
    await expect(page.get_by_text("Given by backers: €25")).to_be_visible()


async def test_back_an_all_or_nothing_campaign_saves_the_card_only(
    page: Page, person: Any, sign_up: Any, log_in: Any, make_campaign: Any,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    campaign = await make_campaign(owner(), title="Street piano", funding_model="all_or_nothing")
    await sign_up(person)
    await signed_in(page, person, log_in)
    await page.goto(f"/campaigns/{campaign['id']}/back")
    notice = page.locator("#aon-notice")
    await expect(notice).to_contain_text("Nothing is charged now.")
    await expect(notice).to_contain_text("only if the project reaches its goal of €3,000.00 by")
    await pledge(page, campaign["id"], "40")
    await fill_card(page, GOOD_CARD)
    await page.get_by_role("button", name="Save my card (nothing charged now)").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Card saved, not charged", timeout=SLOW)
    await expect(page.get_by_text("You will be charged €40.00 only if")).to_be_visible()
    await assert_accessible(page)


async def test_a_declined_card_says_so_and_another_card_works(
    page: Page, person: Any, sign_up: Any, log_in: Any, make_campaign: Any,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    campaign = await make_campaign(owner(), title="Tool library", funding_model="keep_it_all")
    await sign_up(person)
    await signed_in(page, person, log_in)
    await pledge(page, campaign["id"], "15")
    # A card that cannot be saved: Stripe.js says so beside the card, nothing leaves the page.
    await fill_card(page, DECLINED_CARD)
    await page.get_by_role("button", name="Pay €15.00").click()
    await expect(page.locator("#card-errors")).to_contain_text("declined", timeout=SLOW)
    # A card that saves but whose charge is declined: the result page says so, with a retry.
    await page.get_by_label("Card number").fill(DECLINED_CHARGE)
    await page.get_by_role("button", name="Pay €15.00").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your payment did not go through", timeout=SLOW
    )
    await expect(page.get_by_role("alert")).to_contain_text("Your card was declined.")
    await assert_accessible(page)
    pledge_url = page.url
    # The "retry your payment" page (the emailed link) explains, then takes another card.
    await page.goto(f"{pledge_url}/retry")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Retry your payment")
    await expect(page.get_by_text("€15.00").first).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("button", name="Enter a card").click()
    await fill_card(page, GOOD_CARD)
    await page.get_by_role("button", name="Pay €15.00").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: €15.00 charged", timeout=SLOW)


async def test_a_card_with_3d_secure_is_confirmed_with_the_bank(
    page: Page, person: Any, sign_up: Any, log_in: Any, make_campaign: Any,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    campaign = await make_campaign(owner(), title="Mural", funding_model="keep_it_all")
    await sign_up(person)
    await signed_in(page, person, log_in)
    await pledge(page, campaign["id"], "8")
    await fill_card(page, SECURE_CARD)
    await page.get_by_role("button", name="Pay €8.00").click()
    # localstripe's stand-in for the bank's window, when saving the card...
    await page.get_by_role("button", name="Complete authentication").click()
    # ...and when payments' server-side charge answers requires_action.
    await expect(page.get_by_role("heading", level=1)).to_have_text("Confirm with your bank", timeout=SLOW)
    await assert_accessible(page)
    await page.get_by_role("button", name="Confirm with my bank").click()
    await page.get_by_role("button", name="Complete authentication").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: €8.00 charged", timeout=SLOW)


async def test_a_double_submit_pledges_once(
    page: Page, person: Any, sign_up: Any, log_in: Any, make_campaign: Any
) -> None:
    campaign = await make_campaign(owner(), title="Book swap", funding_model="keep_it_all")
    await sign_up(person)
    await signed_in(page, person, log_in)
    await page.goto(f"/campaigns/{campaign['id']}/back")
    form = page.locator(f"form[action='/campaigns/{campaign['id']}/back']")
    fields = {
        "csrf": await form.locator("input[name=csrf]").input_value(),
        "key": await form.locator("input[name=key]").input_value(),
        "amount": "5",
    }
    # The same form sent twice at once (a double click, a flaky network): one pledge.
    url = f"/campaigns/{campaign['id']}/back"
    answers = await asyncio.gather(
        page.request.post(url, form=fields, max_redirects=0),
        page.request.post(url, form=fields, max_redirects=0),
    )
    assert [a.status for a in answers] == [303, 303], [a.status for a in answers]
    locations = {a.headers["location"] for a in answers}
    assert len(locations) == 1 and re.fullmatch(r"/pledges/plg_\w+/pay", locations.pop())


async def test_bad_amounts_are_shown_beside_the_field_and_the_rest_is_kept(
    page: Page, person: Any, sign_up: Any, log_in: Any, make_campaign: Any,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    campaign = await make_campaign(owner(), title="Shared oven", funding_model="keep_it_all")
    await sign_up(person)
    await signed_in(page, person, log_in)
    await page.goto(f"/campaigns/{campaign['id']}/back")
    await page.get_by_label("Amount (EUR)").fill("abc")
    await page.get_by_label("Tip to the platform (EUR)").fill("3")
    await page.get_by_label("Name shown with your pledge").fill("Nadia")
    await page.get_by_role("button", name="Continue to card entry").click()
    amount = page.get_by_label("Amount (EUR)")
    await expect(amount).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#f-amount-error")).to_contain_text("Enter an amount in figures")
    await expect(amount).to_have_value("abc")
    await expect(page.get_by_label("Tip to the platform (EUR)")).to_have_value("3")
    await expect(page.get_by_label("Name shown with your pledge")).to_have_value("Nadia")
    await assert_accessible(page)
    await amount.fill("0")
    await page.get_by_role("button", name="Continue to card entry").click()
    await expect(page.locator("#f-amount-error")).to_contain_text("greater than zero")
    await expect(page.get_by_label("Tip to the platform (EUR)")).to_have_value("3")
    await expect(page.get_by_label("Name shown with your pledge")).to_have_value("Nadia")


async def test_without_javascript_everything_but_the_card_works(
    new_page: Any, person: Any, sign_up: Any, log_in: Any, make_campaign: Any
) -> None:
    campaign = await make_campaign(owner(), title="Seed library", funding_model="keep_it_all")
    await sign_up(person)
    page = await new_page(javascript=False)
    await signed_in(page, person, log_in)
    await page.goto(f"/campaigns/{campaign['id']}/back")
    # (chromium with scripts off still parses <noscript> as if they ran: check it is there)
    assert "card entry, needs JavaScript" in await page.locator("noscript").inner_html()
    await page.get_by_label("Amount (EUR)").fill("x")
    await page.get_by_role("button", name="Continue to card entry").click()
    await expect(page.locator("#f-amount-error")).to_contain_text("Enter an amount in figures")
    await page.get_by_label("Amount (EUR)").fill("12,50")
    await page.get_by_label("Tip to the platform (EUR)").fill("3")
    await page.get_by_role("button", name="Continue to card entry").click()
    await expect(page.get_by_text("Card entry needs JavaScript.")).to_be_visible()
    await expect(page.get_by_text("€15.50").first).to_be_visible()
    await expect(page.get_by_role("button", name="Pay €15.50")).to_be_hidden()


async def test_checkout_on_a_phone(
    new_page: Any, person: Any, sign_up: Any, log_in: Any, make_campaign: Any,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    campaign = await make_campaign(owner(), title="Benches", funding_model="all_or_nothing")
    await sign_up(person)
    page = await new_page(width=375)
    await signed_in(page, person, log_in)
    await page.goto(f"/campaigns/{campaign['id']}/back")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await assert_accessible(page)
    await pledge(page, campaign["id"], "10")
    await expect(page.get_by_label("Card number")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await assert_accessible(page)
