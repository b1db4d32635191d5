"""A participatory-budget vote in the browser: a verified resident builds a ballot (the running
total moves, a line over the budget is refused beside it) and checks it out; an unverified
resident is told to verify first; Claire enters a paper ballot and reads the turnout, closes the
vote from the console, and the results page shows the winners by heading.

The city, the call, its proposals and its ballot rule are made through the API as the city and
residents would; the ballot, the paper ballot, closing the vote and the results are browser work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.async_api import Page, expect

from .conftest import MailBox, Person, api_login
from .test_cities import E, appoint, call_api, make_city, new_person, open_call, register, signed_in


async def test_a_resident_checks_out_a_ballot_and_the_results_show_the_winners(
    page: Page, new_page: Any, admin: Person, log_in: Any, site_url: str, mailbox: MailBox,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    city = await make_city(site_url, admin)
    slug, postcode = city["slug"], city["postcode"]
    claire = new_person("claire")
    await appoint(site_url, admin, slug, claire, "manager")
    voter, unverified = new_person("voter"), new_person("unverified")
    await register(site_url, voter, postcode=postcode, mailbox=mailbox)
    await register(site_url, unverified, postcode=postcode)
    call = await open_call(site_url, claire, slug, selection_mode="vote", title="Fête des quartiers",
                           budget=1_000_000, max_award=400_000)  # fmt: skip
    token = await api_login(site_url, voter)
    for title, amount in (("Bal du Bel-Air", 250_000), ("Pique-nique", 180_000), ("Cinéma", 300_000)):
        await call_api(site_url, "POST", f"{E}/calls/{call['id']}/proposals", token, expect_status=(201,), json={
            "title": title, "summary": f"{title} pour le quartier.", "requested_amount": amount, "postcode": postcode})  # fmt: skip
    manager = await api_login(site_url, claire)
    await call_api(site_url, "PUT", f"{E}/calls/{call['id']}/ballot-setup", manager, json={
        "rule": {"kind": "knapsack"}, "tie_break": "lowest_amount",
        "headings": [{"key": "city", "name": "Toute la ville", "budget": 500_000}]})  # fmt: skip
    now = datetime.now(UTC).replace(microsecond=0)
    await call_api(site_url, "POST", f"{E}/calls/{call['id']}/schedule", manager, json={
        "submission_closes_at": now.isoformat(), "vote_opens_at": now.isoformat(),
        "vote_closes_at": (now + timedelta(days=7)).isoformat()})  # fmt: skip

    # The verified resident builds the ballot from the call's page.
    await signed_in(log_in, page, voter)
    await page.goto(f"/cities/{slug}/calls/{call['id']}")
    await page.get_by_role("link", name="Build your ballot").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your ballot")
    await expect(page.get_by_text("Choose proposals whose amounts fit")).to_be_visible()
    await page.get_by_role("button", name="Add “Cinéma”").click()
    await expect(page.locator("#total-city")).to_contain_text("Your ballot: €3,000")
    await expect(page.locator("#total-city")).to_contain_text("Left: €2,000")
    await page.get_by_role("button", name="Add “Bal du Bel-Air”").click()
    refused = page.locator("li.proposal", has_text="Bal du Bel-Air").locator(".field-error")
    await expect(refused).to_contain_text("over the budget")
    await expect(page.locator("#total-city")).to_contain_text("Your ballot: €3,000")
    await assert_accessible(page)
    await page.get_by_role("button", name="Add “Pique-nique”").click()
    await expect(page.locator("#total-city")).to_contain_text("Your ballot: €4,800")
    await page.get_by_role("button", name="Check out my ballot").click()
    await expect(page.locator("#ballot-state")).to_contain_text("Your ballot is counted.")
    await expect(page.get_by_role("button", name="Remove “Cinéma”")).to_be_visible()
    await assert_accessible(page)

    # The unverified resident is told to verify first.
    other = await new_page()
    await signed_in(log_in, other, unverified)
    await other.goto(f"/cities/{slug}/calls/{call['id']}/ballot")
    await expect(other.locator("#verify-first")).to_contain_text("verified email address")
    await other.get_by_role("button", name="Add “Cinéma”").click()
    await expect(other.locator("li.proposal", has_text="Cinéma").locator(".field-error")).to_contain_text(
        "verify your email address"
    )
    await assert_accessible(other)

    # Claire enters a paper ballot (a wrong one is refused beside the proposals) and reads the turnout.
    staff = await new_page()
    await signed_in(log_in, staff, claire)
    await staff.goto(f"/cities/{slug}/console/calls/{call['id']}")
    await staff.get_by_role("link", name="Paper ballots and turnout").click()
    await expect(staff.get_by_role("heading", level=1)).to_have_text("Paper ballots and turnout")
    await staff.get_by_label("Polling station").fill("Mairie annexe")
    await staff.get_by_label("Voter's postcode").fill(postcode)
    await staff.get_by_label("Cinéma").check()
    await staff.get_by_label("Bal du Bel-Air").check()
    await staff.get_by_role("button", name="Count this paper ballot").click()
    await expect(staff.locator("#f-lines-error")).to_contain_text("budget")
    await expect(staff.get_by_label("Polling station")).to_have_value("Mairie annexe")
    await assert_accessible(staff)
    await staff.get_by_label("Bal du Bel-Air").uncheck()
    await staff.get_by_role("button", name="Count this paper ballot").click()
    await expect(staff.get_by_role("status")).to_contain_text("The paper ballot is counted")
    await expect(staff.locator("#turnout")).to_contain_text("online: 1")
    await expect(staff.locator("#turnout")).to_contain_text("on paper: 1")
    await assert_accessible(staff)

    # Claire closes the vote from the console; the results are public, by heading.
    await staff.goto(f"/cities/{slug}/console/calls/{call['id']}")
    await staff.get_by_role("button", name="Close the vote now").click()
    await expect(staff.get_by_role("status")).to_contain_text("The vote is closed")
    visitor = await new_page()
    await visitor.goto(f"/cities/{slug}/calls/{call['id']}")
    await visitor.get_by_role("link", name="See the results").click()
    await expect(visitor.get_by_role("heading", level=1)).to_have_text("Results: Fête des quartiers")
    await expect(visitor.locator("#counts")).to_contain_text("online: 1")
    await expect(visitor.locator("#counts")).to_contain_text("on paper: 1")
    await expect(visitor.get_by_text("the cheaper proposal wins")).to_be_visible()
    rows = visitor.locator("table tbody tr")
    await expect(rows.nth(0)).to_contain_text("Cinéma")  # 2 votes
    await expect(rows.nth(0)).to_contain_text("Winner")
    await expect(rows.nth(1)).to_contain_text("Pique-nique")  # 1 vote, fits
    await expect(rows.nth(1)).to_contain_text("Winner")
    await expect(rows.nth(2)).to_contain_text("No vote")
    await assert_accessible(visitor)
