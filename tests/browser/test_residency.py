"""Proof of residency in the browser: Claire, the city's manager, chooses the census and letters
in the console, uploads a census (a refused line is listed by number) and makes a letter for
the open vote; a resident's wrong census answer is said beside the field, the letter's code
proves residency and leads to the ballot.

The city, Claire's role, the call and the resident's account are made through the API as an
admin and people would; choosing, uploading, printing and proving are browser work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import Page, expect

from .conftest import MailBox, Person
from .test_cities import appoint, make_city, new_person, open_call, register, signed_in

CENSUS = "document_number,birth_date,postcode\nAB123456,1984-03-02,{pc}\nCD789012,not-a-date,{pc}\n"


async def test_claire_takes_a_census_and_letters_and_a_resident_proves_residency(
    page: Page, new_page: Any, admin: Person, log_in: Any, site_url: str, mailbox: MailBox,
    assert_accessible: Callable[[Page], Awaitable[None]],
) -> None:  # fmt: skip
    city = await make_city(site_url, admin)
    slug, postcode = city["slug"], city["postcode"]
    claire = new_person("claire")
    await appoint(site_url, admin, slug, claire, "manager")
    call = await open_call(site_url, claire, slug, selection_mode="vote", title="Fête des quartiers")
    resident = new_person("resident")
    await register(site_url, resident, postcode=postcode, mailbox=mailbox)

    await signed_in(log_in, page, claire)
    await page.goto(f"/cities/{slug}/console/residency")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Who may vote in {city['name']}")
    await expect(page.get_by_text("No proof is asked for")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("The city's census: document number, birth date and postcode").check()
    await page.get_by_label("A letter with a code, posted to the resident's address").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_contain_text("The proofs of residency are saved")
    await page.get_by_label("Census file (CSV)").set_input_files(
        files=[{"name": "census.csv", "mimeType": "text/csv", "buffer": CENSUS.format(pc=postcode).encode()}]
    )
    await page.get_by_role("button", name="Upload the census").click()
    await expect(page.get_by_text("1 residents in the census.")).to_be_visible()
    await expect(page.get_by_text("line 3: birth_date is not a date")).to_be_visible()
    await assert_accessible(page)

    await page.get_by_label("For the vote of").select_option(call["id"])
    await page.get_by_label("Addresses, one a line").fill(f"M. Diallo; 12 rue de Paris; {postcode}\n")
    await page.get_by_role("button", name="Make the letters").click()
    await expect(page.locator("#f-addresses-error")).to_contain_text("Line 1")
    await page.get_by_label("Addresses, one a line").fill(
        f"M. Diallo; 12 rue de Paris; {postcode}; Montreuil\n"
    )
    await page.get_by_role("button", name="Make the letters").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("1 letters to print")
    code = (await page.locator(".letter-code").inner_text()).strip()
    assert len(code) == 11 and code[5] == "-"
    await assert_accessible(page)

    # The resident: a wrong census answer is said beside the field, the letter's code works.
    other = await new_page()
    await signed_in(log_in, other, resident)
    await other.goto(f"/cities/{slug}/calls/{call['id']}/residency")
    await expect(other.get_by_role("heading", level=1)).to_have_text(f"Prove that you live in {city['name']}")
    await assert_accessible(other)
    await other.get_by_label("Identity document number").fill("ZZ999999")
    await other.get_by_label("Date of birth").fill("1984-03-02")
    await other.get_by_label("Postcode").fill(postcode)
    await other.get_by_role("button", name="Check").click()
    await expect(other.locator("#f-document_number-error")).to_contain_text("has no entry")
    await other.get_by_label("The code on the letter").fill(code.lower())
    await other.get_by_role("button", name="Use the code").click()
    await expect(other.get_by_role("status")).to_contain_text("You have proved that you live in the city")
    # (The ballot sends back to the call's page until the vote opens.)
    await expect(other).to_have_url(f"{site_url}/cities/{slug}/calls/{call['id']}#letter")
    await other.goto(f"/cities/{slug}/calls/{call['id']}/residency")
    await expect(other.get_by_text(f"postcode {postcode}")).to_be_visible()
