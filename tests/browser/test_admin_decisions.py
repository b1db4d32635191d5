"""A deleted owner's campaigns go to an admin (issue 15): the owner of two live campaigns, one of
them backed, deletes their account on the site; both wait on the admin's page "Campaigns without
an owner" (when the owner left, what each raised); the admin stops one with a reason (refused
beside the field without one) and keeps the other; the campaigns' state follows in the API.
The page is for admins only; axe on each page."""

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


async def _campaign(site_url: str, token: str, campaign_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(
        base_url=site_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        answer = await client.get(f"/api/v1/campaigns/campaigns/{campaign_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _until_campaign(
    site_url: str, token: str, campaign_id: str, check: Callable[[dict[str, Any]], bool], timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        campaign = await _campaign(site_url, token, campaign_id)
        if check(campaign):
            return campaign
        assert time.monotonic() < deadline, campaign
        await asyncio.sleep(0.3)


async def test_an_admin_decides_what_becomes_of_a_deleted_owners_campaigns(
    new_page: Callable[..., Awaitable[Page]], admin: Person, make_campaign: Any, log_in: Any,
    make_account: Any, platform: Any, site_url: str, assert_accessible: Any, sign_up: Any,
    person: Person,
) -> None:  # fmt: skip
    token = uuid.uuid4().hex[:6]
    owner = Person(f"leaver-{token}@example.localhost", "a long demo password", f"Leaver {token}")
    backed = await make_campaign(owner, title=f"Tool library {token}")
    other = await make_campaign(owner, title=f"Street piano {token}")
    backer = await make_account()
    await platform.pledge(backer, backed, 2_500)
    admin_token = await api_login(site_url, admin)
    await _until_campaign(site_url, admin_token, backed["id"], lambda c: c["totals"]["raised"] == 2_500)

    # The owner deletes their account on the site.
    page = await new_page()
    await signed_in(log_in, page, owner)
    await page.goto("/account/delete")
    await page.get_by_label("Your password, to confirm").fill(owner.password)
    await page.get_by_role("button", name="Delete my account for good").click()
    await expect(page.get_by_text("Your account is deleted")).to_be_visible()
    for campaign in (backed, other):  # campaigns hears of it from user.deleted
        await _until_campaign(
            site_url, admin_token, campaign["id"], lambda c: c["pending_decision"] == "owner_deleted"
        )

    # Both wait for the admin, with when the owner left and what each raised.
    admin_page = await new_page()
    await signed_in(log_in, admin_page, admin)
    await admin_page.get_by_role("link", name="Admin", exact=True).click()
    await expect(admin_page.locator("#h-owner-decisions")).to_be_visible()
    await assert_accessible(admin_page)
    await (
        admin_page.get_by_role("navigation", name="Admin")
        .get_by_role("link", name="Campaigns without an owner")
        .click()
    )
    await expect(
        admin_page.get_by_role("heading", name="Campaigns without an owner", level=1)
    ).to_be_visible()
    backed_item = admin_page.locator(f"#campaign-{backed['id']}")
    await expect(backed_item).to_contain_text(backed["title"])
    await expect(backed_item).to_contain_text("the owner left on")
    await expect(backed_item).to_contain_text("25.00")
    await expect(backed_item).to_contain_text("from 1 backer(s)")
    await expect(admin_page.locator(f"#campaign-{other['id']}")).to_contain_text("from 0 backer(s)")
    await assert_accessible(admin_page)

    # Stop the backed one: a reason is needed, and the refusal is beside the field.
    await admin_page.get_by_role("link", name=backed["title"], exact=True).click()
    await expect(admin_page.get_by_role("heading", name=backed["title"], level=1)).to_be_visible()
    await expect(admin_page.locator("#owner-decision-status")).to_have_text("Live")
    await assert_accessible(admin_page)
    await admin_page.get_by_role("button", name="Send the decision").click()
    await expect(admin_page.locator("#f-decision-error")).to_have_text("Choose a decision.")
    await admin_page.get_by_label("Stop it").check()
    await admin_page.get_by_role("button", name="Send the decision").click()
    await expect(admin_page.locator("#f-reason-error")).to_contain_text("Give the backers a reason")
    await expect(admin_page.get_by_label("Reason")).to_have_attribute("aria-invalid", "true")
    await assert_accessible(admin_page)
    await admin_page.get_by_label("Reason").fill("Nobody left to run the library")
    await admin_page.get_by_role("button", name="Send the decision").click()
    await expect(admin_page.get_by_role("status").first).to_contain_text("The campaign is stopped")
    await expect(admin_page.locator(f"#campaign-{backed['id']}")).to_have_count(0)
    stopped = await _campaign(site_url, admin_token, backed["id"])
    assert stopped["status"] == "canceled" and stopped["pending_decision"] is None, stopped
    assert stopped["reason"] == "Nobody left to run the library", stopped

    # Keep the other one running.
    await admin_page.get_by_role("link", name=other["title"], exact=True).click()
    await admin_page.get_by_label("Keep it running").check()
    await admin_page.get_by_role("button", name="Send the decision").click()
    await expect(admin_page.get_by_role("status").first).to_contain_text("keeps running without its owner")
    await expect(admin_page.locator(f"#campaign-{other['id']}")).to_have_count(0)
    kept = await _campaign(site_url, admin_token, other["id"])
    assert kept["status"] == "live" and kept["pending_decision"] is None and kept["owner_deleted"], kept

    # Decided is decided: the page says so and offers no form.
    await admin_page.goto(f"/admin/owner-decisions/{other['id']}")
    await expect(admin_page.get_by_text("This campaign is no longer waiting for a decision.")).to_be_visible()
    await expect(admin_page.get_by_role("button", name="Send the decision")).to_have_count(0)
    await assert_accessible(admin_page)

    # In French (the switch also changes the admin's account: switched back, whatever happens).
    try:
        await admin_page.get_by_role("link", name="Français").click()
        await expect(admin_page.get_by_text("Cette campagne n'attend plus de décision.")).to_be_visible()
        await admin_page.goto("/admin/owner-decisions")
        await expect(
            admin_page.get_by_role("heading", name="Campagnes sans porteur", level=1)
        ).to_be_visible()
        await assert_accessible(admin_page)
    finally:
        await admin_page.goto("/lang/en?next=/admin")
    await expect(admin_page.get_by_role("heading", name="Admin", level=1)).to_be_visible()

    # Admins only.
    await sign_up(person)
    citizen_page = await new_page()
    await signed_in(log_in, citizen_page, person)
    for path in ("/admin/owner-decisions", f"/admin/owner-decisions/{other['id']}"):
        response = await citizen_page.goto(path)
        assert response is not None and response.status == 403, path
