"""The payouts seed step on the running platform: Amina's ping-pong tables ended and were paid
out to her connected account (a transfer on the local Stripe), Montreuil's instant match became
due and was received; her book boxes' payout went in two tranches, the first paid, the second
waiting for Montreuil's confirmation of its milestone; a second run adds nothing."""

from __future__ import annotations

import httpx
import pytest

from devstack.running import RunningStack

P = "/api/v1/payments"


@pytest.mark.timeout(600)  # the stack starts within it on a loaded machine; the step waits for two ends
async def test_seed_pays_out_an_ended_campaign_and_its_city_match_once(
    gateway_url: str, stack: RunningStack, capsys: pytest.CaptureFixture[str]
) -> None:
    from devstack.seed import accounts, campaigns, cities, payouts, pledges
    from devstack.seed.context import Demo

    pledges.STRIPE = f"http://127.0.0.1:{stack.stack.ports.localstripe}"  # the test stack's local Stripe
    payouts.CAMPAIGNS_MONGO = stack.stack.mongo_url("campaigns")
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as client:
        demo = Demo(client=client, var=stack.stack.var)
        for step in (accounts.run, cities.run, campaigns.run, cities.label_run, pledges.run):
            await step(demo)
        capsys.readouterr()
        await payouts.run(demo)
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 1 and "not finished" not in lines[0], lines
        assert not [n for n in demo.notes if n.startswith("payouts")], demo.notes
        amina, claire = demo.people["amina"], demo.people["montreuil_manager"]
        admin = demo.people["admin"]

        # The ping-pong tables: ended, paid out by transfers to Amina's account.
        cid = demo.ids["campaign.ping_pong"]
        campaign = (await client.get(f"/api/v1/campaigns/campaigns/{cid}")).json()
        assert campaign["status"] in ("succeeded", "failed") and campaign["funding_model"] == "keep_it_all"
        account = (await client.get(f"{P}/payouts/account", headers=amina.auth)).json()
        assert account["status"] == "ready"
        paid = (await client.get(f"{P}/campaigns/{cid}/payouts", headers=amina.auth)).json()["items"]
        assert paid and {p["status"] for p in paid} == {"paid"}, paid
        # Where payments passes the city's match on (payouts carry `match`), it is paid out too:
        # in the first payout, or in a further one when the city paid after the end's payout.
        match = 10_000 if "match" in paid[0] else 0
        assert sum(p.get("match", 0) for p in paid) == match
        fees, paid_out = sum(p["stripe_fees"] for p in paid), sum(p["amount"] for p in paid)
        assert fees > 0 and paid_out == 10_000 - fees + match and paid[0]["tips"] == 300
        async with httpx.AsyncClient(
            base_url=pledges.STRIPE, timeout=10, auth=("sk_test_civicfund_local", "")
        ) as stripe:
            for payout in paid:
                transfer = (await stripe.get(f"/v1/transfers/{payout['transfer_id']}")).json()
                assert transfer["amount"] == payout["amount"]
                assert transfer["destination"] == account["stripe_account_id"]

        # Its match: Montreuil's instant 1:1, due at the end, received by one of the two methods.
        dues = (
            await client.get(f"{P}/city-dues", params={"municipality": "montreuil"}, headers=claire.auth)
        ).json()
        (due,) = [d for d in dues["items"] if d["campaign_id"] == cid]
        assert (due["status"], due["amount"]) == ("received", 10_000), due
        assert due["method"] in ("invoice", "bank_transfer")
        matches = (await client.get(f"{P}/campaigns/{cid}/city-matches")).json()["items"]
        assert [(m["municipality"], m["status"], m["received"]) for m in matches] == [
            ("montreuil", "received", 10_000)
        ]
        ledger = (await client.get(f"{P}/campaigns/{cid}/ledger", headers=admin.auth)).json()
        assert ledger["totals"]["paid_out"] == paid_out and ledger["totals"]["payout_owed"] == 0
        assert ledger["totals"]["match_received"] == 10_000 and ledger["totals"]["match_owed_by_city"] == 0

        # The book boxes: 60 % paid, the 40 % tranche proved and waiting for the city.
        books = demo.ids["campaign.book_boxes"]
        first, second = (await client.get(f"{P}/campaigns/{books}/payouts", headers=amina.auth)).json()[
            "items"
        ]
        assert first["status"] == "paid" and second["status"] == "pending"
        released = 9_000 - first["stripe_fees"]  # the tips stay the platform's
        assert (first["amount"], second["amount"]) == (released * 60 // 100, released - released * 60 // 100)
        milestones = (await client.get(f"{P}/campaigns/{books}/milestones")).json()["items"]
        (milestone,) = [m for m in milestones if m["payout"]["id"] == second["id"]]
        assert milestone["status"] == "awaiting_city" and milestone["confirming_cities"] == ["montreuil"]
        assert milestone["title"] == "The three book boxes are installed"
        held = await client.post(
            f"{P}/payouts/{second['id']}/approve", headers={**admin.auth, "Idempotency-Key": "seed-test-held"}
        )
        assert held.status_code == 409 and held.json()["error"]["code"] == "milestone_pending"

        # Again: the same campaigns and payouts, nothing pledged, approved or declared twice.
        first_ids = dict(demo.ids)
        await payouts.run(demo)
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 1 and "not finished" not in lines[0], lines
        assert demo.ids == first_ids
        mine = (await client.get(f"{P}/me/payouts", headers=amina.auth)).json()["items"]
        assert sorted(p["id"] for p in mine if p["campaign_id"] in (cid, books)) == sorted(
            [*(p["id"] for p in paid), first["id"], second["id"]]
        )
        sofia = demo.people["sofia"]
        backed = (await client.get(f"{P}/me/pledges", headers=sofia.auth)).json()["items"]
        assert len([p for p in backed if p["campaign_id"] in (cid, books)]) == 2
        again = (
            await client.get(f"{P}/city-dues", params={"municipality": "montreuil"}, headers=claire.auth)
        ).json()
        assert [d for d in again["items"] if d["campaign_id"] == cid] == [due]
