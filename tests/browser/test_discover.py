"""Home / discover: a newcomer finds a project by text search and opens it; filters, sorts and
pagination change the list; the page works without JavaScript and at 375 px."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Page, expect


@dataclass
class Person:
    """An account (the conftest's `person` has the same shape)."""

    email: str
    password: str
    name: str


def owner() -> Person:
    token = uuid.uuid4().hex[:8]
    return Person(f"owner-{token}@example.localhost", "a long demo password", f"Owner {token}")


async def test_a_newcomer_finds_a_montreuil_project_by_search_and_opens_it(
    page: Page, make_campaign: Any, assert_accessible: Callable[[Page], Awaitable[None]]
) -> None:
    word = f"Zephyr{uuid.uuid4().hex[:6]}"
    campaign = await make_campaign(
        owner(),
        title=f"{word} tool library in Bel-Air",
        description="Neighbours lend **drills and ladders** to each other.",
        funding_model="all_or_nothing",
    )
    await page.goto("/")
    await expect(page.get_by_role("link", name="Propose a project").first).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("Search projects").fill(word)
    await page.get_by_role("button", name="Show projects").click()
    await expect(page.get_by_role("heading", name=f"Projects matching “{word}”")).to_be_visible()
    cards = page.locator(".campaign-card")
    await expect(cards).to_have_count(1)
    await expect(cards.first.locator(".progress")).to_be_visible()
    await cards.first.get_by_role("link", name=campaign["title"]).click()
    await expect(page).to_have_url(re.compile(f"/campaigns/{campaign['id']}$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(campaign["title"])
    await expect(page.locator(".story strong")).to_have_text("drills and ladders")
    await expect(page.locator(".funding .progress")).to_be_visible()
    await expect(
        page.get_by_text("All or nothing: you are charged only if the goal is reached by")
    ).to_be_visible()
    await expect(page.get_by_role("link", name="Back this project")).to_have_attribute(
        "href", f"/campaigns/{campaign['id']}/back"
    )


async def test_filters_change_the_results_and_pagination_goes_both_ways(
    new_page: Callable[..., Awaitable[Page]], make_campaign: Any
) -> None:
    word = f"Quokka{uuid.uuid4().hex[:6]}"
    who = owner()
    made = [
        await make_campaign(who, title=f"{word} garden {i}", category=category, funding_model=model)
        for i, (category, model) in enumerate(
            [("environment", "keep_it_all"), ("sport", "all_or_nothing"), ("sport", "keep_it_all")]
        )
    ]
    page = await new_page()
    # Two per page (the site shows 12; `per_page` keeps the test short): page 1, 2, then back.
    await page.goto(f"/?q={word}&per_page=2")
    cards = page.locator(".campaign-card")
    await expect(cards).to_have_count(2)
    first_page = await cards.locator("h3").all_inner_texts()
    await page.get_by_role("link", name="Next →").click()
    await expect(cards).to_have_count(1)
    await expect(page.get_by_text("Page 2")).to_be_visible()
    await expect(page.get_by_role("link", name="Next →")).to_have_count(0)
    await page.get_by_role("link", name="← Previous").click()
    await expect(cards).to_have_count(2)
    assert await cards.locator("h3").all_inner_texts() == first_page
    await expect(page.get_by_role("link", name="← Previous")).to_have_count(0)
    # Category, then funding model: the form keeps the search and the choices.
    await page.get_by_label("Category").select_option("sport")
    await page.get_by_role("button", name="Show projects").click()
    await expect(page).to_have_url(re.compile("category=sport"))
    await expect(cards).to_have_count(2)
    await expect(page.get_by_label("Search projects")).to_have_value(word)
    await page.get_by_label("Funding model").select_option("all_or_nothing")
    await page.get_by_role("button", name="Show projects").click()
    await expect(page).to_have_url(re.compile("funding_model=all_or_nothing"))
    await expect(cards).to_have_count(1)
    await expect(cards.first).to_contain_text(made[1]["title"])
    await expect(cards.first).to_contain_text("All or nothing")
    # Sorted by the most funded: still the same single project (the sort is a plain choice).
    await page.get_by_label("Sort by").select_option("most_funded")
    await page.get_by_role("button", name="Show projects").click()
    await expect(page).to_have_url(re.compile("sort=most_funded"))
    await expect(cards).to_have_count(1)
    # Nothing matches: the empty state says so and offers a way out.
    await page.get_by_label("Category").select_option("health")
    await page.get_by_role("button", name="Show projects").click()
    await expect(page).to_have_url(re.compile("category=health"))
    await expect(page.get_by_role("heading", name="No project matches these filters")).to_be_visible()
    await expect(page.get_by_role("link", name="See every project")).to_be_visible()


async def test_discover_at_375_px(
    new_page: Callable[..., Awaitable[Page]],
    make_campaign: Any,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:
    word = f"Narval{uuid.uuid4().hex[:6]}"
    await make_campaign(owner(), title=f"{word} repair café")
    page = await new_page(width=375)
    await page.goto(f"/?q={word}")
    await expect(page.locator(".campaign-card")).to_have_count(1)
    await expect(page.locator(".campaign-card")).to_contain_text("Montreuil")
    # Nothing wider than the screen.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await assert_accessible(page)


async def test_search_without_javascript_in_french(
    new_page: Callable[..., Awaitable[Page]], make_campaign: Any
) -> None:
    word = f"Dugong{uuid.uuid4().hex[:6]}"
    campaign = await make_campaign(owner(), title=f"{word} repair café")
    page = await new_page(locale="fr-FR", javascript=False)
    await page.goto("/")
    await expect(page.get_by_role("link", name="Proposer un projet").first).to_be_visible()
    await page.get_by_label("Rechercher des projets").fill(word)
    await page.get_by_role("button", name="Afficher les projets").click()
    await expect(page.locator(".campaign-card")).to_have_count(1)
    await page.get_by_role("link", name=campaign["title"]).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(campaign["title"])
    await expect(
        page.get_by_text("On garde tout : le projet garde tout ce qui est collecté.")
    ).to_be_visible()
