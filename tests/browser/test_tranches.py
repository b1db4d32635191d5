"""Milestone releases (issue 13), in the browser against the whole stack: a holder splits their
keep-it-all campaign's payout 50/50 on the "payout plan" page (a plan that does not add up is
refused beside its field); the campaign ends and its payout comes as two tranches; the holder
sends the second milestone's proof (links); a backer finds the milestone from "My pledges" and
objects (a too-short reason is refused beside the field); an admin holds it on the objected
milestones' page.
axe on every page.

The one step not taken through a public door: the campaign's deadline is moved into the past
in campaigns' datastore (a campaign runs 7 days at least), as test_payouts does."""

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


async def test_a_holder_splits_the_payout_proves_a_milestone_and_a_backer_objects(
    new_page: Callable[..., Awaitable[Page]], admin: Person, make_campaign: Any, log_in: Any,
    make_account: Any, platform: Any, site_url: str, assert_accessible: Any, stack: Any,
) -> None:  # fmt: skip
    token = uuid.uuid4().hex[:6]
    holder = Person(f"holder-{token}@example.localhost", "a long demo password", f"Holder {token}")
    campaign = await make_campaign(holder, title=f"Community garden {token}")
    backer_account = await make_account()
    await platform.pledge(backer_account, campaign, 4_000)

    # The holder's plan: 50 % at the end, 50 % once the garden is planted.
    page = await new_page()
    await signed_in(log_in, page, holder)
    await page.goto(f"/me/payouts/{campaign['id']}/plan")
    await expect(page.get_by_role("heading", name="Payout plan and milestones", level=1)).to_be_visible()
    await assert_accessible(page)
    await page.locator("#f-percent_1").fill("50")
    await page.locator("#f-percent_2").fill("40")
    await page.locator("#f-title_2").fill("The garden is planted")
    await page.get_by_role("button", name="Save the plan").click()
    await expect(page.locator("#f-percent_1-error")).to_have_text("The tranches must add up to 100 %.")
    await expect(page.locator("#f-percent_1")).to_have_attribute("aria-invalid", "true")
    await assert_accessible(page)
    await page.locator("#f-percent_2").fill("50")
    await page.get_by_role("button", name="Save the plan").click()
    await expect(page.get_by_role("status").first).to_contain_text("Payout plan saved.")
    await expect(page.locator("#f-percent_2")).to_have_value("50")

    # The campaign ends: its payout comes as two tranches.
    await stack.end_campaign_now(campaign["id"])
    headers = {"Authorization": f"Bearer {await api_login(site_url, holder)}"}

    async def two_tranches() -> bool:
        async with httpx.AsyncClient(base_url=site_url, timeout=30, headers=headers) as client:
            answer = await client.get(f"/api/v1/payments/campaigns/{campaign['id']}/payouts")
        return answer.status_code == 200 and len(answer.json().get("items", [])) == 2

    await _until(two_tranches, "the payout split in two tranches", 90)
    await page.goto("/me/payouts")
    await page.get_by_role("link", name=f"Payout plan and milestones — {campaign['title']}").click()
    item = page.locator(".milestone-item").filter(has_text="The garden is planted")
    await expect(item.locator(".badge")).to_have_text("Waiting for the holder's proof")
    await assert_accessible(page)
    await item.get_by_label("Links to photos or documents (one per line)").fill("not a link")
    await item.get_by_role("button", name="Send the proof").click()
    item = page.locator(".milestone-item").filter(has_text="The garden is planted")
    await expect(item.locator(".field-error")).to_contain_text("Give at least one link")
    await assert_accessible(page)
    await item.get_by_label("Links to photos or documents (one per line)").fill(
        "https://example.org/garden.jpg"
    )
    await item.get_by_role("button", name="Send the proof").click()
    await expect(page.get_by_role("status").first).to_contain_text("Proof sent.")
    item = page.locator(".milestone-item").filter(has_text="The garden is planted")
    await expect(item.locator(".badge")).to_have_text("Open to backers' objections")

    # The backer, from "My pledges", objects.
    backer = Person(backer_account.email, backer_account.password, "Backer")
    backer_page = await new_page()
    await signed_in(log_in, backer_page, backer)
    await backer_page.goto("/me/pledges")
    await backer_page.get_by_role("link", name=f"The project's milestones — {campaign['title']}").click()
    await expect(backer_page.get_by_role("heading", name="Milestones", level=1)).to_be_visible()
    await assert_accessible(backer_page)
    milestone = backer_page.locator(".milestone-item").filter(has_text="The garden is planted")
    await expect(milestone).to_contain_text("https://example.org/garden.jpg")
    await milestone.get_by_label("Your objection (backers only)").fill("No.")
    await milestone.get_by_role("button", name="Object").click()
    milestone = backer_page.locator(".milestone-item").filter(has_text="The garden is planted")
    await expect(milestone.locator(".field-error")).to_contain_text("10 characters at least")
    await assert_accessible(backer_page)
    await milestone.get_by_label("Your objection (backers only)").fill(
        "Nothing is planted yet, I walked past today."
    )
    await milestone.get_by_role("button", name="Object").click()
    await expect(backer_page.get_by_role("status").first).to_contain_text("Your objection was recorded")
    milestone = backer_page.locator(".milestone-item").filter(has_text="The garden is planted")
    await expect(milestone.locator(".badge")).to_have_text("Objected: the Civicfund team decides")
    await assert_accessible(backer_page)

    # An admin finds it among the objected milestones, with the backer's reason, and holds it;
    # its tranche cannot be approved.
    admin_page = await new_page()
    await signed_in(log_in, admin_page, admin)
    await admin_page.goto("/admin/payouts")
    await admin_page.get_by_role("link", name="Objected milestones").click()
    await expect(admin_page.get_by_role("heading", name="Objected milestones", level=1)).to_be_visible()
    await assert_accessible(admin_page)
    objected = (
        admin_page.locator(".milestone-item")
        .filter(has_text="The garden is planted")
        .filter(has_text="Nothing is planted yet, I walked past today.")
    )
    await expect(objected).to_have_count(1)
    await objected.get_by_role("button", name="Hold").click()
    await expect(admin_page.get_by_role("status").first).to_contain_text("Milestone held.")
    await assert_accessible(admin_page)
    await backer_page.reload()
    milestone = backer_page.locator(".milestone-item").filter(has_text="The garden is planted")
    await expect(milestone.locator(".badge")).to_have_text("Held by the Civicfund team")
    admin_headers = {"Authorization": f"Bearer {await api_login(site_url, admin)}"}
    async with httpx.AsyncClient(base_url=site_url, timeout=30, headers=admin_headers) as client:
        held = (await client.get("/api/v1/payments/milestones", params={"status": "held"})).json()["items"]
        mine = [m for m in held if m["payout"]["campaign_id"] == campaign["id"]]
        assert len(mine) == 1 and mine[0]["objections"] == 1, held
        refused = await client.post(
            f"/api/v1/payments/payouts/{mine[0]['payout']['id']}/approve",
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "milestone_pending"
