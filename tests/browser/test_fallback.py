"""The backer's choice if an all-or-nothing project fails: offered on the checkout with a consent
box (an error beside it when missing), shown in "My pledges", and honoured when the project is
canceled: the saved card is pledged to the chosen project of the same city."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from playwright.async_api import Page, expect

from .conftest import Person, api_login
from .test_checkout import GOOD_CARD, SLOW, fill_card, signed_in


def holder() -> Person:
    token = uuid.uuid4().hex[:8]
    return Person(f"holder-{token}@example.localhost", "a long demo password", f"Holder {token}")


async def test_the_backer_chooses_another_project_and_the_cancel_moves_the_pledge(
    page: Page, person: Any, sign_up: Any, log_in: Any, make_campaign: Any, site_url: str,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    token = uuid.uuid4().hex[:6]
    owner = holder()
    first = await make_campaign(owner, title=f"Night market {token}", funding_model="all_or_nothing")
    other = await make_campaign(holder(), title=f"Seed library {token}", funding_model="all_or_nothing")
    await sign_up(person)
    await signed_in(page, person, log_in)
    await page.goto(f"/campaigns/{first['id']}/back")
    choice = page.get_by_label("What happens to your pledge")
    await expect(choice).to_have_value("refund")
    await assert_accessible(page)

    # Another project chosen without the consent: said beside the box, the rest kept.
    await page.get_by_label("Amount (EUR)").fill("30")
    await choice.select_option(label=f"My pledge goes to: Seed library {token}")
    await page.get_by_role("button", name="Continue to card entry").click()
    await expect(page.locator("#f-fallback_consent-error")).to_contain_text("Tick this box")
    await expect(page.get_by_label("Amount (EUR)")).to_have_value("30")
    await expect(choice).to_have_value(other["id"])
    await assert_accessible(page)

    await page.get_by_label("I agree that, if this project fails or is cancelled").check()
    await page.get_by_role("button", name="Continue to card entry").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your card", timeout=SLOW)
    await fill_card(page, GOOD_CARD)
    await page.get_by_role("button", name="Save my card (nothing charged now)").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Card saved, not charged", timeout=SLOW)

    await page.goto("/me/pledges")
    item = page.locator(".pledge-item").filter(has_text=f"Night market {token}")
    await expect(item).to_contain_text(f"Goes to Seed library {token}")
    await assert_accessible(page)

    # The holder cancels the first project: payments moves the pledge to the chosen one.
    owner_token = await api_login(site_url, owner)
    async with httpx.AsyncClient(
        base_url=site_url, timeout=30, headers={"Authorization": f"Bearer {owner_token}"}
    ) as client:
        canceled = await client.post(
            f"/api/v1/campaigns/campaigns/{first['id']}/cancel", json={"reason": "the square is closed"}
        )
        assert canceled.status_code == 200, canceled.text

    moved = (
        page.locator(".pledge-item")
        .filter(has_text=f"Seed library {token}")
        .filter(has_text="Moved here from a project that did not go ahead")
    )
    for _ in range(40):
        await page.goto("/me/pledges")
        if await moved.count():
            break
        await page.wait_for_timeout(500)
    await expect(moved).to_contain_text("€30.00")
    await expect(item).to_contain_text("as you chose, your pledge went to another project")
    await assert_accessible(page)


async def test_keep_it_all_projects_offer_no_choice(
    page: Page, person: Any, sign_up: Any, log_in: Any, make_campaign: Any,
) -> None:  # fmt: skip
    campaign = await make_campaign(holder(), title="Bench repair", funding_model="keep_it_all")
    await sign_up(person)
    await signed_in(page, person, log_in)
    await page.goto(f"/campaigns/{campaign['id']}/back")
    await expect(page.get_by_label("Amount (EUR)")).to_be_visible()
    await expect(page.get_by_label("What happens to your pledge")).to_have_count(0)
