"""What a project receives, in the browser: the owner's need counts toward the goal at its
declared value and a helper's accepted help is confirmed delivered (through the API, as the
project dashboard does not edit values yet); the city's manager grants the label with a venue
worth 300 EUR in the browser; the campaign page shows the in-kind help apart from the money and
the progress moves; on the record's page the owner confirms the venue delivered and declares a
permit (a missing name is said beside its field), the page says the payout waits, and the city's
manager grants the permit. axe runs on each page; the record reads in French too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Page, expect

from .conftest import Person, api_login
from .test_cities import appoint, call_api, eventually, make_city, new_person, request_label, signed_in

C = "/api/v1/campaigns/campaigns"


@pytest.mark.timeout(600)  # the stack starts within it on a loaded machine
async def test_the_record_shows_money_and_in_kind_apart_and_a_permit_holds_until_granted(
    page: Page, new_page: Any, admin: Person, make_campaign: Any, log_in: Any, site_url: str,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    city = await make_city(site_url, admin)
    slug = city["slug"]
    manager = new_person("manager")
    await appoint(site_url, admin, slug, manager, "manager")
    owner, helper = new_person("owner"), new_person("helper")
    campaign = await make_campaign(owner, municipality=slug, title="Repair café", goal=300_000)
    cid = campaign["id"]

    # The owner's counting need with a value; a helper's offer, accepted and confirmed delivered.
    owner_token = await api_login(site_url, owner)
    need = await call_api(site_url, "POST", f"{C}/{cid}/needs", owner_token, json={
        "title": "Oak planks", "kind": "goods", "quantity": 10, "unit": "planks", "unit_value": 2_000,
        "counts_toward_goal": True})  # fmt: skip
    await call_api(site_url, "POST", "/api/v1/auth/register", json={
        "email": helper.email, "password": helper.password, "display_name": helper.name, "locale": "en"})  # fmt: skip
    helper_token = await api_login(site_url, helper)
    offer = await call_api(site_url, "POST", f"{C}/{cid}/needs/{need['id']}/offers", helper_token, json={"quantity": 5})  # fmt: skip
    offers = f"{C}/{cid}/needs/{need['id']}/offers/{offer['id']}"
    await call_api(site_url, "POST", f"{offers}/decision", owner_token, json={"decision": "accept"})
    await call_api(site_url, "POST", f"{offers}/delivered", owner_token)

    # The manager grants the label with a venue worth 300 EUR.
    label = await request_label(site_url, owner, cid, "A room for the repair evenings?")
    official = await new_page()
    await signed_in(log_in, official, manager)
    await official.goto(f"/cities/{slug}/labels/{label['id']}")
    await official.get_by_label("Kind of support").select_option("venue")
    await official.get_by_label("Description").fill("Salle Jean-Jaurès on Saturdays")
    await official.get_by_label("Address").fill("2 rue Jean-Jaurès")
    await official.get_by_label("Value in kind").fill("300")
    await official.get_by_role("button", name="Grant the label").click()
    await expect(official.get_by_role("status")).to_contain_text("The label is granted")

    async def venue_in_record() -> bool:
        record = await call_api(site_url, "GET", f"{C}/{cid}/record")
        return bool(record["in_kind"]["city"])

    await eventually(venue_in_record, what="campaigns to hear of the label")

    # The campaign page: in-kind apart from the money, the progress moved (5 x 20 EUR of 3,000).
    await signed_in(log_in, page, owner)
    await page.goto(f"/campaigns/{cid}")
    section = page.locator("#record")
    await expect(section.get_by_role("heading", name="What this project receives")).to_be_visible()
    await expect(section.locator(".record-money")).to_contain_text("Raised: €0")
    await expect(section.locator(f"#record-need-{need['id']}")).to_contain_text(
        "5 of 10 planks delivered, worth €100"
    )
    await expect(section.locator(f"#record-need-{need['id']}")).to_contain_text("counts toward the goal")
    await expect(section.locator(".record-in-kind")).to_contain_text("Salle Jean-Jaurès on Saturdays")
    record = await call_api(site_url, "GET", f"{C}/{cid}/record")
    assert record["money"]["raised"] == 0 and record["progress_bp"] == 333
    await assert_accessible(page)

    # The record's page: the owner confirms the venue delivered and declares a permit.
    await section.get_by_role("link", name="The whole record").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("What this project receives")
    await expect(page.locator(f"#line-{need['id']}")).to_contain_text("€100")
    await assert_accessible(page)
    await page.locator("#city-support").get_by_role("button", name="Confirm delivered").click()
    await expect(page.get_by_role("status")).to_contain_text("Support confirmed")
    await expect(page.locator(".record-support")).to_contain_text("Delivered")
    await page.get_by_label("Granted by").fill("Roads office")
    await page.get_by_role("button", name="Declare the permit").click()
    await expect(page.locator("#f-name-error")).to_be_visible()
    await expect(page.get_by_label("Granted by")).to_have_value("Roads office")
    await assert_accessible(page)
    await page.get_by_label("Permit", exact=True).fill("Temporary occupation of the square")
    await page.get_by_role("button", name="Declare the permit").click()
    await expect(page.get_by_role("status")).to_contain_text("the payout waits until the city grants it")
    await expect(page.locator(".record-permit")).to_contain_text("Required")
    await expect(page.locator("#permits")).to_contain_text(
        "The payout waits until the city grants every permit."
    )
    await expect(page.locator(".record-permit").get_by_role("button")).to_have_count(
        0
    )  # the owner cannot grant

    # The city's manager grants it: nothing holds the payout any more.
    await official.goto(f"/campaigns/{cid}/record")
    await assert_accessible(official)
    await official.locator(".record-permit").get_by_role("button", name="Grant the permit").click()
    await expect(official.get_by_role("status")).to_contain_text("Permit granted")
    await expect(official.locator(".record-permit")).to_contain_text("Granted")
    await expect(official.locator("#permits")).not_to_contain_text("The payout waits")
    await assert_accessible(official)
    record = await call_api(site_url, "GET", f"{C}/{cid}/record")
    assert record["permits_pending"] is False and record["in_kind"]["totals"]["city_delivered"] == 30_000

    french = await new_page(locale="fr-FR")  # axe needs JavaScript
    await french.goto(f"/campaigns/{cid}/record")
    await expect(french.get_by_role("heading", level=1)).to_have_text("Ce que reçoit ce projet")
    await expect(french.locator(".record-permit")).to_contain_text("Accordée")
    await assert_accessible(french)
