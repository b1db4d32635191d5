"""The tax-receipt and residency seed steps on the running platform: Sofia's paid pledge to
Amina's association has its receipt; Bagnolet takes a census and has letters with codes for its
call, a code proves residency there; a second run issues no new receipt and makes no new letter."""

from __future__ import annotations

import httpx

from devstack.running import RunningStack

E = "/api/v1/endorsements"


async def test_seed_gives_a_receipt_and_a_city_that_verifies_residents_once(
    gateway_url: str, stack: RunningStack
) -> None:
    from devstack.seed import accounts, campaigns, cities, pledges, receipts, residency
    from devstack.seed.context import Demo

    pledges.STRIPE = f"http://127.0.0.1:{stack.stack.ports.localstripe}"  # the test stack's local Stripe
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as client:
        demo = Demo(client=client, var=stack.stack.var)
        for step in (accounts, cities, campaigns, pledges):
            await step.run(demo)
        await receipts.run(demo)
        await residency.run(demo)
        assert not [n for n in demo.notes if "refused" in n], demo.notes
        number = demo.ids["tax_receipt.sofia"]
        sofia, nadia = demo.people["sofia"], demo.people["bagnolet_manager"]
        mine = (await client.get("/api/v1/payments/me/pledges", headers=sofia.auth)).json()["items"]
        paid = next(p for p in mine if p["campaign_id"] == demo.ids["campaign.street_workout"])
        state = (
            await client.get(f"/api/v1/payments/pledges/{paid['id']}/tax-receipt", headers=sofia.auth)
        ).json()
        assert (
            state["receipt"]["number"] == number
            and state["receipt"]["association"] == "Association Bel-Air Sport"
        )
        pdf = await client.get(f"/api/v1/payments/pledges/{paid['id']}/tax-receipt.pdf", headers=sofia.auth)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

        overview = (await client.get(f"{E}/municipalities/bagnolet/residency", headers=nadia.auth)).json()
        assert overview["methods"] == ["census", "letter"] and overview["census_entries"] == 3
        assert overview["letters_sent"] == 2
        codes = [n.rsplit("code ", 1)[1] for n in demo.notes if "residency letter" in n]
        assert len(codes) == 2
        call_id = demo.ids["call.bagnolet_2027"]
        proved = await client.post(
            f"{E}/calls/{call_id}/residency/letter", json={"code": codes[0]}, headers=sofia.auth
        )
        assert proved.status_code == 200 and proved.json()["verified"] is True, proved.text

        notes = len(demo.notes)
        await receipts.run(demo)
        await residency.run(demo)
        assert demo.ids["tax_receipt.sofia"] == number
        assert len(demo.notes) == notes  # no new letter, nothing refused
        again = (await client.get(f"{E}/municipalities/bagnolet/residency", headers=nadia.auth)).json()
        assert again["letters_sent"] == 2 and again["census_entries"] == 3
