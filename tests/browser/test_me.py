"""My space: overview, following, the inbox (an update of a followed campaign arrives, mark read),
notification preferences, and the unsubscribe link of a real email (no login)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from .conftest import Person, api_login


@pytest.fixture
def owner() -> Person:
    token = uuid.uuid4().hex[:8]
    return Person(f"owner-{token}@example.localhost", "a long owner password", f"Owner {token}")


async def follow_and_post_updates(
    site_url: str, fan: Person, owner: Person, campaign: dict[str, Any], count: int = 1
) -> None:
    """The fan follows the campaign and its owner posts `count` updates, all through the API;
    returns once the fan's inbox has them unread (polled, with a deadline)."""
    fan_token = await api_login(site_url, fan)
    owner_token = await api_login(site_url, owner)
    async with httpx.AsyncClient(base_url=site_url, timeout=30) as client:
        followed = await client.put(
            f"/api/v1/campaigns/campaigns/{campaign['id']}/follow",
            headers={"Authorization": f"Bearer {fan_token}"},
        )
        assert followed.status_code == 200, followed.text

        async def post(n: int) -> None:
            answer = await client.post(
                f"/api/v1/campaigns/campaigns/{campaign['id']}/updates",
                json={"title": f"Permit granted ({n})", "body": "The city said **yes**."},
                headers={"Authorization": f"Bearer {owner_token}"},
            )
            assert answer.status_code == 201, answer.text

        # notifications learns the follower from campaign.followed: an update it handles before
        # that goes to the followers it knew, so the first one is posted again if it does not
        # arrive in a while; once one has arrived the follower is known and the rest follow.
        deadline = time.monotonic() + 45
        next_post, posted_after = 0.0, 1
        while time.monotonic() < deadline:
            inbox = await client.get(
                "/api/v1/notifications/me", headers={"Authorization": f"Bearer {fan_token}"}
            )
            unread = inbox.json()["unread"] if inbox.status_code == 200 else 0
            if unread >= count:
                return
            if unread and posted_after < count:
                posted_after += 1
                await post(posted_after)
            elif not unread and time.monotonic() >= next_post:
                await post(1)
                next_post = time.monotonic() + 10
            await asyncio.sleep(0.3)
    raise AssertionError("the update never reached the follower's inbox")


async def test_overview_inbox_and_mark_read(
    page: Page, person: Any, owner: Person, sign_up: Any, log_in: Any, make_campaign: Any, site_url: str,
    assert_accessible: Any,
) -> None:  # fmt: skip
    await sign_up(person)
    campaign = await make_campaign(owner, title="Bel-Air tool library")
    await follow_and_post_updates(site_url, person, owner, campaign, count=2)
    await log_in(page, person)

    await page.get_by_role("link", name="My space").click()
    await expect(page.get_by_role("heading", name="My space", level=1)).to_be_visible()
    await expect(page.get_by_text("Unread messages:")).to_be_visible()
    for name in ("My pledges", "My projects", "Following", "Notification preferences"):
        await expect(page.get_by_role("link", name=name).first).to_be_visible()
    await assert_accessible(page)

    await page.get_by_role("link", name="Following").first.click()
    await expect(page.get_by_role("heading", name="Campaigns I follow")).to_be_visible()
    await assert_accessible(page)

    await page.get_by_role("link", name="Inbox").first.click()
    item = page.locator(".inbox-item").filter(has_text="Permit granted").first
    await expect(item).to_be_visible()
    await expect(item.get_by_text("New", exact=True)).to_be_visible()
    await assert_accessible(page)
    link = await item.get_by_role("link").get_attribute("href")
    assert link is not None and link.startswith(f"/campaigns/{campaign['id']}")
    # One read: its "New" goes, the others stay unread. A slow machine may have posted the first
    # update twice (follow_and_post_updates), so count what is there rather than assume two.
    unread = await page.locator(".inbox-unread").count()
    assert unread >= 2
    await item.get_by_role("button", name="Mark as read").click()
    await expect(page.locator(".inbox-unread")).to_have_count(unread - 1)
    await expect(page.locator("#unread-count")).to_have_text(f"Unread messages: {unread - 1}")
    await page.get_by_role("button", name="Mark all as read").click()
    await expect(page.get_by_text("Everything is marked as read.")).to_be_visible()
    await expect(page.locator("#unread-count")).to_have_text("No unread message.")
    await expect(page.locator(".inbox-unread")).to_have_count(0)


