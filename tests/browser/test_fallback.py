"""The backer's choice if an all-or-nothing project fails: offered on the checkout with a consent
box (an error beside it when missing), shown in "My pledges", and honoured when the project is
canceled: the saved card is pledged to the chosen project of the same city, or charged as a gift
to the city's pool that its manager marked as taking residents' gifts on the console (the gift
then shows in the pool's figures there)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from playwright.async_api import Page, expect

from .conftest import Person, api_login
from .test_checkout import GOOD_CARD, SLOW, fill_card, signed_in
from .test_cities import E, appoint, call_api, make_city, new_person
from .test_cities import signed_in as official_signed_in


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


async def test_the_backer_gives_to_the_city_pool_and_the_cancel_charges_the_gift(
    page: Page, new_page: Any, person: Any, sign_up: Any, log_in: Any, make_campaign: Any, site_url: str,
    admin: Person, assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    token = uuid.uuid4().hex[:6]
    city = await make_city(site_url, admin)
    slug = city["slug"]
    claire = new_person("claire")
    await appoint(site_url, admin, slug, claire, "manager")
    claire_token = await api_login(site_url, claire)
    year = datetime.now(UTC).year
    pool_name = f"Budget participatif {year} {token}"
    await call_api(site_url, "POST", f"{E}/municipalities/{slug}/pools", claire_token,
                   headers={"Idempotency-Key": f"pool-{slug}"},
                   json={"name": pool_name, "year": year, "budget": 100_000, "currency": "EUR"})  # fmt: skip
    owner = holder()
    title = f"Repair café {token}"
    campaign = await make_campaign(
        owner, title=title, funding_model="all_or_nothing", municipality=slug, postcode=city["postcode"]
    )

    # Claire, the city's manager, lets backers give to the pool, on the console.
    console = await new_page()
    await official_signed_in(log_in, console, claire)
    await console.goto(f"/cities/{slug}/console")
    pools = console.locator("#pools")
    await pools.get_by_role("button", name=f"Take residents' gifts — {pool_name}").click()
    await expect(
        pools.get_by_role("button", name=f"Stop taking residents' gifts — {pool_name}")
    ).to_be_visible()
    await assert_accessible(console)

    # The backer's checkout offers the pool once payments heard of it (an event).
    await sign_up(person)
    await signed_in(page, person, log_in)
    choice = page.get_by_label("What happens to your pledge")
    for _ in range(40):
        await page.goto(f"/campaigns/{campaign['id']}/back")
        if await choice.locator("option[value='city_pool']").count():
            break
        await page.wait_for_timeout(500)
    await expect(page.locator("#pool-notice")).to_contain_text("no tax receipt")
    await page.get_by_label("Amount (EUR)").fill("25")
    await page.get_by_label("Tip to the platform (EUR)").fill("2")
    await choice.select_option(label=f"Give it to the city's pool: {pool_name}")
    await page.get_by_role("button", name="Continue to card entry").click()
    await expect(page.locator("#f-fallback_consent-error")).to_contain_text(
        "give your pledge to the city's pool"
    )
    await expect(choice).to_have_value("city_pool")
    await assert_accessible(page)
    await page.get_by_label("I agree that, if this project fails or is cancelled").check()
    await page.get_by_role("button", name="Continue to card entry").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your card", timeout=SLOW)
    await fill_card(page, GOOD_CARD)
    await page.get_by_role("button", name="Save my card (nothing charged now)").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Card saved, not charged", timeout=SLOW)
    await expect(page.locator("#fallback-choice")).to_contain_text(
        f"€25.00 as a gift to the city's pool “{pool_name}”"
    )

    await page.goto("/me/pledges")
    item = page.locator(".pledge-item").filter(has_text=title)
    await expect(item).to_contain_text(f"Given to the city's pool: {pool_name}")
    await assert_accessible(page)

    # The holder cancels: the saved card is charged the pledge (not the tip) for the pool.
    owner_token = await api_login(site_url, owner)
    await call_api(site_url, "POST", f"/api/v1/campaigns/campaigns/{campaign['id']}/cancel", owner_token,
                   json={"reason": "the workshop closed"})  # fmt: skip
    given = item.filter(has_text="was given to the city's pool")
    for _ in range(60):
        await page.goto("/me/pledges")
        if await given.count():
            break
        await page.wait_for_timeout(500)
    await expect(item).to_contain_text(f"as you chose, €25.00 was given to the city's pool “{pool_name}”")
    await assert_accessible(page)

    # The pool's figures on the console count the gift.
    gifts = pools.get_by_role("row").filter(has_text=pool_name).locator(".pool-gifts")
    for _ in range(40):
        await console.goto(f"/cities/{slug}/console")
        if "€25.00" in (await gifts.inner_text()):
            break
        await console.wait_for_timeout(500)
    await expect(gifts).to_contain_text("€25.00")
    await expect(pools.get_by_role("row").filter(has_text=pool_name).locator(".pool-left")).to_contain_text(
        "€1,025.00"
    )
    held = await call_api(site_url, "GET", "/api/v1/payments/city-pools/gifts", claire_token,
                          params={"municipality": slug})  # fmt: skip
    assert [(g["received"], g["held"]) for g in held["items"]] == [(2_500, 2_500)]
