"""The city console's officials, subscription and systems pages, in the browser, as the city's
manager uses them: invite an official by email (the emailed link lands on the accept page),
appoint someone who has an account, change a role, remove; subscribe with a card that needs
3-D Secure and finish it in the browser, read the invoice, cancel at the end of the period;
register a webhook, see its deliveries, replay one; create and rotate an API client; get the
AMQP credentials of the city's feed; read the event catalogue and its AsyncAPI document.

Cities, roles and accounts are made through the API as an admin and people would; a webhook
receiver runs in the test (a real HTTP server the notifications service calls)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from .conftest import MailBox, Person, api_login
from .test_cities import E, appoint, call_api, eventually, make_city, new_person, register, signed_in

SECURE_CARD = "4000002500003155"  # localstripe: 3-D Secure when saved and when charged
SLOW = 20_000


async def fill_card(page: Page, number: str) -> None:
    await page.get_by_label("Card number").fill(number)
    await page.get_by_label("Expiry month (MM)").fill("12")
    await page.get_by_label("Expiry year (YY)").fill("34")
    await page.get_by_label("Security code (CVC)").fill("123")
    await page.get_by_label("Postcode").fill("93100")


async def test_manager_invites_appoints_changes_and_removes_officials(
    page: Page, new_page: Any, admin: Person, log_in: Any, site_url: str, mailbox: MailBox,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    city = await make_city(site_url, admin)
    slug = city["slug"]
    claire = new_person("claire")
    await appoint(site_url, admin, slug, claire, "manager")
    invitee, colleague = new_person("invitee"), new_person("colleague")
    await register(site_url, invitee)
    await register(site_url, colleague)

    await signed_in(log_in, page, claire)
    await page.goto(f"/cities/{slug}/officials")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Officials of {city['name']}")
    await expect(page.get_by_role("cell", name=f"{claire.email} (you)")).to_be_visible()
    await assert_accessible(page)

    # Invite by email: a bad address is said beside the field, then the invitation goes out.
    await page.locator("#f-invite-email").fill("not-an-address")
    await page.get_by_role("button", name="Send the invitation").click()
    await expect(page.locator("#f-invite-email-error")).to_be_visible()
    await assert_accessible(page)
    await page.locator("#f-invite-email").fill(invitee.email)
    await page.get_by_role("button", name="Send the invitation").click()
    await expect(page.get_by_role("status")).to_contain_text(f"The invitation is sent to {invitee.email}")
    link = mailbox.wait_link(invitee.email, r"/invitations/accept\?token=")
    other = await new_page()
    await signed_in(log_in, other, invitee)
    await other.goto(link)
    await other.get_by_role("button", name="Accept the invitation").click()
    await expect(other.get_by_role("status")).to_contain_text(f"You are now reviewer of {city['name']}")

    # Appoint someone who has an account; an address without one is told to invite instead.
    await page.locator("#f-appoint-email").fill("nobody-here@example.localhost")
    await page.get_by_role("button", name="Appoint", exact=True).click()
    await expect(page.locator("#f-appoint-email-error")).to_contain_text("send an invitation instead")
    await page.locator("#f-appoint-email").fill(colleague.email)
    await page.get_by_role("button", name="Appoint", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text(f"{colleague.email} is appointed")

    async def listed() -> dict[str, str]:
        await page.reload()
        return {
            email: await page.locator(f"tr:has-text('{email}') td").nth(1).inner_text()
            for email in (invitee.email, colleague.email)
            if await page.locator(f"tr:has-text('{email}')").count()
        }

    roles = await eventually(lambda: _both(listed), what="both officials listed")
    assert roles == {invitee.email: "reviewer", colleague.email: "reviewer"}

    # Change a role, then remove an official.
    await page.get_by_label(f"Role of {colleague.email}").select_option("manager")
    await page.get_by_role("button", name=f"Change the role of {colleague.email}").click()
    await expect(page.get_by_role("status")).to_contain_text("The role is changed")
    await expect(page.locator(f"tr:has-text('{colleague.email}') td").nth(1)).to_have_text("manager")
    await page.get_by_role("button", name=f"Remove {invitee.email}").click()
    await expect(page.get_by_role("status")).to_contain_text("The official is removed")
    await expect(page.locator(f"tr:has-text('{invitee.email}')")).to_have_count(0)
    await assert_accessible(page)

    # The removed reviewer is refused the console (endorsements is the authority at once).
    await other.goto(f"/cities/{slug}/officials")
    await expect(other.get_by_role("heading", level=1)).to_have_text("You may not see this page")


async def _both(listed: Callable[[], Awaitable[dict[str, str]]]) -> dict[str, str] | None:
    found = await listed()
    return found if len(found) == 2 else None


async def test_manager_subscribes_with_a_3d_secure_card_and_cancels_at_period_end(
    page: Page, admin: Person, log_in: Any, site_url: str,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    city = await make_city(site_url, admin)
    slug = city["slug"]
    claire = new_person("claire")
    await appoint(site_url, admin, slug, claire, "manager")
    await signed_in(log_in, page, claire)
    await page.goto(f"/cities/{slug}/subscription")
    await expect(page.get_by_role("heading", level=2, name="Trial until")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("Plan").select_option("monthly")
    await page.get_by_label("Email for the invoices").fill("finances@example.localhost")
    await page.get_by_role("button", name="Continue to the card").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("The city's card")
    await fill_card(page, SECURE_CARD)
    await assert_accessible(page)
    await page.get_by_role("button", name="Subscribe with this card").click()
    # localstripe's stand-in for the bank's window, when saving the card...
    await page.get_by_role("button", name="Complete authentication").click()
    # ...and when the subscription's first payment asks the bank too.
    await expect(page.get_by_role("heading", level=1)).to_have_text("Confirm with your bank", timeout=SLOW)
    await assert_accessible(page)
    await page.get_by_role("button", name="Confirm with my bank").click()
    await page.get_by_role("button", name="Complete authentication").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "Payment confirmed: the subscription is active", timeout=SLOW
    )
    await expect(page.get_by_role("heading", level=2, name="Active")).to_be_visible()
    invoices = page.get_by_role("region", name="Invoices")
    await expect(invoices.get_by_text("Paid")).to_be_visible()
    await expect(invoices.get_by_text("€49.00")).to_be_visible()
    await assert_accessible(page)

    await page.get_by_role("button", name="Cancel at the end of the period").click()
    await expect(page.get_by_role("status")).to_contain_text("The subscription ends with the paid period")
    await expect(page.get_by_text("Cancelled: the subscription ends on")).to_be_visible()
    await page.get_by_role("button", name="Keep the subscription").click()
    await expect(page.get_by_role("status")).to_contain_text("The cancellation is undone")


class _Receiver(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        type(self).received.append(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A city system's webhook endpoint: a real HTTP server on a free port."""
    handler = type("Receiver", (_Receiver,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/civicfund", handler.received
    server.shutdown()
    server.server_close()


async def test_manager_runs_the_city_systems(
    page: Page, admin: Person, log_in: Any, site_url: str, receiver: tuple[str, list[bytes]],
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    url, received = receiver
    city = await make_city(site_url, admin)
    slug = city["slug"]
    claire = new_person("claire")
    await appoint(site_url, admin, slug, claire, "manager")
    await signed_in(log_in, page, claire)

    # A webhook for the city's calls; a call opened through the API is delivered to it.
    await page.goto(f"/cities/{slug}/webhooks")
    await page.get_by_label("Address (URL)").fill(url)
    await page.get_by_label("call.opened", exact=True).check()
    await page.get_by_role("button", name="Register the webhook").click()
    await expect(page.get_by_role("heading", name="Webhook registered")).to_be_visible()
    now = datetime.now(UTC).replace(microsecond=0)
    await call_api(site_url, "POST", f"{E}/municipalities/{slug}/calls", await api_login(site_url, claire),
                   expect_status=(201,), json={
        "title": "Street trees", "budget": 1_000_000, "max_award": 200_000, "currency": "EUR",
        "submission_opens_at": now.isoformat(), "submission_closes_at": (now + timedelta(days=9)).isoformat()})  # fmt: skip
    await eventually(lambda: _async(bool(received)), timeout=45, what="the webhook to be delivered")

    async def delivered() -> bool:
        await page.goto(f"/cities/{slug}/webhooks")
        return await page.get_by_role("cell", name="delivered").count() > 0

    await eventually(delivered, what="the delivery in the log")
    await assert_accessible(page)
    await page.get_by_role("button", name="Send call.opened again").first.click()
    await expect(page.get_by_role("status")).to_contain_text("The event is sent again")
    await eventually(lambda: _async(len(received) >= 2), timeout=45, what="the replay to arrive")

    # API clients: a name is needed; the secret is shown once, and again new after a rotation.
    await page.get_by_role("link", name="City systems").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Systems of {city['name']}")
    await page.get_by_role("button", name="Create an API client").click()
    await expect(page.locator("#f-name-error")).to_be_visible()
    await page.get_by_label("Name of the system").fill("Open-data portal")
    await page.get_by_role("button", name="Create an API client").click()
    secret_card = page.get_by_role("status").filter(has_text="Client secret of “Open-data portal”")
    await expect(secret_card).to_be_visible()
    codes = secret_card.locator("code.secret")
    client_id, first_secret = await codes.nth(0).inner_text(), await codes.nth(1).inner_text()
    await assert_accessible(page)
    async with httpx.AsyncClient(base_url=site_url, timeout=30) as http:
        token = await http.post("/oauth/token", data={"grant_type": "client_credentials",
                                                      "client_id": client_id, "client_secret": first_secret})  # fmt: skip
        assert token.status_code == 200, token.text
    await page.get_by_role("button", name="New secret for “Open-data portal”").click()
    await expect(page.get_by_text("The previous secret keeps working until")).to_be_visible()
    second_secret = await page.get_by_role("status").locator("code.secret").nth(1).inner_text()
    assert second_secret != first_secret

    # The AMQP feed's credentials, shown once.
    await page.get_by_role("button", name="Get the AMQP credentials").click()
    amqp = page.get_by_role("status").filter(has_text="AMQP credentials")
    await expect(amqp.get_by_text(f"city-{slug}", exact=True)).to_be_visible()
    await expect(amqp.get_by_text(f"{slug}.#", exact=True)).to_be_visible()

    # The event catalogue names the city's routing keys; the AsyncAPI document opens.
    await expect(page.get_by_role("cell", name=f"{slug}.label.granted", exact=True)).to_be_visible()
    await assert_accessible(page)
    answer = await page.request.get(f"/cities/{slug}/systems/asyncapi.yaml")
    assert answer.status == 200 and (await answer.text()).startswith("asyncapi: 3.0.0")


async def _async(value: Any) -> Any:
    await asyncio.sleep(0)
    return value