async def test_preferences_are_saved(
    page: Page, person: Any, sign_up: Any, log_in: Any, assert_accessible: Any
) -> None:
    await sign_up(person)
    await log_in(page, person)
    await expect(page.get_by_role("link", name=person.name)).to_be_visible()  # the login finished
    await page.goto("/me/notifications")
    await expect(page.get_by_role("heading", name="Notification preferences", level=1)).to_be_visible()
    await assert_accessible(page)
    news = page.get_by_role("group", name="Campaigns I follow or back")
    calls = page.get_by_role("group", name="Calls for projects in my city")
    await expect(news.get_by_label("By email")).to_be_checked()
    await expect(calls.get_by_label("By email")).not_to_be_checked()  # opt in
    await expect(page.get_by_role("group", name="Payment receipts").get_by_text("Always on")).to_be_visible()
    await news.get_by_label("By email").uncheck()
    await calls.get_by_label("By email").check()
    await page.get_by_role("button", name="Save my preferences").click()
    await expect(page.get_by_text("Your notification preferences are saved.")).to_be_visible()
    await page.reload()
    await expect(news.get_by_label("By email")).not_to_be_checked()
    await expect(news.get_by_label("In my inbox")).to_be_checked()
    await expect(calls.get_by_label("By email")).to_be_checked()


async def test_the_unsubscribe_link_of_a_real_email_works_without_login(
    new_page: Any, person: Any, owner: Person, sign_up: Any, make_campaign: Any, mailbox: Any, site_url: str,
    assert_accessible: Any,
) -> None:  # fmt: skip
    """Needs the notifications of this tree (emails link to the site's /unsubscribe): run without
    CIVICFUND_BACKEND, or with a backend that has that change."""
    await sign_up(person)
    campaign = await make_campaign(owner, title="Repair café")
    await follow_and_post_updates(site_url, person, owner, campaign)
    link = mailbox.wait_link(person.email, r"/unsubscribe\?token=", timeout=30)
    page = await new_page()  # another browser: no login
    await page.goto(link)
    await expect(page.get_by_text("Stop the emails about “Campaigns I follow or back”?")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("button", name="Unsubscribe").click()
    await expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    await assert_accessible(page)
    token = await api_login(site_url, person)
    async with httpx.AsyncClient(base_url=site_url) as client:
        prefs = await client.get(
            "/api/v1/notifications/me/preferences", headers={"Authorization": f"Bearer {token}"}
        )
        assert prefs.json()["categories"]["campaign_news"]["email"] is False
        # A mail client's one-click (RFC 8058: a POST without any form token) is answered too,
        # and the API's own page of the emails sent before the link moved still works.
        one_click = await client.post(
            link, data={"List-Unsubscribe": "One-Click"}, headers={"Accept-Language": "en"}
        )
        assert one_click.status_code == 200 and "You are unsubscribed" in one_click.text
        token_part = link.split("?", 1)[1]
        old = await client.get(f"/api/v1/notifications/unsubscribe?{token_part}")
        assert old.status_code == 200 and "<form" in old.text
    # A link altered by hand is refused, and says so.
    response = await page.goto(link[:-4] + "AAAA")
    assert response is not None and response.status == 400
    await expect(page.get_by_role("alert")).to_contain_text("not valid")
    await assert_accessible(page)
