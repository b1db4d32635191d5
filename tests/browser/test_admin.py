"""The admins' pages (issue 12): an admin returns a submitted campaign with a reason, which its
owner reads on their dashboard and in their inbox; a citizen reports an update, the admin hides
it, it is gone from the campaign's page and from the API, and its owner is told why; a city is
registered with its territory and a trial; the pages are for admins only; axe on each."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from playwright.async_api import Page, expect

from .conftest import Person, api_login


def someone(label: str) -> Person:
    token = uuid.uuid4().hex[:8]
    return Person(f"{label}-{token}@example.localhost", "a long demo password", f"{label.title()} {token}")


async def api(site_url: str, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(
        base_url=site_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        return await client.request(method, path, **kwargs)


async def wait_inbox(site_url: str, token: str, kind: str, campaign_id: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inbox = (await api(site_url, token, "GET", "/api/v1/notifications/me")).json()
        for item in inbox["items"]:
            if item["kind"] == kind and (item.get("data") or {}).get("campaign_id") == campaign_id:
                return item
        await asyncio.sleep(0.3)
    raise AssertionError(f"no {kind} item for {campaign_id} in the inbox")


async def test_an_admin_returns_a_campaign_and_its_owner_reads_why(
    new_page: Callable[..., Awaitable[Page]], admin: Person, make_campaign: Any, log_in: Any,
    site_url: str, assert_accessible: Any,
) -> None:  # fmt: skip
    owner = someone("owner")
    title = f"Repair café {uuid.uuid4().hex[:6]}"
    draft = await make_campaign(owner, live=False, title=title)
    owner_token = await api_login(site_url, owner)
    submitted = await api(site_url, owner_token, "POST", f"/api/v1/campaigns/campaigns/{draft['id']}/submit")
    assert submitted.status_code == 200, submitted.text

    page = await new_page()
    await log_in(page, admin)
    await page.get_by_role("link", name="Admin", exact=True).click()
    await expect(page.get_by_role("heading", name="Admin", level=1)).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("link", name="Open the moderation queue").click()
    await expect(page.get_by_role("heading", name="Campaigns to review")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("link", name=title, exact=True).click()
    await expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    await assert_accessible(page)

    # Returning without a reason is refused beside the field, then sent with one.
    await page.get_by_label("Return for changes").check()
    await page.get_by_role("button", name="Send the decision").click()
    await expect(page.locator("#f-reason-error")).to_contain_text("Give the owner a reason")
    await assert_accessible(page)
    await page.get_by_label("Reason for the owner").fill("Please add a photo of the site")
    await page.get_by_role("button", name="Send the decision").click()
    await expect(page.get_by_role("status").first).to_contain_text("sent back to its owner")
    await expect(page.get_by_role("link", name=title, exact=True)).to_have_count(0)

    # The owner reads the reason on the dashboard and in the inbox.
    item = await wait_inbox(site_url, owner_token, "campaign.returned", draft["id"])
    assert "Please add a photo of the site" in item["title"]
    owner_page = await new_page()
    await log_in(owner_page, owner)
    await owner_page.goto(f"/projects/{draft['id']}")
    await expect(owner_page.locator(".moderator-reason")).to_contain_text("Please add a photo of the site")
    await owner_page.goto("/me/inbox")
    link = owner_page.get_by_role("link", name="Please add a photo of the site")
    await expect(link).to_be_visible()
    await link.click()
    await expect(owner_page).to_have_url(f"{site_url.rstrip('/')}/projects/{draft['id']}")


async def test_a_reported_update_is_hidden_everywhere_and_its_owner_is_told(
    new_page: Callable[..., Awaitable[Page]], admin: Person, make_campaign: Any, log_in: Any,
    site_url: str, assert_accessible: Any,
) -> None:  # fmt: skip
    owner, citizen = someone("holder"), someone("neighbour")
    campaign = await make_campaign(owner, title=f"Bike workshop {uuid.uuid4().hex[:6]}")
    cid = campaign["id"]
    owner_token = await api_login(site_url, owner)
    posted = await api(
        site_url, owner_token, "POST", f"/api/v1/campaigns/campaigns/{cid}/updates",
        json={"title": "Cheap watches here", "body": "Buy them at ..."},
    )  # fmt: skip
    assert posted.status_code == 201, posted.text
    update = posted.json()

    page = await new_page()
    async with httpx.AsyncClient(base_url=site_url, timeout=30) as client:
        created = await client.post(
            "/api/v1/auth/register",
            json={"email": citizen.email, "password": citizen.password, "display_name": citizen.name, "locale": "en"},
        )  # fmt: skip
        assert created.status_code == 201, created.text
    await log_in(page, citizen)
    await page.goto(f"/campaigns/{cid}")
    await page.locator(f"#update-{update['id']}").get_by_role("link", name="Report").click()
    await expect(page.get_by_role("heading", name="Report an update")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("button", name="Send the report").click()  # no reason chosen
    await expect(page.locator("#f-reason-error")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("Spam or advertising").check()
    await page.get_by_label("Details").fill("An advert, not news of the project")
    await page.get_by_role("button", name="Send the report").click()
    await expect(page.get_by_role("status").first).to_contain_text("the moderation team will look")

    admin_page = await new_page()
    await log_in(admin_page, admin)
    await admin_page.goto("/admin/reports")
    await assert_accessible(admin_page)
    await admin_page.get_by_role("link", name="Update: Cheap watches here").first.click()
    await expect(admin_page.get_by_role("heading", name="Abuse report: Update")).to_be_visible()
    await expect(admin_page.get_by_text("An advert, not news of the project")).to_be_visible()
    await assert_accessible(admin_page)
    await admin_page.get_by_label("Hide it").check()
    await admin_page.get_by_role("button", name="Send the decision").click()
    await expect(admin_page.locator("#f-note-error")).to_be_visible()
    await admin_page.get_by_label("Reason for the author").fill("Advertising is not allowed")
    await admin_page.get_by_role("button", name="Send the decision").click()
    await expect(admin_page.get_by_role("status").first).to_contain_text("The content is hidden")
    await admin_page.goto("/admin/reports?state=decided")
    row = admin_page.locator("tr", has_text="Cheap watches here").first
    await expect(row).to_contain_text("Hidden")
    await expect(row).to_contain_text("Advertising is not allowed")
    await assert_accessible(admin_page)

    # Gone from the page and from the public API.
    await page.goto(f"/campaigns/{cid}")
    await expect(page.get_by_role("heading", name=campaign["title"], level=1)).to_be_visible()
    await expect(page.get_by_text("Cheap watches here")).to_have_count(0)
    async with httpx.AsyncClient(base_url=site_url, timeout=30) as client:
        listed = (await client.get(f"/api/v1/campaigns/campaigns/{cid}/updates")).json()
    assert update["id"] not in {u["id"] for u in listed["items"]}
    # The owner is told why.
    item = await wait_inbox(site_url, owner_token, "campaign.content_hidden", cid)
    assert item["title"].endswith("Advertising is not allowed")


async def test_an_admin_registers_a_city_and_only_admins_open_the_pages(
    new_page: Callable[..., Awaitable[Page]], admin: Person, log_in: Any, sign_up: Any,
    person: Person, site_url: str, assert_accessible: Any,
) -> None:  # fmt: skip
    slug = f"ville-{uuid.uuid4().hex[:6]}"
    page = await new_page()
    await log_in(page, admin)
    await page.goto("/admin/cities")
    await assert_accessible(page)
    await page.get_by_label("Name").fill("Villeneuve")
    await page.get_by_label("Address on the site (slug)").fill(slug)
    await page.get_by_label("Official code").fill("94078")
    await page.get_by_label("Territory: postcodes").fill("94290, not-a-postcode!")
    await page.get_by_label("Trial in days").fill("30")
    await page.get_by_role("button", name="Register the city").click()
    await expect(page.locator("#f-postcodes-error")).to_contain_text("not-a-postcode!")
    await assert_accessible(page)
    await page.get_by_label("Territory: postcodes").fill("94290 94291")
    await page.get_by_role("button", name="Register the city").click()
    await expect(page.get_by_role("status").first).to_contain_text("Villeneuve is registered")
    await expect(page.locator(f"#city-{slug}")).to_contain_text("94290, 94291")
    await expect(page.locator(f"#city-{slug}")).to_contain_text("Trial until")
    async with httpx.AsyncClient(base_url=site_url, timeout=30) as client:
        city = (await client.get(f"/api/v1/endorsements/municipalities/{slug}")).json()
    assert city["postcodes"] == ["94290", "94291"] and city["trial_until"]

    # Parked events, per service and queue (nothing parked on a fresh stack is still a page).
    await page.get_by_role("link", name="Parked events").click()
    await expect(page.get_by_role("heading", name="Parked events", level=1)).to_be_visible()
    await expect(page.get_by_role("heading", name="campaigns.funding")).to_be_visible()
    await expect(page.get_by_text("This service did not answer.")).to_have_count(0)
    await assert_accessible(page)

    await sign_up(person)
    citizen_page = await new_page()
    await log_in(citizen_page, person)
    await expect(citizen_page.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    for path in ("/admin", "/admin/moderation", "/admin/reports", "/admin/cities", "/admin/parked"):
        response = await citizen_page.goto(path)
        assert response is not None and response.status == 403, path
