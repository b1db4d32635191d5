"""Account journeys: sign up and verify through the emailed link, forgotten password, profile
(name, language), password change, deletion, bad input, expired session, no JavaScript."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Page, expect


async def fill_signup(page: Page, who: Any, password: str | None = None, postcode: str = "") -> None:
    await page.get_by_label("Email").fill(who.email)
    await page.get_by_label("Your name").fill(who.name)
    await page.get_by_label("Password", exact=True).fill(password if password is not None else who.password)
    if postcode:
        await page.get_by_label("Postcode").fill(postcode)
    await page.get_by_role("button", name="Create my account").click()


async def test_a_newcomer_signs_up_verifies_the_address_and_logs_in(
    page: Page, person: Any, mailbox: Any, new_page: Any, log_in: Any, assert_accessible: Any
) -> None:
    await page.goto("/")
    await page.get_by_role("link", name="Sign up").click()
    await expect(page.get_by_text("At least 10 characters")).to_be_visible()  # the rules, as a hint
    await assert_accessible(page)
    await fill_signup(page, person, postcode="93100")
    await expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    await expect(page.get_by_text(person.email)).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("button", name="Send the link again").click()
    await expect(page.get_by_role("status").filter(has_text="new link")).to_be_visible()

    # The link opened elsewhere (a phone): GET only asks, the button verifies.
    link = mailbox.wait_link(person.email, r"/verify-email\?token=")
    other = await new_page()
    await other.goto(link)
    await expect(other.get_by_role("heading", name="Verify your address")).to_be_visible()
    await assert_accessible(other)
    await other.get_by_role("button", name="Confirm my address").click()
    await expect(other.get_by_role("heading", name="Your address is verified")).to_be_visible()
    await assert_accessible(other)
    await other.locator("#main").get_by_role("link", name="Log in").click()
    await log_in(other, person)
    await expect(other.get_by_role("link", name=person.name)).to_be_visible()
    await other.goto("/account")
    await expect(other.get_by_text("Verified", exact=True)).to_be_visible()
    await expect(other.get_by_label("Postcode")).to_have_value("93100")
    # The same link a second time says so.
    await other.goto(link)
    await other.get_by_role("button", name="Confirm my address").click()
    await expect(other.get_by_role("alert")).to_contain_text("already used")


async def test_forgotten_password_then_a_new_one_from_the_emailed_link(
    page: Page, person: Any, sign_up: Any, mailbox: Any, log_in: Any, assert_accessible: Any
) -> None:
    await sign_up(person)
    await page.goto("/login")
    await page.get_by_role("link", name="Forgotten password?").click()
    await assert_accessible(page)
    await page.get_by_label("Email").fill(person.email)
    await page.get_by_role("button", name="Send me a link").click()
    await expect(page.get_by_text("If an account exists with this address")).to_be_visible()
    await assert_accessible(page)

    await page.goto(mailbox.wait_link(person.email, r"/reset-password\?token="))
    await expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    await assert_accessible(page)
    # Two different passwords: said beside the second field.
    await page.get_by_label("New password", exact=True).fill("the brand new secret")
    await page.get_by_label("New password again").fill("not the same secret")
    await page.get_by_role("button", name="Save my new password").click()
    await expect(page.locator("#f-new_password_again-error")).to_have_text(
        "The two passwords are not the same."
    )
    await assert_accessible(page)
    await page.get_by_label("New password", exact=True).fill("the brand new secret")
    await page.get_by_label("New password again").fill("the brand new secret")
    await page.get_by_role("button", name="Save my new password").click()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await expect(page.get_by_text("Your password is changed")).to_be_visible()
    person.password = "the brand new secret"
    await log_in(page, person)
    await expect(page.get_by_role("link", name=person.name)).to_be_visible()


async def test_profile_language_password_and_deletion(
    page: Page, person: Any, sign_up: Any, log_in: Any, site_url: str, assert_accessible: Any
) -> None:
    await sign_up(person)
    await log_in(page, person)
    await page.get_by_role("link", name=person.name).click()
    await expect(page.get_by_role("heading", name="My account")).to_be_visible()
    await assert_accessible(page)

    # Name and language: the header shows the new name, the site speaks French.
    await page.get_by_label("Your name").fill("Amina D.")
    await page.get_by_label("Language").select_option("fr")
    await page.get_by_role("button", name="Save my profile").click()
    await expect(page.get_by_role("heading", name="Mon compte")).to_be_visible()
    await expect(page.get_by_text("Votre profil est enregistré.")).to_be_visible()
    await expect(page.get_by_role("link", name="Amina D.")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    await assert_accessible(page)
    await page.get_by_label("Langue").select_option("en")
    await page.get_by_role("button", name="Enregistrer mon profil").click()
    await expect(page.get_by_role("heading", name="My account")).to_be_visible()

    # A postcode the API refuses: the error beside the field, what was typed kept.
    await page.get_by_label("Postcode").fill("#!")
    await page.get_by_role("button", name="Save my profile").click()
    await expect(page.locator("#f-postcode-error")).to_be_visible()
    await expect(page.get_by_label("Postcode")).to_have_value("#!")
    await assert_accessible(page)
    await page.get_by_label("Postcode").fill("")

    # Password: a wrong current one is said beside it; then the change keeps this session open.
    await page.goto("/account")
    await page.get_by_role("link", name="Change my password").click()
    await assert_accessible(page)
    await page.get_by_label("Current password").fill("not my password")
    await page.get_by_label("New password", exact=True).fill("another long secret")
    await page.get_by_label("New password again").fill("another long secret")
    await page.get_by_role("button", name="Change my password").click()
    await expect(page.locator("#f-current_password-error")).to_have_text("This is not your current password.")
    await page.get_by_label("Current password").fill(person.password)
    await page.get_by_label("New password", exact=True).fill("another long secret")
    await page.get_by_label("New password again").fill("another long secret")
    await page.get_by_role("button", name="Change my password").click()
    await expect(page.get_by_text("Your password is changed")).to_be_visible()
    await page.reload()
    await expect(page.get_by_role("heading", name="My account")).to_be_visible()  # still signed in
    person.password = "another long secret"

    # Delete: a clear warning, the password to confirm; then signed out.
    await page.get_by_role("link", name="Delete my account").click()
    await expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("Your password, to confirm").fill(person.password)
    await page.get_by_role("button", name="Delete my account for good").click()
    await expect(page.get_by_text("Your account is deleted")).to_be_visible()
    await expect(page.get_by_role("banner").get_by_role("link", name="Log in")).to_be_visible()
    async with httpx.AsyncClient(base_url=site_url) as client:
        login = await client.post(
            "/api/v1/auth/login", json={"email": person.email, "password": person.password}
        )
    assert login.status_code == 401


async def test_sign_up_with_a_taken_email_or_a_short_password_says_why(
    new_page: Any, person: Any, sign_up: Any, assert_accessible: Any
) -> None:
    await sign_up(person)
    page = await new_page(width=375)  # a phone
    await page.goto("/signup")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await fill_signup(page, person, password="short")
    await expect(page.locator("#f-password-error")).to_have_text("Use at least 10 characters.")
    await expect(page.get_by_label("Email")).to_have_value(person.email)
    await expect(page.get_by_label("Your name")).to_have_value(person.name)
    await expect(page.get_by_label("Password", exact=True)).to_have_value("")  # never echoed
    await expect(page.get_by_label("Password", exact=True)).to_have_attribute("aria-invalid", "true")
    await assert_accessible(page)
    # The API's rules: a taken email, a password that is the name.
    await fill_signup(page, person)
    await expect(page.locator("#f-email-error")).to_contain_text("already exists")
    await page.get_by_label("Email").fill("other-" + person.email)
    await page.get_by_label("Password", exact=True).fill(person.name)
    await page.get_by_role("button", name="Create my account").click()
    await expect(page.locator("#f-password-error")).to_have_text("Do not use your name as your password.")
    await expect(page.get_by_label("Email")).to_have_value("other-" + person.email)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await assert_accessible(page)


async def test_an_expired_session_logs_in_again_and_comes_back(
    page: Page, person: Any, sign_up: Any, log_in: Any
) -> None:
    await sign_up(person)
    await log_in(page, person)
    await expect(page.get_by_role("link", name=person.name)).to_be_visible()  # the login finished
    await page.goto("/account")
    await page.context.clear_cookies(name="cf_session")
    await page.goto("/account")
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert "next=/account" in page.url
    await page.get_by_label("Email").fill(person.email)
    await page.get_by_label("Password", exact=True).fill(person.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="My account")).to_be_visible()
    assert page.url.endswith("/account")


async def test_without_javascript_sign_up_and_log_in_work(
    new_page: Any, person: Any, mailbox: Any, assert_accessible: Any
) -> None:
    page = await new_page(javascript=False)
    await page.goto("/signup")
    await fill_signup(page, person)
    await expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    await page.goto(mailbox.wait_link(person.email, r"/verify-email\?token="))
    await page.get_by_role("button", name="Confirm my address").click()
    await expect(page.get_by_role("heading", name="Your address is verified")).to_be_visible()
    await page.get_by_role("button", name="Log out").click()
    await page.get_by_role("banner").get_by_role("link", name="Log in").click()
    await page.get_by_label("Email").fill(person.email)
    await page.get_by_label("Password", exact=True).fill(person.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("link", name=person.name)).to_be_visible()
