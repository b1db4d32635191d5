"""Browser fixtures: Playwright (async API) driving the `chromium` binary of Debian's package
(Playwright cannot download its own browser here) against the whole stack of tests/conftest.py,
through the gateway, as a visitor would. Helpers for the journeys: sign-up through the site, the
links in the mail sink, axe checks."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from devstack.running import RunningStack
from devstack.seed.accounts import PEOPLE as DEMO_PEOPLE

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"

# Assertions wait as long as actions do (15 s, not Playwright's 5 s): on a loaded 2-core CI
# machine an argon2 password change or a consumer's update takes seconds, and a passing
# assertion returns as soon as it holds.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: `apt-get install -y chromium` (.ci/run does it)")
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        await launched.close()


@pytest.fixture(scope="session")
def site_url(stack: RunningStack) -> str:
    """The site as people reach it: through the gateway."""
    return stack.stack.url("gateway")


@pytest.fixture
async def context(browser: Browser, site_url: str) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(
        base_url=site_url, locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    ctx.set_default_timeout(15_000)
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    opened = await context.new_page()
    yield opened


@pytest.fixture
async def new_page(browser: Browser, site_url: str) -> AsyncIterator[Callable[..., Awaitable[Page]]]:
    """Another visitor (own cookies): `await new_page(locale="fr-FR", javascript=False, width=375)`."""
    contexts: list[BrowserContext] = []

    async def make(locale: str = "en-GB", javascript: bool = True, width: int = 1280) -> Page:
        ctx = await browser.new_context(
            base_url=site_url, locale=locale, java_script_enabled=javascript,
            viewport={"width": width, "height": 900},
        )  # fmt: skip
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        return await ctx.new_page()

    yield make
    for ctx in contexts:
        await ctx.close()


class MailBox:
    """The stack's SMTP sink (var/mail/*.eml)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def messages_to(self, address: str) -> list[email.message.EmailMessage]:
        found = []
        for path in sorted(self.directory.glob("*.eml"), key=lambda p: p.stat().st_mtime):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address.lower() in str(message.get("To", "")).lower():
                found.append(message)
        return found

    def wait_link(self, address: str, pattern: str, timeout: float = 20.0) -> str:
        """The first link matching `pattern` in a mail to `address` (waits for the mail)."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            for message in reversed(self.messages_to(address)):
                part = message.get_body(preferencelist=("plain", "html"))
                text = part.get_content() if part is not None else ""
                for url in re.findall(r"https?://[^\s\"'<>]+", text):
                    if regex.search(url):
                        return url
            time.sleep(0.2)
        raise AssertionError(f"no mail to {address} with a link matching {pattern!r}")


@pytest.fixture(scope="session")
def mailbox(stack: RunningStack) -> MailBox:
    return MailBox(stack.stack.var / "mail")


@dataclass
class Person:
    email: str
    password: str
    name: str


@pytest.fixture
def person() -> Person:
    token = uuid.uuid4().hex[:8]
    return Person(f"visitor-{token}@example.localhost", "a long demo password", f"Visitor {token}")


@pytest.fixture(scope="session")
def sign_up(site_url: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    """`await sign_up(person)`: an account made through the public API (for journeys that are not
    about signing up); `verified=True` also opens the emailed verification link."""

    async def make(who: Person, locale: str = "en") -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=site_url, timeout=30) as client:
            created = await client.post(
                "/api/v1/auth/register",
                json={
                    "email": who.email,
                    "password": who.password,
                    "display_name": who.name,
                    "locale": locale,
                },
            )
            assert created.status_code == 201, created.text
            return created.json()

    return make


@pytest.fixture(scope="session")
def log_in() -> Callable[[Page, Person], Awaitable[None]]:
    """`await log_in(page, person)` through the site's login form (English labels)."""

    async def run(page: Page, who: Person) -> None:
        await page.goto("/login")
        await page.get_by_label("Email").fill(who.email)
        await page.get_by_label("Password", exact=True).fill(who.password)
        await page.get_by_role("button", name="Log in").click()
        # Done when the header offers to log out (argon2 makes the login take a moment).
        await page.locator("form[action='/logout']").wait_for()

    return run


@pytest.fixture(scope="session")
def assert_accessible() -> Callable[[Page], Awaitable[None]]:
    """`await assert_accessible(page)`: axe-core (shipped inside axe-playwright-python, no
    download) finds no serious or critical violation on the page as it is now."""
    axe = Axe()

    async def check(page: Page) -> None:
        results = await axe.run(page)
        bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
        summary = "\n".join(
            f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes'][:3]]}" for v in bad
        )
        assert not bad, f"axe violations on {page.url}:\n{summary}"

    return check


async def api_login(site_url: str, who: Person) -> str:
    """An access token the way any client gets one: the gateway's login."""
    async with httpx.AsyncClient(base_url=site_url, timeout=30) as client:
        answer = await client.post("/api/v1/auth/login", json={"email": who.email, "password": who.password})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])


@pytest.fixture(scope="session")
async def admin(site_url: str) -> Person:
    """The platform admin (the stack makes admin@civicfund.localhost an admin by its bootstrap list),
    with the demo seed's password: the seed tests use the same stack and log in as this admin."""
    demo = next(p for p in DEMO_PEOPLE if p.key == "admin")
    who = Person(demo.email, demo.password, demo.display_name)
    async with httpx.AsyncClient(base_url=site_url, timeout=30) as client:
        created = await client.post(
            "/api/v1/auth/register",
            json={"email": who.email, "password": who.password, "display_name": who.name, "locale": "en"},
        )
        assert created.status_code in (201, 409), created.text
    return who


@pytest.fixture(scope="session")
def make_campaign(site_url: str, admin: Person) -> Callable[..., Awaitable[dict[str, Any]]]:
    """`await make_campaign(owner, title=..., funding_model=..., goal=...)`: a live campaign made
    the way people make one: the owner drafts and submits it through the API, the admin approves
    it (`live=False` leaves it as a draft). The owner's account is created when missing."""

    async def make(owner: Person, live: bool = True, **fields: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=site_url, timeout=30) as client:
            await client.post(
                "/api/v1/auth/register",
                json={
                    "email": owner.email,
                    "password": owner.password,
                    "display_name": owner.name,
                    "locale": "en",
                },
            )
        token = await api_login(site_url, owner)
        body = {
            "title": "Community garden on rue des Roses",
            "summary": "Raised beds and a tool shed for the neighbours.",
            "description": "We build **ten raised beds** and a shed.",
            "category": "environment",
            "municipality": "montreuil",
            "neighbourhood": "Bel-Air",
            "goal": 300000,
            "currency": "EUR",
            "funding_model": "keep_it_all",
            "duration_days": 30,
            **fields,
        }
        owner_headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=site_url, timeout=30, headers=owner_headers) as client:
            created = await client.post(
                "/api/v1/campaigns/campaigns", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
            )
            assert created.status_code == 201, created.text
            campaign = created.json()
            if not live:
                return campaign
            submitted = await client.post(f"/api/v1/campaigns/campaigns/{campaign['id']}/submit")
            assert submitted.status_code == 200, submitted.text
        admin_token = await api_login(site_url, admin)
        async with httpx.AsyncClient(
            base_url=site_url, timeout=30, headers={"Authorization": f"Bearer {admin_token}"}
        ) as client:
            approved = await client.post(
                f"/api/v1/campaigns/campaigns/{campaign['id']}/moderation", json={"decision": "approve"}
            )
            assert approved.status_code == 200, approved.text
            return approved.json()

    return make
