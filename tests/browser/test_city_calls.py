"""A city runs a call for projects from its console: Claire, the city's manager, opens a call
(a wrong maximum award is said beside its field), a resident submits a proposal on the call's
public page, Claire opens the vote, residents vote, Claire closes the vote and selects the
winner, which is live at once as a campaign labelled by the city and shows on the city's page.

The city, Claire's role and the residents' accounts are made through the API as an admin and
people would; everything Claire and the residents do is done in the browser."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Page, expect

from .conftest import MailBox, Person, api_login
from .test_cities import E, appoint, call_api, eventually, make_city, new_person, register, signed_in

PARIS = ZoneInfo("Europe/Paris")


def local(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


async def test_claire_runs_a_call_and_the_winner_is_launched_labelled(
    page: Page, new_page: Any, admin: Person, log_in: Any, site_url: str, mailbox: MailBox,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    city = await make_city(site_url, admin)
    slug = city["slug"]
    claire = new_person("claire")
    await appoint(site_url, admin, slug, claire, "manager")
    residents = [new_person("resident") for _ in range(3)]
    for who in residents:
        await register(site_url, who, postcode=city["postcode"], mailbox=mailbox)

    # Claire opens a call from the console; the maximum award above the budget is refused beside it.
    await signed_in(log_in, page, claire)
    await page.goto(f"/cities/{slug}/console/calls")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Calls for projects")
    await expect(page.get_by_text("No call for projects yet.")).to_be_visible()
    await assert_accessible(page)
    now = datetime.now(PARIS)
    await page.get_by_label("Title").fill("Shaded courtyards")
    await page.get_by_label("Theme").fill("green spaces")
    await page.get_by_label("Budget (EUR)").fill("20000")
    await page.get_by_label("Maximum award per project (EUR)").fill("25000")
    await page.get_by_label("How the winners are chosen").select_option("vote")
    await page.get_by_label("Open from").fill(local(now - timedelta(hours=1)))
    await page.get_by_label("Close on").fill(local(now + timedelta(days=10)))
    await page.get_by_label("Vote opens").fill(local(now + timedelta(days=11)))
    await page.get_by_label("Vote closes").fill(local(now + timedelta(days=20)))
    await page.get_by_role("button", name="Open the call").click()
    await expect(page.locator("#f-max_award-error")).to_contain_text("cannot be more than the budget")
    await expect(page.get_by_label("Title")).to_have_value("Shaded courtyards")
    await assert_accessible(page)
    await page.get_by_label("Maximum award per project (EUR)").fill("8000")
    await page.get_by_role("button", name="Open the call").click()
    await expect(page.get_by_role("status")).to_contain_text("The call is open")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Shaded courtyards")
    call_id = page.url.split("#")[0].rstrip("/").split("/")[-1]
    await assert_accessible(page)

    # A resident submits a proposal on the call's public page; another comes through the API.
    citizen = await new_page()
    await signed_in(log_in, citizen, residents[0])
    await citizen.goto(f"/cities/{slug}/calls/{call_id}")
    await citizen.get_by_label("Title").fill("Trees for the Gabriel Péri yard")
    await citizen.get_by_label("What you propose").fill("Twelve trees and benches in the school's yard.")
    await citizen.get_by_label("Amount asked from the city (EUR)").fill("6000")
    await citizen.get_by_label("Crowdfunding goal if it becomes a campaign (EUR)").fill("9000")
    await citizen.get_by_label("Postcode of the project").fill(city["postcode"])
    await citizen.get_by_role("button", name="Submit the proposal").click()
    await expect(citizen.get_by_role("status")).to_contain_text("Your proposal is submitted")
    other = await api_login(site_url, residents[1])
    await call_api(site_url, "POST", f"{E}/calls/{call_id}/proposals", other, expect_status=(201,), json={
        "title": "A fountain", "summary": "A drinking fountain on the square.", "requested_amount": 500_000,
        "postcode": city["postcode"]})  # fmt: skip

    # Claire sees both proposals and opens the vote now.
    await page.reload()
    await expect(page.get_by_role("heading", name="Trees for the Gabriel Péri yard")).to_be_visible()
    await expect(page.get_by_role("heading", name="A fountain")).to_be_visible()
    await page.get_by_role("button", name="Close proposals and open the vote now").click()
    await expect(page.get_by_role("status")).to_contain_text("The vote is open")

    # Residents vote on the public page: two for the trees, one for the fountain.
    for who, title in (
        (residents[0], "Trees for the Gabriel Péri yard"),
        (residents[2], "Trees for the Gabriel Péri yard"),
    ):
        voter = citizen if who is residents[0] else await new_page()
        if who is not residents[0]:
            await signed_in(log_in, voter, who)
        await voter.goto(f"/cities/{slug}/calls/{call_id}")
        await voter.get_by_role("button", name=f"Vote for “{title}”").click()
        await expect(voter.get_by_role("status")).to_contain_text("Your vote is counted")
    await assert_accessible(citizen)
    fountain = next(
        p for p in (await call_api(site_url, "GET", f"{E}/calls/{call_id}/proposals"))["items"]
        if p["title"] == "A fountain"
    )  # fmt: skip
    await call_api(site_url, "POST", f"{E}/proposals/{fountain['id']}/votes", other, expect_status=(201,))

    # Claire follows the count live, closes the vote, and selects the winner.
    await page.reload()
    await expect(page.get_by_role("heading", name="Results so far (officials only)")).to_be_visible()
    await expect(page.get_by_text("3 ballots.")).to_be_visible()
    await page.get_by_role("button", name="Close the vote now").click()
    await expect(page.get_by_role("status")).to_contain_text("The vote is closed")
    await page.get_by_label("Note to the winners").fill("Bravo: planting starts in March.")
    await page.get_by_role("button", name="Select the winners and launch their campaigns").click()
    await expect(page.get_by_role("status")).to_contain_text("The winners are selected")
    await expect(page.locator(".badges")).to_contain_text("Winners chosen")
    await assert_accessible(page)
    proposals = (await call_api(site_url, "GET", f"{E}/calls/{call_id}/proposals"))["items"]
    winner = next(p for p in proposals if p["status"] == "selected")
    assert winner["title"] == "Trees for the Gabriel Péri yard" and winner["award"] == 600_000
    assert next(p for p in proposals if p["title"] == "A fountain")["status"] == "not_selected"
    campaign_id = winner["campaign_id"]

    # The winner is live, labelled by the city, and shows on the city's page.
    async def launched() -> Any:
        answer = await call_api(
            site_url, "GET", f"/api/v1/campaigns/campaigns/{campaign_id}", expect_status=(200, 404)
        )
        return answer if answer and answer.get("status") == "live" else None

    await eventually(launched, what="the winner to be launched as a campaign")
    visitor = await new_page()
    await visitor.goto(f"/cities/{slug}")
    link = visitor.get_by_role("link", name="Trees for the Gabriel Péri yard")
    await expect(link).to_have_attribute("href", f"/campaigns/{campaign_id}")
    await link.click()
    await expect(visitor.get_by_role("heading", level=1)).to_have_text("Trees for the Gabriel Péri yard")
    await expect(visitor.get_by_text(f"Labelled by {city['name']}").first).to_be_visible()
    await assert_accessible(visitor)

    # The console in French, without JavaScript.
    french = await new_page(locale="fr-FR", javascript=False)
    await signed_in_fr(french, claire)
    await french.goto(f"/cities/{slug}/console/calls")
    await french.get_by_role("link", name="Français").click()  # Claire's account speaks English
    await expect(french.get_by_role("heading", level=1)).to_contain_text("Appels à projets")
    await expect(french.get_by_role("link", name="Shaded courtyards")).to_be_visible()


async def signed_in_fr(page: Page, who: Person) -> None:
    await page.goto("/login")
    await page.locator("input[name=email]").fill(who.email)
    await page.locator("input[name=password]").fill(who.password)
    await page.locator("form[action^='/login'] button[type=submit]").click()
    await page.locator("form[action='/logout']").wait_for()
