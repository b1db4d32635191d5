"""The skeleton every page stands on: log in and out, the language switch, error pages, assets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from playwright.async_api import Page, expect


async def test_log_in_switch_language_and_log_out(
    page: Page, person: Any, sign_up: Any, log_in: Any, assert_accessible: Any
) -> None:
    await sign_up(person)
    await log_in(page, person)
    await expect(page.get_by_role("link", name=person.name)).to_be_visible()
    await assert_accessible(page)
    # The switch speaks French now, and the account remembers it.
    await page.get_by_role("link", name="Français").click()
    await expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    await page.get_by_role("link", name="English").click()
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("link", name="Log in")).to_be_visible()
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert "cf_session" not in cookies


async def test_wrong_password_keeps_the_email_and_says_why(
    page: Page, person: Any, sign_up: Any, log_in: Any, assert_accessible: Any
) -> None:
    await sign_up(person)
    await page.goto("/login")
    await page.get_by_label("Email").fill(person.email)
    await page.get_by_label("Password", exact=True).fill("not the password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_contain_text("do not match")
    await expect(page.get_by_label("Email")).to_have_value(person.email)
    await assert_accessible(page)


async def test_session_cookie_is_http_only_and_lax(
    page: Page, person: Any, sign_up: Any, log_in: Any, assert_accessible: Any
) -> None:
    await sign_up(person)
    await log_in(page, person)
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["cf_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    # Tokens never reach the browser: the cookie is an opaque id, and scripts cannot read it.
    assert "." not in session["value"]
    assert await page.evaluate("document.cookie") == ""


async def test_error_pages_in_the_site_look(
    page: Page, assert_accessible: Callable[[Page], Awaitable[None]]
) -> None:
    response = await page.goto("/no/such/page")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("This page does not exist")
    await expect(page.get_by_text("Request reference")).to_be_visible()
    await assert_accessible(page)


async def test_a_form_without_its_csrf_token_is_refused(site_url: str) -> None:
    async with httpx.AsyncClient(base_url=site_url, headers={"Accept-Language": "en"}) as client:
        answer = await client.post("/login", data={"email": "a@b.c", "password": "x"})
    assert answer.status_code == 403
    assert "expired" in answer.text


async def test_docs_work_without_internet(page: Page) -> None:
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    await page.goto("/docs")
    await expect(page.locator(".swagger-ui").first).to_be_visible()
    assert not [u for u in failed if not u.startswith(page.url.split("/docs")[0])]


async def test_a_campaign_made_through_the_api_is_live(make_campaign: Any, person: Any) -> None:
    campaign = await make_campaign(person, title="Fixture check")
    assert campaign["status"] == "live"
