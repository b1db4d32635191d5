"""The project holder's journeys (issue 10): propose a project, submit it, run it from the
owner's dashboard (updates, needs and offers), and what followers and helpers are told."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from playwright.async_api import Page, expect


@dataclass
class Person:
    """Someone with an account (the conftest's `person` has the same shape)."""

    email: str
    password: str
    name: str


async def token_of(site_url: str, who: Person) -> str:
    async with httpx.AsyncClient(base_url=site_url, timeout=30) as client:
        answer = await client.post("/api/v1/auth/login", json={"email": who.email, "password": who.password})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])


async def api(site_url: str, token: str, method: str, path: str, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(
        base_url=site_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        answer = await client.request(method, path, **kwargs)
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None


async def inbox_item(site_url: str, token: str, kind: str, campaign_id: str, timeout: float = 20) -> Any:
    """The first inbox item of `kind` about the campaign, polled until the deadline (or None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inbox = await api(site_url, token, "GET", "/api/v1/notifications/me")
        for item in inbox["items"]:
            if item["kind"] == kind and (item.get("data") or {}).get("campaign_id") == campaign_id:
                return item
        await asyncio.sleep(0.3)
    return None


def another(label: str) -> Person:
    token = uuid.uuid4().hex[:8]
    return Person(f"{label}-{token}@example.localhost", "a long demo password", f"{label.title()} {token}")


async def fill_proposal(page: Page, title: str, goal: str = "1500") -> None:
    await page.get_by_label("Title").fill(title)
    await page.get_by_label("Summary").fill("Three benches and a shade sail on the square.")
    await page.get_by_label("The story").fill("We want **three benches** where the elderly wait for the bus.")
    await page.get_by_label("Category").select_option("public_space")
    await page.get_by_label("City", exact=True).fill("montreuil")
    await page.get_by_label("Neighbourhood").fill("Bel-Air")
    await page.get_by_label("Goal").fill(goal)
    await page.get_by_label("All or nothing").check()
    await page.get_by_label("Duration in days").fill("30")


async def enter(page: Page, who: Person, log_in: Any) -> None:
    """The conftest's `log_in`, then wait for the signed-in header (with htmx the login is an
    XHR: `networkidle` may come before it is done)."""
    await log_in(page, who)
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()


def campaign_id_of(page: Page) -> str:
    found = re.search(r"/projects/([^/?#]+)$", page.url)
    assert found, page.url
    return found.group(1)


async def test_a_proposed_project_goes_live_and_its_update_reaches_a_follower(
    page: Page,
    person: Person,
    sign_up: Any,
    log_in: Any,
    admin: Person,
    site_url: str,
    assert_accessible: Any,
) -> None:
    await sign_up(person)
    await enter(page, person, log_in)
    await page.goto("/propose")
    await assert_accessible(page)
    await fill_proposal(page, "Benches for the Bel-Air square")
    await page.get_by_role("button", name="Save the draft").click()
    await expect(page.get_by_role("status").first).to_contain_text("draft is saved")
    campaign_id = campaign_id_of(page)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Benches for the Bel-Air square")
    await assert_accessible(page)
    await page.get_by_role("button", name="Submit for review").click()
    await expect(page.locator(".status-box")).to_contain_text("Waiting for review")

    admin_token = await token_of(site_url, admin)
    await api(site_url, admin_token, "POST", f"/api/v1/campaigns/campaigns/{campaign_id}/moderation",
              json={"decision": "approve"})  # fmt: skip
    follower = another("follower")
    await sign_up(follower)
    follower_token = await token_of(site_url, follower)
    await api(site_url, follower_token, "PUT", f"/api/v1/campaigns/campaigns/{campaign_id}/follow")

    await page.goto(f"/projects/{campaign_id}")
    await expect(page.locator(".status-box")).to_contain_text("Live")
    await page.get_by_role("link", name="Updates").click()
    await page.get_by_label("Update title").fill("The benches are ordered")
    await page.get_by_label("What is new").fill("Delivery is planned for **next month**.")
    await page.get_by_role("button", name="Post the update").click()
    await expect(page.get_by_role("status").first).to_contain_text("update is posted")
    await expect(page.get_by_role("heading", name="The benches are ordered")).to_be_visible()
    await assert_accessible(page)

    item = await inbox_item(site_url, follower_token, "campaign.update_posted", campaign_id)
    assert item is not None, "the follower's inbox never had the update"

    await page.goto("/projects")
    await expect(page.get_by_role("link", name="Benches for the Bel-Air square", exact=True)).to_be_visible()
    await assert_accessible(page)


async def test_the_owner_accepts_an_offer_of_help_in_the_dashboard(
    page: Page, person: Person, log_in: Any, make_campaign: Any, sign_up: Any, site_url: str,
    assert_accessible: Any,
) -> None:  # fmt: skip
    campaign = await make_campaign(person, title="Repair café in Bel-Air")
    await enter(page, person, log_in)
    await page.goto(f"/projects/{campaign['id']}/needs")
    await page.get_by_label("What you need", exact=True).fill("Volunteers for the first Saturday")
    await page.get_by_label("Kind of help").select_option("volunteers")
    await page.get_by_label("Quantity").fill("5")
    await page.get_by_label("Unit").fill("people")
    await page.get_by_role("button", name="Add the need").click()
    await expect(page.get_by_role("status").first).to_contain_text("need is added")

    helper = another("helper")
    await sign_up(helper)
    helper_token = await token_of(site_url, helper)
    base = f"/api/v1/campaigns/campaigns/{campaign['id']}"
    need = (await api(site_url, helper_token, "GET", f"{base}/needs"))["items"][0]
    offer = await api(site_url, helper_token, "POST", f"{base}/needs/{need['id']}/offers", json={
        "quantity": 2, "message": "My brother and I can come", "contact": {"channel": "email", "value": helper.email},
    })  # fmt: skip

    await page.reload()
    await expect(page.get_by_text("My brother and I can come")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("button", name=re.compile("^Accept")).click()
    await expect(page.get_by_role("status").first).to_contain_text("Offer accepted")
    await expect(page.locator(".offer-accepted")).to_contain_text("Accepted")

    mine = await api(site_url, helper_token, "GET", f"{base}/needs/{need['id']}/offers")
    assert [o["state"] for o in mine["items"] if o["id"] == offer["id"]] == ["accepted"]
    # The helper is told in their inbox (campaign.offer_decided -> notifications).
    told = None
    deadline = time.monotonic() + 20
    while told is None and time.monotonic() < deadline:
        inbox = await api(site_url, helper_token, "GET", "/api/v1/notifications/me")
        told = next((i for i in inbox["items"] if (i.get("data") or {}).get("offer_id") == offer["id"]), None)
        await asyncio.sleep(0.3)
    assert told is not None, "the helper was not told of the decision"
    assert told["kind"] == "campaign.offer_decided" and told["data"]["decision"] == "accepted"
    assert told["link"].endswith(f"/campaigns/{campaign['id']}")


async def test_a_returned_project_shows_the_moderators_reason(
    page: Page, person: Person, log_in: Any, make_campaign: Any, admin: Person, site_url: str,
    assert_accessible: Any,
) -> None:  # fmt: skip
    campaign = await make_campaign(person, live=False, title="Night market on the square")
    owner_token = await token_of(site_url, person)
    await api(site_url, owner_token, "POST", f"/api/v1/campaigns/campaigns/{campaign['id']}/submit")
    admin_token = await token_of(site_url, admin)
    await api(site_url, admin_token, "POST", f"/api/v1/campaigns/campaigns/{campaign['id']}/moderation",
              json={"decision": "return", "reason": "Please say who sells at the market"})  # fmt: skip
    await enter(page, person, log_in)
    await page.goto(f"/projects/{campaign['id']}")
    await expect(page.locator(".status-box")).to_contain_text("Returned for changes")
    await expect(page.locator(".moderator-reason")).to_contain_text("Please say who sells at the market")
    await expect(page.get_by_role("button", name="Submit for review")).to_be_visible()
    await assert_accessible(page)


async def test_bad_input_is_shown_beside_the_fields_and_a_double_submit_makes_one_draft(
    page: Page, person: Person, sign_up: Any, log_in: Any, assert_accessible: Any
) -> None:
    await sign_up(person)
    await enter(page, person, log_in)
    await page.goto("/propose")
    await fill_proposal(page, "ab", goal="abc")
    await page.get_by_role("button", name="Save the draft").click()
    await expect(page.locator("#f-title-error")).to_contain_text("at least 3 characters")
    await expect(page.locator("#f-goal-error")).to_contain_text("amount")
    await expect(page.get_by_label("Title")).to_have_value("ab")
    await expect(page.get_by_label("Goal")).to_have_value("abc")
    await expect(page.get_by_label("Neighbourhood")).to_have_value("Bel-Air")
    await expect(page.get_by_label("All or nothing")).to_be_checked()
    await expect(page.get_by_label("Goal")).to_have_attribute("aria-invalid", "true")
    await assert_accessible(page)

    # The same form sent twice (a double click) makes one draft.
    form = {
        "csrf": await page.locator("input[name=csrf]").first.get_attribute("value") or "",
        "idempotency_key": await page.locator("input[name=idempotency_key]").get_attribute("value") or "",
        "title": "Book box at the bus stop", "category": "culture", "city": "montreuil", "goal": "250",
        "currency": "EUR", "funding_model": "keep_it_all", "duration_days": "20",
    }  # fmt: skip
    first, second = await asyncio.gather(
        page.request.post("/propose", form=form, max_redirects=0),
        page.request.post("/propose", form=form, max_redirects=0),
    )
    assert first.status == second.status == 303
    assert first.headers["location"] == second.headers["location"]
    await page.goto("/projects")
    await expect(page.get_by_role("link", name="Book box at the bus stop", exact=True)).to_have_count(1)


async def test_propose_and_submit_without_javascript_and_on_a_phone(
    new_page: Any, person: Person, sign_up: Any, log_in: Any, assert_accessible: Any
) -> None:
    page = await new_page(javascript=False)
    await sign_up(person)
    await enter(page, person, log_in)
    await page.goto("/propose")
    await fill_proposal(page, "Shared tools shed")
    await page.get_by_role("button", name="Save the draft").click()
    await expect(page.locator(".status-box")).to_contain_text("Draft")
    campaign_id = campaign_id_of(page)
    await page.get_by_role("link", name="Edit the draft").click()
    await page.get_by_label("Title").fill("Shared tools shed for Bel-Air")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Shared tools shed for Bel-Air")
    await page.get_by_role("button", name="Submit for review").click()
    await expect(page.locator(".status-box")).to_contain_text("Waiting for review")
    assert page.url.endswith(f"/projects/{campaign_id}")

    phone = await new_page(width=375)
    await enter(phone, person, log_in)
    for path in ("/propose", "/projects", f"/projects/{campaign_id}"):
        await phone.goto(path)
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 375, path
        await assert_accessible(phone)


async def test_a_meetup_a_label_request_and_canceling_with_a_confirmation(
    page: Page, person: Person, log_in: Any, make_campaign: Any, admin: Person, site_url: str,
    assert_accessible: Any,
) -> None:  # fmt: skip
    admin_token = await token_of(site_url, admin)
    async with httpx.AsyncClient(
        base_url=site_url, headers={"Authorization": f"Bearer {admin_token}"}
    ) as client:
        city = await client.post("/api/v1/endorsements/municipalities", json={
            "name": "Montreuil", "slug": "montreuil", "official_code": "93048", "country": "FR", "postcodes": ["93100"],
        })  # fmt: skip
        assert city.status_code in (201, 409), city.text
    campaign = await make_campaign(person, title="Street party in Bel-Air")
    await enter(page, person, log_in)

    await page.goto(f"/projects/{campaign['id']}/meetups")
    await page.get_by_label("Meetup title").fill("Planning evening")
    await page.get_by_label("Date and time").fill("2027-06-20T18:30")
    await page.get_by_label("Place", exact=True).fill("Maison de quartier, 12 rue des Roses")
    await page.get_by_label("Places").fill("40")
    await page.get_by_role("button", name="Schedule the meetup").click()
    await expect(page.get_by_role("status").first).to_contain_text("meetup is scheduled")
    await expect(page.get_by_role("heading", name="Planning evening")).to_be_visible()
    await assert_accessible(page)

    # The city learns of the campaign from events: until then the page says to try again.
    await page.get_by_role("link", name="City label").click()
    await page.get_by_label("Message to the city").fill("The party needs the street closed for an evening.")
    deadline = time.monotonic() + 15
    while True:
        await page.get_by_role("button", name="Send the request").click()
        sent = page.get_by_role("status").filter(has_text="sent to the city")
        error = page.locator("#form-error")
        await expect(sent.or_(error)).to_be_visible()
        if await sent.count() or time.monotonic() > deadline:
            break
        await expect(error).to_contain_text("does not know this project yet")
        await asyncio.sleep(0.5)
    await expect(sent).to_be_visible()
    await assert_accessible(page)

    await page.get_by_role("link", name="Overview").click()
    await page.get_by_role("link", name="Cancel the campaign…").click()
    await page.get_by_role("button", name="Yes, cancel the campaign").click()
    await expect(page.locator("#f-reason-error")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("Why you stop").fill("The street party moves to next year.")
    await page.get_by_role("button", name="Yes, cancel the campaign").click()
    await expect(page.locator(".status-box")).to_contain_text("Canceled")
    await expect(page.locator(".moderator-reason")).to_contain_text("moves to next year")
