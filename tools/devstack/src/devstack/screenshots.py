"""Screenshots of the site's main pages for the README, at desktop width and 375 px, taken in
Debian's chromium against a fresh stack loaded with the demo data (through the public API).

    .venv/bin/python -m devstack.screenshots            # writes docs/screenshots/*.png

Re-run it after changing a page: the README shows these files.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from playwright.async_api import Page, async_playwright

from . import seed
from .running import throwaway

ROOT = Path(__file__).resolve().parents[4]
OUT = ROOT / "docs" / "screenshots"
WIDTHS = {"desktop": 1280, "mobile": 375}


async def _log_in(page: Page, email: str, password: str) -> None:
    await page.goto("/login")
    await page.locator("#f-email").fill(email)
    await page.locator("#f-password").fill(password)
    await page.locator("form[action='/login'] button[type=submit]").click()
    await page.wait_for_load_state("networkidle")


async def shoot(site: str, demo: seed.Demo) -> list[Path]:
    amina = demo.people.get("amina")
    campaign = demo.ids.get("campaign.street_workout")
    anonymous = [("home", "/"), ("login", "/login"), ("signup", "/signup")]
    if campaign:
        anonymous.append(("campaign", f"/campaigns/{campaign}"))
    signed_in = [
        ("my-space", "/me"),
        ("inbox", "/me/inbox"),
        ("propose", "/propose"),
        ("my-projects", "/projects"),
    ]
    if campaign:
        signed_in += [("checkout", f"/campaigns/{campaign}/back"), ("dashboard", f"/projects/{campaign}")]
    written: list[Path] = []
    OUT.mkdir(parents=True, exist_ok=True)
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        for label, width in WIDTHS.items():
            context = await browser.new_context(
                base_url=site, locale="fr-FR", viewport={"width": width, "height": 900}
            )
            page = await context.new_page()
            for name, path in anonymous:
                await page.goto(path)
                await page.wait_for_load_state("networkidle")
                target = OUT / f"{name}-{label}.png"
                await page.screenshot(path=str(target), full_page=True)
                written.append(target)
            if amina is not None:
                await _log_in(page, amina.email, amina.password)
                for name, path in signed_in:
                    response = await page.goto(path)
                    await page.wait_for_load_state("networkidle")
                    if response is not None and response.status >= 400:
                        print(f"  {path}: {response.status}, not shot")
                        continue
                    target = OUT / f"{name}-{label}.png"
                    await page.screenshot(path=str(target), full_page=True)
                    written.append(target)
            await context.close()
        await browser.close()
    return written


def main() -> None:
    with throwaway("shots", {"LOG_LEVEL": "WARNING"}) as run:
        site = run.stack.url("gateway")
        seed.pledges.STRIPE = f"http://127.0.0.1:{run.stack.ports.localstripe}"
        seed.payouts.CAMPAIGNS_MONGO = run.stack.mongo_url("campaigns")  # where it moves deadlines
        demo = asyncio.run(seed.seed(site, run.stack.var))
        for path in asyncio.run(shoot(site, demo)):
            print(f"  wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
