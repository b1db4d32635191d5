"""A city pays its match by bank transfer, in the browser against the whole stack: the city's
on_goal_reached match on a labelled campaign becomes due when the campaign reaches its goal and
ends; Claire, the city's manager, sees it on the console's dashboard, declares the transfer
(a reference too short is refused beside its field); an admin confirms it received on the
admins' page; the campaign page shows the city's match as promised, then due, then received.
axe on every page.

The city, Claire's role, the campaign, its label with the match and the backers' payments are
made through the API as people would. The one step not taken through a public door: the
campaign's deadline is moved into the past in campaigns' datastore (a campaign runs 7 days at
least), as test_payouts.py does."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import Page, expect

from .conftest import Person, api_login
from .test_cities import E, appoint, call_api, eventually, make_city, new_person, request_label, signed_in


async def _state(site_url: str, campaign_id: str) -> list[tuple[str, int, int, int]]:
    page = await call_api(site_url, "GET", f"/api/v1/payments/campaigns/{campaign_id}/city-matches")
    return [(m["status"], m["promised"], m["due"], m["received"]) for m in page["items"]]


async def test_a_city_declares_its_transfer_and_an_admin_confirms_it(
    page: Page, new_page: Any, admin: Person, log_in: Any, site_url: str, make_campaign: Any,
    make_account: Any, platform: Any, stack: Any, assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    city = await make_city(site_url, admin)
    slug = city["slug"]
    claire = new_person("claire")
    await appoint(site_url, admin, slug, claire, "manager")
    claire_token = await api_login(site_url, claire)
    pool = await call_api(site_url, "POST", f"{E}/municipalities/{slug}/pools", claire_token,
                          headers={"Idempotency-Key": f"pool-{slug}"},
                          json={"name": "Budget participatif", "year": 2027, "budget": 100_000, "currency": "EUR"})  # fmt: skip
    token = uuid.uuid4().hex[:6]
    owner = new_person("owner")
    title = f"Shared tools library {token}"
    campaign = await make_campaign(
        owner, title=title, municipality=slug, postcode=city["postcode"], goal=10_000
    )
    label = await request_label(site_url, owner, campaign["id"])
    match = {"pool_id": pool["id"], "condition": "on_goal_reached", "ratio": 1, "cap_per_project": 6_000}
    await call_api(site_url, "POST", f"{E}/labels/{label['id']}/grant", claire_token,
                   headers={"Idempotency-Key": f"grant-{slug}"}, json={"match": match})  # fmt: skip
    await eventually(
        lambda: _is(site_url, campaign["id"], [("promised", 6_000, 0, 0)]), what="the match promised"
    )

    # The campaign page: the city's match is promised.
    visitor = await new_page()
    await visitor.goto(f"/campaigns/{campaign['id']}")
    money = visitor.locator(".match-money")
    await expect(money).to_contain_text("Promised")
    await expect(money).to_contain_text("promises up to €60")
    await assert_accessible(visitor)

    for amount in (6_000, 4_500):  # two backers pay on localstripe: the 100 € goal is reached
        paid = await platform.pledge(await make_account(), campaign, amount)
        assert paid["status"] == "succeeded", paid
    await eventually(lambda: _raised(site_url, campaign["id"], 10_500), what="campaigns counted the payments")
    await stack.end_campaign_now(campaign["id"])
    await eventually(
        lambda: _is(site_url, campaign["id"], [("due", 0, 6_000, 0)]), timeout=120, what="the match due"
    )
    await visitor.reload()
    await expect(money).to_contain_text("owes its match: €60")
    await assert_accessible(visitor)

    # Claire sees what the city owes and declares the transfer.
    await signed_in(log_in, page, claire)
    await page.goto(f"/cities/{slug}/console")
    owed = page.locator("#dues")
    row = owed.get_by_role("row").filter(has_text=title)
    await expect(row).to_contain_text("€60.00")
    await expect(row).to_contain_text("Bank transfer")
    await expect(row.locator(".due-state")).to_have_text("Due")
    await assert_accessible(page)
    await row.get_by_role("link", name="Declare the transfer sent").click()
    await expect(page.get_by_role("heading", name="Declare a bank transfer", level=1)).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("Reference of the transfer").fill("x")
    await page.get_by_role("button", name="Declare the transfer sent").click()
    await expect(page.locator("#f-reference-error")).to_contain_text("reference on your bank statement")
    await expect(page.get_by_label("Reference of the transfer")).to_have_value("x")
    await assert_accessible(page)
    await page.get_by_label("Reference of the transfer").fill("VIR-2027-0042")
    await page.get_by_role("button", name="Declare the transfer sent").click()
    await expect(page.get_by_role("status").first).to_contain_text("Transfer declared")
    row = page.locator("#dues").get_by_role("row").filter(has_text=title)
    await expect(row.locator(".due-state")).to_contain_text("Transfer declared, waiting for confirmation")
    await expect(row.get_by_role("link", name="Declare the transfer sent")).to_have_count(0)
    await assert_accessible(page)

    # An admin confirms it received.
    admin_page = await new_page()
    await signed_in(log_in, admin_page, admin)
    await admin_page.goto("/admin")
    await (
        admin_page.get_by_role("navigation", name="Admin")
        .get_by_role("link", name="Cities' transfers")
        .click()
    )
    await expect(admin_page.get_by_role("heading", name="Cities' transfers", level=1)).to_be_visible()
    item = admin_page.locator("li.card").filter(has_text=title)
    await expect(item).to_contain_text("VIR-2027-0042")
    await assert_accessible(admin_page)
    await item.get_by_role("button", name="Confirm received").click()
    await expect(admin_page.get_by_role("status").first).to_contain_text("Transfer confirmed as received.")
    await expect(admin_page.locator("li.card").filter(has_text=title)).to_have_count(0)
    await assert_accessible(admin_page)

    assert await _state(site_url, campaign["id"]) == [("received", 0, 0, 6_000)]
    await visitor.reload()
    await expect(money).to_contain_text("paid its match: €60")
    await assert_accessible(visitor)
    await page.reload()
    await expect(
        page.locator("#dues").get_by_role("row").filter(has_text=title).locator(".due-state")
    ).to_contain_text("Received (VIR-2027-0042)")


async def _is(site_url: str, campaign_id: str, expected: list[tuple[str, int, int, int]]) -> bool:
    return await _state(site_url, campaign_id) == expected


async def _raised(site_url: str, campaign_id: str, amount: int) -> bool:
    campaign = await call_api(site_url, "GET", f"/api/v1/campaigns/campaigns/{campaign_id}")
    return int((campaign.get("totals") or {}).get("raised") or 0) == amount
