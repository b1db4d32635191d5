"""The city console in a real browser: Claire, the city's manager, creates the yearly pool on the
dashboard, reviews Amina's label request from the queue, grants the label with a plot of land and
an instant 1:1 match after seeing the cost preview; a backer pledges with the test card and both
totals move on the campaign page, the dashboard and the city's page. Then the city proposes its
own project, labelled by it.

The city, Claire's role and Amina's campaign and request are made through the API as an admin
and a project owner would; everything Claire and the backer do goes through the site."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import Page, expect

from .conftest import Person
from .test_checkout import GOOD_CARD, SLOW, fill_card, pledge
from .test_cities import appoint, make_city, new_person, register, request_label, signed_in


async def reload_until(page: Page, locator: Any, text: str, tries: int = 40) -> None:
    """Events travel between services: reload until the page shows `text` in `locator`."""
    for _ in range(tries):
        if text in (await page.locator(locator).first.inner_text()):
            return
        await page.wait_for_timeout(500)
        await page.reload()
    await expect(page.locator(locator).first).to_contain_text(text)


async def test_claire_grants_a_label_with_land_and_an_instant_match_after_the_preview(
    page: Page, new_page: Any, admin: Person, make_campaign: Any, log_in: Any, site_url: str,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    city = await make_city(site_url, admin)
    slug = city["slug"]
    claire = new_person("claire")
    await appoint(site_url, admin, slug, claire, "manager")
    amina = new_person("amina")
    campaign = await make_campaign(amina, municipality=slug, title="Street workout park", goal=300_000)
    await request_label(site_url, amina, campaign["id"], "Could the city lend us the plot by the stadium?")

    # The dashboard: the trial and what it allows, one request waiting, no pool yet.
    await signed_in(log_in, page, claire)
    await page.get_by_role("link", name="City console").click()
    await page.get_by_role("link", name=city["name"]).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Dashboard of {city['name']}")
    await expect(page.get_by_role("heading", name=re.compile("Subscription: trial until"))).to_be_visible()
    await expect(page.get_by_text("may review and grant labels, commit match funding")).to_be_visible()
    await expect(page.get_by_role("link", name="Street workout park")).to_be_visible()
    await assert_accessible(page)
    # Claire creates the yearly pool; the form says what is wrong beside the field.
    await page.get_by_text("Create a pool").click()
    await page.get_by_label("Name of the pool").fill("Budget participatif")
    await page.get_by_label("Yearly budget (EUR)").fill("ten thousand")
    await page.get_by_role("button", name="Create the pool").click()
    await expect(page.locator("#f-budget-error")).to_be_visible()
    await expect(page.get_by_label("Name of the pool")).to_have_value("Budget participatif")
    await assert_accessible(page)
    await page.get_by_label("Year", exact=True).fill("2027")
    await page.get_by_label("Yearly budget (EUR)").fill("10000")
    await page.get_by_role("button", name="Create the pool").click()
    await expect(page.get_by_role("status")).to_contain_text("The pool is created")
    row = page.get_by_role("row", name=re.compile("Budget participatif"))
    await expect(row).to_contain_text("€10,000.00")

    # The review queue: the request with where it is and Amina's message.
    await page.get_by_role("link", name="Label requests").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Label requests of {city['name']}")
    item = page.locator(".queue-item").filter(has_text="Street workout park")
    await expect(item).to_contain_text("Could the city lend us the plot by the stadium?")
    await expect(item).to_contain_text("On the territory: names the city")
    await expect(item).to_contain_text("Requested")
    await assert_accessible(page)
    await item.get_by_role("heading", name="Street workout park").get_by_role("link").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Street workout park")
    await page.get_by_role("button", name="Start the review").click()
    await expect(page.get_by_role("status")).to_contain_text("The review has started")

    # The grant: a plot of land and an instant 1:1 match from the pool, capped at €1,000.
    await page.get_by_label("Kind of support").select_option("land")
    await page.get_by_label("Description").fill("The plot by the stadium")
    await page.get_by_label("Address").fill("12 rue du Stade")
    await page.get_by_label("From").fill("2027-04-01")
    await page.get_by_label("Until").fill("2027-10-31")
    await page.get_by_label("Pool").select_option(label="Budget participatif (2027): €10,000.00 left")
    await page.get_by_label("When the city pays").select_option("instant")
    await page.get_by_label("Ratio").fill("1")
    # Without a cap the rule is incomplete: said beside the field, what was typed is kept.
    await page.get_by_role("button", name="Preview the cost").click()
    await expect(page.locator("#f-cap_per_project-error")).to_be_visible()
    await expect(page.get_by_label("Description")).to_have_value("The plot by the stadium")
    await assert_accessible(page)
    await page.get_by_label("Most for this project (EUR)").fill("1000")
    # Granting a rule not previewed yet shows its cost first, and grants nothing.
    await page.get_by_role("button", name="Grant the label").click()
    await expect(page.get_by_text("Check what the match costs, then grant the label.")).to_be_visible()
    preview = page.locator("#match-preview")
    await expect(preview).to_contain_text("Raised so far")
    await expect(preview.locator(".preview-now")).to_have_text("€0.00")
    await expect(preview).to_contain_text("€1,000.00")  # reserved
    await expect(preview).to_contain_text("€9,000.00")  # left in the pool after it
    await expect(page.locator(".badges").get_by_text("Under review")).to_be_visible()
    await expect(page.get_by_label("Most for this project (EUR)")).to_have_value("1000")
    await assert_accessible(page)
    await page.get_by_role("button", name="Grant the label").click()
    await expect(page.get_by_role("status")).to_contain_text("The label is granted with match funding")
    await expect(page.locator(".badges").get_by_text("Granted")).to_be_visible()
    await expect(page.locator(".support-list")).to_contain_text("The plot by the stadium (12 rue du Stade)")
    await expect(page.locator(".match-summary")).to_contain_text("up to €1,000.00")
    await assert_accessible(page)

    # A backer pledges €25 with the test card: the city adds €25 at once.
    backer = new_person("backer")
    await register(site_url, backer)
    payer = await new_page()
    await signed_in(log_in, payer, backer)
    await pledge(payer, campaign["id"], "25")
    await fill_card(payer, GOOD_CARD)
    await payer.get_by_role("button", name="Pay €25.00").click()
    await expect(payer.get_by_role("heading", level=1)).to_have_text(
        "Thank you: €25.00 charged", timeout=SLOW
    )
    await payer.goto(f"/campaigns/{campaign['id']}")
    await reload_until(payer, ".campaign", "Matched by the city: €25")
    await expect(payer.locator(".campaign")).to_contain_text("Given by backers: €25")
    await expect(payer.get_by_text(f"Labelled by {city['name']}").first).to_be_visible()
    await assert_accessible(payer)

    # Claire's dashboard: the project's funding and what is left of the pool.
    await page.goto(f"/cities/{slug}/console")
    await reload_until(page, "#pools", "€25.00")
    await expect(page.get_by_role("row", name=re.compile("Budget participatif"))).to_contain_text("€9,000.00")
    project_row = page.get_by_role("row", name=re.compile("Street workout park"))
    await expect(project_row).to_contain_text("€25.00")
    await expect(project_row).to_contain_text("A plot of land")
    await assert_accessible(page)

    # The city's public page: the labelled project, the land it lends.
    visitor = await new_page(locale="fr-FR")  # axe runs in the page: JavaScript on
    await visitor.goto(f"/cities/{slug}")
    await expect(visitor.get_by_role("link", name="Street workout park")).to_be_visible()
    await expect(visitor.get_by_text("The plot by the stadium")).to_be_visible()
    await expect(visitor.get_by_text("Abondé par la ville", exact=False)).to_be_visible()
    await assert_accessible(visitor)


async def test_the_city_proposes_its_own_project_labelled_by_it(
    page: Page, new_page: Any, admin: Person, log_in: Any, site_url: str,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    city = await make_city(site_url, admin)
    slug = city["slug"]
    claire = new_person("claire")
    await appoint(site_url, admin, slug, claire, "manager")
    await signed_in(log_in, page, claire)
    await page.goto(f"/cities/{slug}/console")
    await page.get_by_role("link", name="Propose the city's own project").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"A project of {city['name']}")
    await page.get_by_label("Title").fill("Shade trees on the market square")
    await page.get_by_label("Goal (EUR)").fill("lots")
    await page.get_by_role("button", name="Propose and label the project").click()
    await expect(page.locator("#f-goal-error")).to_be_visible()
    await expect(page.get_by_label("Title")).to_have_value("Shade trees on the market square")
    await assert_accessible(page)
    await page.get_by_label("Summary").fill("Twelve plane trees for shade on market days.")
    await page.get_by_label("Goal (EUR)").fill("8000")
    await page.get_by_role("button", name="Propose and label the project").click()
    await expect(page.get_by_role("status")).to_contain_text(f"labelled by {city['name']}")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Shade trees on the market square")
    await expect(page.locator(".badges").get_by_text("Granted")).to_be_visible()
    await assert_accessible(page)

    # The city's page shows it as the city's own project.
    visitor = await new_page()
    await visitor.goto(f"/cities/{slug}")
    card = visitor.locator(".campaign-card").filter(has_text="Shade trees on the market square")
    await expect(card).to_contain_text("The city's own project")
    await assert_accessible(visitor)
    # A citizen may not open the console.
    citizen = new_person("citizen")
    await register(site_url, citizen)
    other = await new_page()
    await signed_in(log_in, other, citizen)
    answer = await other.goto(f"/cities/{slug}/console")
    assert answer is not None and answer.status == 403
