"""The city side of the site: the city's public page and a call for projects (citizens), a label
request opened from its link by the city's official (declined with a reason; a citizen gets the
403 page), and an official's invitation accepted through its emailed link.

Cities, officials, calls and label requests are made through the API as an admin, a manager and
a project owner would; people sign in through the site."""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Page, expect

from .conftest import MailBox, Person, api_login

E = "/api/v1/endorsements"


async def call_api(site_url: str, method: str, path: str, token: str | None = None, *,
                   expect_status: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:  # fmt: skip
    headers = dict(kwargs.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(base_url=site_url, timeout=30) as client:
        answer = await client.request(method, path, headers=headers, **kwargs)
    assert answer.status_code in expect_status, f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json() if answer.content else None


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30.0, what: str = "") -> Any:
    """Poll `check` until it returns something truthy (events travel asynchronously)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert loop.time() < deadline, f"timed out waiting for {what or check}"
        await asyncio.sleep(0.3)


def new_person(prefix: str) -> Person:
    token = uuid.uuid4().hex[:8]
    return Person(f"{prefix}-{token}@example.localhost", "a long demo password", f"{prefix.title()} {token}")


async def register(
    site_url: str, who: Person, postcode: str | None = None, mailbox: MailBox | None = None
) -> str:
    """An account through the API; with `mailbox`, its emailed verification link is followed too
    (proposing and voting need a verified address)."""
    body = {"email": who.email, "password": who.password, "display_name": who.name, "locale": "en"}
    if postcode:
        body["postcode"] = postcode
    created = await call_api(site_url, "POST", "/api/v1/auth/register", json=body, expect_status=(201,))
    if mailbox is not None:
        await verify_email(site_url, mailbox, who)
    return str(created["id"])


async def verify_email(site_url: str, mailbox: MailBox, who: Person) -> None:
    link = await asyncio.to_thread(mailbox.wait_link, who.email, r"verify-email")
    token = link.split("token=", 1)[1].split("&", 1)[0]
    await call_api(site_url, "POST", "/api/v1/auth/verify-email", json={"token": token})


async def make_city(site_url: str, admin: Person) -> dict[str, Any]:
    """A fresh municipality (own slug and postcode) with a trial, as an admin registers one."""
    slug = f"city-{uuid.uuid4().hex[:8]}"
    postcode = f"9{random.randint(1000, 9999)}"
    token = await api_login(site_url, admin)
    city = await call_api(site_url, "POST", f"{E}/municipalities", token, expect_status=(201,), json={
        "name": f"Ville {slug[5:]}", "slug": slug, "official_code": str(random.randint(10000, 99999)),
        "country": "FR", "postcodes": [postcode], "page_text": "Une ville qui **soutient** ses habitants.",
    })  # fmt: skip
    await call_api(site_url, "POST", f"{E}/municipalities/{slug}/trial", token, json={"days": 30})
    return {**city, "postcode": postcode}


async def appoint(site_url: str, admin: Person, slug: str, who: Person, role: str) -> str:
    """Make `who` (registered if needed) an official of `slug` and wait until their login carries
    the role (the gateway learns it from `official.appointed`)."""
    async with httpx.AsyncClient(base_url=site_url, timeout=30) as client:
        await client.post("/api/v1/auth/register", json={
            "email": who.email, "password": who.password, "display_name": who.name, "locale": "en"})  # fmt: skip
    token = await api_login(site_url, who)
    me = await call_api(site_url, "GET", "/api/v1/auth/me", token)
    admin_token = await api_login(site_url, admin)
    await call_api(site_url, "PUT", f"{E}/municipalities/{slug}/officials/{me['id']}", admin_token,
                   json={"role": role, "email": who.email})  # fmt: skip
    await wait_role(site_url, who, slug, role)
    return str(me["id"])


async def wait_role(site_url: str, who: Person, slug: str, role: str) -> None:
    """Log in once, then refresh the tokens until they carry the role (logins are rate-limited)."""
    async with httpx.AsyncClient(base_url=site_url, timeout=30) as client:
        login = await client.post("/api/v1/auth/login", json={"email": who.email, "password": who.password})
        assert login.status_code == 200, login.text
        tokens = login.json()

        async def has_role() -> bool:
            nonlocal tokens
            fresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert fresh.status_code == 200, fresh.text
            tokens = fresh.json()
            me = await client.get(
                "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
            )
            return (me.json().get("municipalities") or {}).get(slug) == role

        await eventually(has_role, what=f"{who.email} to be {role} of {slug}")


async def request_label(site_url: str, owner: Person, campaign_id: str, message: str = "") -> dict[str, Any]:
    """The owner asks the city for its label, once endorsements has heard of the campaign."""
    token = await api_login(site_url, owner)

    async def ask() -> dict[str, Any] | None:
        async with httpx.AsyncClient(base_url=site_url, timeout=30) as client:
            answer = await client.post(f"{E}/labels", headers={"Authorization": f"Bearer {token}"},
                                       json={"campaign_id": campaign_id, "message": message})  # fmt: skip
        if answer.status_code == 201:
            return answer.json()
        assert answer.json()["error"]["code"] == "campaign_not_found", answer.text
        return None

    return await eventually(ask, what="endorsements to know the campaign")


async def open_call(site_url: str, manager: Person, slug: str, **fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    body = {
        "title": "Oasis schoolyards", "theme": "green spaces",
        "description": "Turn schoolyards into **shaded gardens**.",
        "eligibility": {"categories": [], "territory_only": True},
        "budget": 2_000_000, "max_award": 500_000, "currency": "EUR",
        "submission_opens_at": (now - timedelta(days=1)).isoformat(),
        "submission_closes_at": (now + timedelta(days=30)).isoformat(),
        "vote_opens_at": (now + timedelta(days=31)).isoformat(),
        "vote_closes_at": (now + timedelta(days=45)).isoformat(),
        "winners": 3, "selection_mode": "jury_then_vote", "votes_per_resident": 3, **fields,
    }  # fmt: skip
    token = await api_login(site_url, manager)
    return await call_api(site_url, "POST", f"{E}/municipalities/{slug}/calls", token, json=body,
                          expect_status=(201,))  # fmt: skip


async def signed_in(log_in: Any, page: Page, who: Person) -> None:
    """`log_in` returns once the network is idle, which can be before the boosted form's answer
    arrived: wait for the signed-in header so the next navigation does not abort the login."""
    await log_in(page, who)
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def test_city_page_and_a_call_for_projects(
    page: Page, new_page: Any, admin: Person, make_campaign: Any, log_in: Any, site_url: str, mailbox: MailBox,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    city = await make_city(site_url, admin)
    slug = city["slug"]
    manager = new_person("manager")
    await appoint(site_url, admin, slug, manager, "manager")
    call = await open_call(site_url, manager, slug)
    owner = new_person("owner")
    campaign = await make_campaign(owner, municipality=slug, title="Shaded schoolyard")
    label = await request_label(site_url, owner, campaign["id"], "We would love a plot.")
    # The manager grants the label with a plot of land; land needs an address, said beside it.
    official = await new_page()
    await signed_in(log_in, official, manager)
    await official.goto(f"/cities/{slug}/labels/{label['id']}")
    await expect(official.get_by_role("heading", level=1)).to_contain_text("Shaded schoolyard")
    await official.get_by_label("Kind of support").select_option("land")
    await official.get_by_label("Description").fill("A plot by the school")
    await official.get_by_role("button", name="Grant the label").click()
    await expect(official.locator("#f-address-error")).to_be_visible()
    await expect(official.get_by_label("Description")).to_have_value("A plot by the school")
    await assert_accessible(official)
    await official.get_by_label("Address").fill("1 rue de l'École")
    await official.get_by_role("button", name="Grant the label").click()
    await expect(official.get_by_role("status")).to_contain_text("The label is granted")
    await expect(official.locator(".badges").get_by_text("Granted")).to_be_visible()

    # Anyone reads the city's page: the labelled project links to its page, the call to its own.
    visitor = await new_page()
    answer = await visitor.goto(f"/cities/{slug}")
    assert answer is not None and answer.status == 200
    await expect(visitor.get_by_role("heading", level=1)).to_have_text(city["name"])
    await expect(visitor.get_by_role("link", name="Shaded schoolyard")).to_have_attribute(
        "href", f"/campaigns/{campaign['id']}"
    )
    await expect(visitor.get_by_text("A plot by the school")).to_be_visible()
    await assert_accessible(visitor)
    french = await new_page(locale="fr-FR", javascript=False)
    await french.goto(f"/cities/{slug}")
    await expect(french.get_by_role("heading", name=f"Projets labellisés par {city['name']}")).to_be_visible()
    await expect(french.get_by_text("Appels à projets ouverts")).to_be_visible()
    await visitor.get_by_role("link", name="Oasis schoolyards").click()
    await expect(visitor).to_have_url(f"{site_url}/cities/{slug}/calls/{call['id']}")
    await expect(visitor.get_by_role("heading", level=1)).to_have_text("Oasis schoolyards")
    await expect(visitor.get_by_text("Proposals open", exact=True)).to_be_visible()
    await assert_accessible(visitor)

    # A resident proposes a project from the call's page; the form says what is missing.
    citizen = new_person("citizen")
    await register(site_url, citizen, postcode=city["postcode"], mailbox=mailbox)
    await signed_in(log_in, page, citizen)
    await page.goto(f"/cities/{slug}/calls/{call['id']}")
    await page.get_by_label("What you propose").fill("Plant trees and make shade in the schoolyard.")
    await page.get_by_role("button", name="Submit the proposal").click()
    await expect(page.locator("#f-title-error")).to_be_visible()
    await expect(page.get_by_label("What you propose")).to_have_value(
        "Plant trees and make shade in the schoolyard."
    )
    await assert_accessible(page)
    await page.get_by_label("Title").fill("Trees for the yard")
    await page.get_by_label("Amount asked from the city (EUR)").fill("2500")
    await page.get_by_label("Postcode of the project").fill(city["postcode"])
    await page.get_by_role("button", name="Submit the proposal").click()
    await expect(page.get_by_role("status")).to_contain_text("Your proposal is submitted")
    await expect(page.get_by_role("heading", name="Trees for the yard")).to_be_visible()
    await expect(page.locator(".proposal").get_by_text("Submitted", exact=True)).to_be_visible()


async def test_an_official_declines_a_label_request_from_its_link_and_a_citizen_may_not(
    page: Page, new_page: Any, admin: Person, make_campaign: Any, log_in: Any, site_url: str,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    city = await make_city(site_url, admin)
    slug = city["slug"]
    reviewer = new_person("reviewer")
    await appoint(site_url, admin, slug, reviewer, "reviewer")
    owner = new_person("owner")
    campaign = await make_campaign(owner, municipality=slug, title="Repair café")
    label = await request_label(site_url, owner, campaign["id"], "A room once a month would help.")
    link = f"/cities/{slug}/labels/{label['id']}"

    await signed_in(log_in, page, reviewer)
    await page.goto(link)
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Repair café")
    await expect(page.get_by_role("link", name="Repair café")).to_have_attribute(
        "href", f"/campaigns/{campaign['id']}"
    )
    await expect(page.get_by_text("Requested", exact=True).first).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("button", name="Start the review").click()
    await expect(page.get_by_role("status")).to_contain_text("The review has started")
    await expect(page.locator(".badges").get_by_text("Under review")).to_be_visible()
    # Declining needs a reason, said beside the field.
    await page.get_by_role("button", name="Decline the request").click()
    await expect(page.locator("#f-reason-error")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("Reason").fill("The city has no free room this year.")
    await page.get_by_role("button", name="Decline the request").click()
    await expect(page.get_by_role("status")).to_contain_text("The label is declined")
    await expect(page.locator(".badges").get_by_text("Declined")).to_be_visible()
    await expect(page.get_by_text("The city has no free room this year.")).to_be_visible()
    await assert_accessible(page)

    # A citizen following the same link gets the 403 page.
    citizen = new_person("citizen")
    await register(site_url, citizen)
    other = await new_page()
    await signed_in(log_in, other, citizen)
    answer = await other.goto(link)
    assert answer is not None and answer.status == 403
    await expect(other.get_by_role("heading", level=1)).to_have_text("You may not see this page")
    await assert_accessible(other)


async def test_an_invitation_is_accepted_through_its_page(
    page: Page, admin: Person, site_url: str, mailbox: Any,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    city = await make_city(site_url, admin)
    slug = city["slug"]
    invitee = new_person("invitee")
    await register(site_url, invitee)
    token = await api_login(site_url, admin)
    await call_api(site_url, "POST", f"{E}/municipalities/{slug}/invitations", token,
                   json={"email": invitee.email, "role": "reviewer"}, expect_status=(201,))  # fmt: skip
    link = mailbox.wait_link(invitee.email, r"/invitations/accept\?token=", timeout=30)

    # Not signed in: the link goes through the login page and comes back.
    await page.goto(path_of(link))
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    await page.get_by_label("Email").fill(invitee.email)
    await page.get_by_label("Password", exact=True).fill(invitee.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Become an official of a city")
    await assert_accessible(page)
    await page.get_by_role("button", name="Accept the invitation").click()
    await expect(page.get_by_role("status")).to_contain_text(f"You are now reviewer of {city['name']}")
    await expect(page.get_by_role("link", name="City console")).to_be_visible()
    await expect(page.get_by_role("heading", name=city["name"])).to_be_visible()
    await assert_accessible(page)
    # A second use of the same link is refused with a reason.
    await page.goto(path_of(link))
    await page.get_by_role("button", name="Accept the invitation").click()
    await expect(page.get_by_role("alert")).to_contain_text("expired or was already used")


async def test_a_manager_reads_the_subscription_and_registers_a_webhook(
    page: Page, admin: Person, log_in: Any, site_url: str,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    city = await make_city(site_url, admin)
    slug = city["slug"]
    manager = new_person("manager")
    await appoint(site_url, admin, slug, manager, "manager")
    await signed_in(log_in, page, manager)
    await page.get_by_role("link", name="City console").click()
    await page.get_by_role("link", name="Subscription").first.click()
    await expect(page.get_by_role("heading", level=2, name="Trial until")).to_be_visible()
    await expect(page.get_by_text("No subscription yet")).to_be_visible()
    await assert_accessible(page)

    await page.get_by_role("link", name="Webhooks").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Webhooks of {city['name']}")
    await page.get_by_label("Address (URL)").fill("http://127.0.0.1:9/civicfund")
    await page.get_by_role("button", name="Register the webhook").click()
    await expect(page.locator("#f-event_types-error")).to_be_visible()
    await expect(page.get_by_label("Address (URL)")).to_have_value("http://127.0.0.1:9/civicfund")
    await page.get_by_label("label.requested", exact=True).check()
    await page.get_by_role("button", name="Register the webhook").click()
    await expect(page.get_by_role("heading", name="Webhook registered")).to_be_visible()
    assert (await page.locator("code.secret").text_content() or "").startswith("whsec_")
    await expect(page.get_by_role("heading", name="http://127.0.0.1:9/civicfund")).to_be_visible()
    await assert_accessible(page)


async def test_a_resident_votes_for_a_proposal_on_the_call_page(
    page: Page, admin: Person, log_in: Any, site_url: str, mailbox: MailBox,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    city = await make_city(site_url, admin)
    slug = city["slug"]
    manager = new_person("manager")
    await appoint(site_url, admin, slug, manager, "manager")
    call = await open_call(site_url, manager, slug, selection_mode="vote", title="Benches for the squares")
    resident = new_person("resident")
    await register(site_url, resident, postcode=city["postcode"], mailbox=mailbox)
    token = await api_login(site_url, resident)
    await call_api(site_url, "POST", f"{E}/calls/{call['id']}/proposals", token, expect_status=(201,), json={
        "title": "Benches on the market square", "summary": "Six benches in the shade of the plane trees.",
        "requested_amount": 300_000, "postcode": city["postcode"]})  # fmt: skip
    # The manager closes submissions and opens the vote now.
    now = datetime.now(UTC).replace(microsecond=0)
    await call_api(site_url, "POST", f"{E}/calls/{call['id']}/schedule", await api_login(site_url, manager), json={
        "submission_closes_at": now.isoformat(), "vote_opens_at": now.isoformat(),
        "vote_closes_at": (now + timedelta(days=7)).isoformat()})  # fmt: skip

    await signed_in(log_in, page, resident)
    await page.goto(f"/cities/{slug}/calls/{call['id']}")
    await expect(page.get_by_text("Vote open", exact=True)).to_be_visible()
    await assert_accessible(page)
    vote = page.get_by_role("button", name="Vote for “Benches on the market square”")
    await vote.click()
    await expect(page.get_by_role("status")).to_contain_text("Your vote is counted. Votes left: 2")
    # One vote per proposal: a second one is refused, and the page says why.
    await vote.click()
    await expect(page.get_by_role("alert")).to_contain_text("Your vote was not counted")
