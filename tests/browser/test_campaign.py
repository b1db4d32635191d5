"""The campaign page: follow/unfollow, an offer of help (refused, then accepted), RSVP with the
waiting list, the links emails use (an update, an offer), what a visitor may not see, and the
page without JavaScript and at 375 px."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.async_api import Page, expect


@dataclass
class Person:
    """An account (the conftest's `person` has the same shape)."""

    email: str
    password: str
    name: str


def someone(role: str = "owner") -> Person:
    token = uuid.uuid4().hex[:8]
    return Person(f"{role}-{token}@example.localhost", "a long demo password", f"{role.title()} {token}")


async def as_person(site_url: str, who: Person, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """A call to the public API as `who` (the owner preparing needs, meetups and updates)."""
    async with httpx.AsyncClient(base_url=site_url, timeout=30) as client:
        login = await client.post("/api/v1/auth/login", json={"email": who.email, "password": who.password})
        assert login.status_code == 200, login.text
        answer = await client.request(
            method, path, headers={"Authorization": f"Bearer {login.json()['access_token']}"}, **kwargs
        )
        assert answer.status_code in (200, 201), answer.text
        return answer.json()


async def logged_in(log_in: Any, page: Page, who: Any) -> None:
    """The conftest's `log_in`, then wait until the site shows the account (its network-idle
    wait can return before the boosted form was even sent)."""
    await log_in(page, who)
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()


async def test_follow_and_unfollow(
    page: Page,
    person: Any,
    sign_up: Any,
    log_in: Any,
    make_campaign: Any,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:
    campaign = await make_campaign(someone())
    await sign_up(person)
    await logged_in(log_in, page, person)
    await page.goto(f"/campaigns/{campaign['id']}")
    await assert_accessible(page)
    await page.get_by_role("button", name="Follow", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("You follow this project")
    await expect(page.get_by_text("1 person follows it.")).to_be_visible()
    await page.get_by_role("button", name="Unfollow").click()
    await expect(page.get_by_role("status")).to_contain_text("You no longer follow this project")
    await expect(page.get_by_role("button", name="Follow", exact=True)).to_be_visible()


async def test_an_offer_with_a_bad_quantity_says_why_and_keeps_the_message(
    page: Page,
    person: Any,
    sign_up: Any,
    log_in: Any,
    make_campaign: Any,
    site_url: str,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:
    owner = someone()
    campaign = await make_campaign(owner)
    need = await as_person(
        site_url, owner, "POST", f"/api/v1/campaigns/campaigns/{campaign['id']}/needs",
        json={"title": "Volunteers for the build weekend", "kind": "volunteers", "quantity": 12, "unit": "people"},
    )  # fmt: skip
    await sign_up(person)
    await logged_in(log_in, page, person)
    await page.goto(f"/campaigns/{campaign['id']}")
    item = page.locator(f"#need-{need['id']}")
    await expect(item).to_contain_text("Volunteers for the build weekend")
    await item.get_by_text("I can help").click()
    quantity = item.get_by_label("How many can you offer?")
    await quantity.fill("0")
    await item.get_by_label("Message to the team").fill("My brother and I, on Saturday")
    await item.get_by_role("button", name="Send my offer").click()
    await expect(item.locator(".field-error")).to_have_text("Enter a whole number from 1 to 10,000.")
    await expect(item.get_by_label("How many can you offer?")).to_have_attribute("aria-invalid", "true")
    await expect(item.get_by_label("Message to the team")).to_have_value("My brother and I, on Saturday")
    await assert_accessible(page)
    await item.get_by_label("How many can you offer?").fill("2")
    await item.get_by_role("button", name="Send my offer").click()
    await expect(page.get_by_role("status")).to_contain_text("The project team has your offer")
    await expect(page.locator(f"#need-{need['id']}")).to_contain_text("offers waiting: 2")
    # The email to the owner links to /campaigns/{id}/offers/{offer}: the owner lands on their
    # dashboard's needs, the helper on the campaign page with their offer highlighted.
    offers = await as_person(
        site_url, person, "GET", f"/api/v1/campaigns/campaigns/{campaign['id']}/needs/{need['id']}/offers"
    )
    offer_id = offers["items"][0]["id"]
    await page.goto(f"/campaigns/{campaign['id']}/offers/{offer_id}")
    await expect(page.locator(f"#offer-{offer_id}")).to_contain_text("Your offer of help")
    await expect(page.locator(f"#offer-{offer_id}")).to_contain_text("My brother and I")
    async with httpx.AsyncClient(base_url=site_url) as client:
        login = await client.get("/login")
        csrf = login.cookies["cf_csrf"]
        await client.post("/login", data={"email": owner.email, "password": owner.password, "csrf": csrf})
        answer = await client.get(f"/campaigns/{campaign['id']}/offers/{offer_id}")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/projects/{campaign['id']}/needs#offer-{offer_id}"


async def test_rsvp_and_the_waiting_list(
    new_page: Callable[..., Awaitable[Page]],
    sign_up: Any,
    log_in: Any,
    make_campaign: Any,
    site_url: str,
) -> None:
    owner = someone()
    campaign = await make_campaign(owner)
    starts = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0).isoformat()
    meetup = await as_person(
        site_url, owner, "POST", f"/api/v1/campaigns/campaigns/{campaign['id']}/meetups",
        json={"title": "Site visit", "place": "Square du Bel-Air", "starts_at": starts, "capacity": 1},
    )  # fmt: skip
    first, second = someone("neighbour"), someone("neighbour")
    for who in (first, second):
        await sign_up(who)
    page = await new_page()
    await logged_in(log_in, page, first)
    await page.goto(f"/campaigns/{campaign['id']}")
    box = page.locator(f"#meetup-{meetup['id']}")
    await box.get_by_role("button", name="I will come").click()
    await expect(page.get_by_role("status")).to_contain_text("You are coming")
    await expect(page.locator(f"#meetup-{meetup['id']}")).to_contain_text("1 of 1 seats taken")
    await expect(
        page.locator(f"#meetup-{meetup['id']}").get_by_role("button", name="Give my seat back")
    ).to_be_visible()
    other = await new_page()
    await logged_in(log_in, other, second)
    await other.goto(f"/campaigns/{campaign['id']}")
    box = other.locator(f"#meetup-{meetup['id']}")
    await box.get_by_role("button", name="Join the waiting list").click()
    await expect(other.get_by_role("status")).to_contain_text("you are on the waiting list")
    await expect(other.locator(f"#meetup-{meetup['id']}")).to_contain_text("1 on the waiting list")
    await (
        other.locator(f"#meetup-{meetup['id']}").get_by_role("button", name="Leave the waiting list").click()
    )
    await expect(
        other.locator(f"#meetup-{meetup['id']}").get_by_role("button", name="Join the waiting list")
    ).to_be_visible()


async def test_the_update_link_of_the_emails_focuses_the_update(
    page: Page, make_campaign: Any, site_url: str
) -> None:
    owner = someone()
    campaign = await make_campaign(owner)
    update = await as_person(
        site_url, owner, "POST", f"/api/v1/campaigns/campaigns/{campaign['id']}/updates",
        json={"title": "The shed is ordered", "body": "It comes on **Monday**."},
    )  # fmt: skip
    response = await page.goto(f"/campaigns/{campaign['id']}/updates/{update['id']}")
    assert response is not None and response.status == 200
    target = page.locator(f"#update-{update['id']}")
    await expect(target).to_have_class("update is-target")
    await expect(target).to_be_focused()
    await expect(target.locator("strong")).to_have_text("Monday")


async def test_what_a_visitor_may_not_see_is_a_404_but_the_owner_sees_their_draft(
    page: Page, make_campaign: Any, log_in: Any
) -> None:
    owner = someone()
    draft = await make_campaign(owner, live=False, title="A draft nobody else sees")
    response = await page.goto(f"/campaigns/{draft['id']}")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("This page does not exist")
    response = await page.goto("/campaigns/cmp_does_not_exist")
    assert response is not None and response.status == 404
    await logged_in(log_in, page, owner)
    await page.goto(f"/campaigns/{draft['id']}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("A draft nobody else sees")
    await expect(page.get_by_text("This project is a draft: only you can see it.")).to_be_visible()


async def test_the_campaign_page_at_375_px(
    new_page: Callable[..., Awaitable[Page]],
    make_campaign: Any,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:
    campaign = await make_campaign(someone(), funding_model="all_or_nothing")
    page = await new_page(width=375)
    await page.goto(f"/campaigns/{campaign['id']}")
    await expect(
        page.get_by_text("All or nothing: you are charged only if the goal is reached by")
    ).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await assert_accessible(page)


async def test_follow_works_without_javascript(
    new_page: Callable[..., Awaitable[Page]], person: Any, sign_up: Any, log_in: Any, make_campaign: Any
) -> None:
    campaign = await make_campaign(someone())
    await sign_up(person)
    page = await new_page(javascript=False)
    await logged_in(log_in, page, person)
    await page.goto(f"/campaigns/{campaign['id']}")
    await page.get_by_role("button", name="Follow", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("You follow this project")
    await expect(page.get_by_role("button", name="Unfollow")).to_be_visible()
