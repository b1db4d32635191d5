"""A participatory-budget vote on the running platform, through the gateway only: a city sets
the ballot rule and headings, a verified resident builds and checks out a ballot, an unverified
one is told to verify, an official enters a paper ballot; after the close the results are public
and anyone recounts them from the published ballots (same winners, same digest)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from endorsements.calls.ballots import Proposal, heading_result, multiset_digest, tally

E = "/api/v1/endorsements"


async def _resident(platform, account, postcode: str) -> None:
    """The account's profile postcode, then wait until endorsements heard it (user.updated)."""
    await platform.call("PATCH", "/api/v1/auth/me", account, json={"postcode": postcode})


async def _until(fn: Any, timeout: float = 30.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        answer = await fn()
        if answer.status_code != 403 or answer.json()["error"]["code"] != "not_resident":
            return answer
        assert loop.time() < deadline, answer.text
        await asyncio.sleep(0.3)


async def test_a_vote_through_the_gateway_with_verified_and_unverified_residents(
    platform, make_account
) -> None:
    manager = await make_account()
    slug = await platform.city(manager, postcode="93100")
    now = datetime.now(UTC)
    call = await platform.call("POST", f"{E}/municipalities/{slug}/calls", manager, 201, json={
        "title": "Fête des quartiers", "budget": 600_000, "max_award": 400_000, "currency": "EUR",
        "submission_opens_at": (now - timedelta(hours=1)).isoformat(),
        "submission_closes_at": (now + timedelta(days=1)).isoformat(),
        "vote_opens_at": (now + timedelta(days=1)).isoformat(),
        "vote_closes_at": (now + timedelta(days=8)).isoformat(), "selection_mode": "vote",
    })  # fmt: skip
    cid = call["id"]
    proposer, unverified = await make_account(), await make_account(verified=False)
    body = {"title": "Bal du Bel-Air", "summary": "Un bal en plein air pour le quartier", "requested_amount": 250_000,
            "postcode": "93100"}  # fmt: skip
    r = await platform.call("POST", f"{E}/calls/{cid}/proposals", unverified, 403, json=body)
    assert r["error"]["code"] == "email_not_verified"
    ids = {}
    for title, amount in (("Bal du Bel-Air", 250_000), ("Pique-nique", 180_000), ("Cinéma", 300_000)):
        created = await platform.call(
            "POST",
            f"{E}/calls/{cid}/proposals",
            proposer,
            201,
            json={**body, "title": title, "requested_amount": amount},
        )
        ids[title] = created["id"]
    setup = {"rule": {"kind": "knapsack"}, "tie_break": "earliest_submission",
             "headings": [{"key": "city", "name": "Toute la ville", "budget": 500_000}]}  # fmt: skip
    bad = {**setup, "rule": {"kind": "approval"}}
    r = await platform.call("PUT", f"{E}/calls/{cid}/ballot-setup", manager, 422, json=bad)
    assert r["error"]["code"] == "bad_ballot_rule" and "max_lines" in r["error"]["message"]
    await platform.call("PUT", f"{E}/calls/{cid}/ballot-setup", manager, json=setup)
    now = datetime.now(UTC)
    await platform.call("POST", f"{E}/calls/{cid}/schedule", manager, json={
        "submission_closes_at": now.isoformat(), "vote_opens_at": now.isoformat(),
        "vote_closes_at": (now + timedelta(days=7)).isoformat()})  # fmt: skip

    voters = [await make_account() for _ in range(3)]
    for who in [*voters, unverified]:
        await _resident(platform, who, "93100")
    r = await platform.call("PUT", f"{E}/calls/{cid}/ballot/lines/{ids['Cinéma']}", unverified, 403)
    assert r["error"]["code"] == "email_not_verified"

    async with platform.client() as client:

        async def put(who: Any, title: str) -> Any:
            return await _until(
                lambda: client.put(f"{E}/calls/{cid}/ballot/lines/{ids[title]}", headers=who.headers)
            )

        choices = [("Cinéma", "Pique-nique"), ("Bal du Bel-Air", "Pique-nique"), ("Cinéma",)]
        for who, titles in zip(voters, choices, strict=True):
            for title in titles:
                r = await put(who, title)
                assert r.status_code == 200, r.text
            r = await client.post(f"{E}/calls/{cid}/ballot/checkout", headers=who.headers)
            assert r.status_code == 200 and r.json()["counted"] is True, r.text
        r = await put(voters[2], "Bal du Bel-Air")
        assert r.status_code == 409 and r.json()["error"]["code"] == "line_refused"  # 550,000 > 500,000
        assert r.json()["error"]["message"].startswith("it would take the ballot over the budget")
        ballot = (await client.get(f"{E}/calls/{cid}/ballot", headers=voters[0].headers)).json()
        assert ballot["headings"][0]["total"] == 480_000 and ballot["headings"][0]["left"] == 20_000

    await platform.call("POST", f"{E}/calls/{cid}/paper-ballots", manager, 201,
                        json={"station": "Mairie", "postcode": "93100", "lines": [ids["Cinéma"]]})  # fmt: skip
    stats = await platform.call("GET", f"{E}/calls/{cid}/statistics", manager)
    assert (stats["online"], stats["paper"]) == (3, 1)
    assert stats["by_neighbourhood"] == [{"postcode": "93100", "online": 3, "paper": 1, "total": 4}]
    await platform.call("GET", f"{E}/calls/{cid}/results", None, 403)  # not public while it runs

    await platform.call("POST", f"{E}/calls/{cid}/schedule", manager,
                        json={"vote_closes_at": datetime.now(UTC).isoformat()})  # fmt: skip
    results = await platform.call("GET", f"{E}/calls/{cid}/results", None)
    assert results == await platform.call("GET", f"{E}/calls/{cid}/results", None)
    assert (results["online_ballots"], results["paper_ballots"]) == (3, 1)
    outcomes = {o["title"]: (o["votes"], o["selected"]) for o in results["headings"][0]["outcomes"]}
    # Cinéma 3 (two online, one paper), Pique-nique 2, Bal 1: 300,000 + 180,000 fit in
    # 500,000, Bal's 250,000 no longer does.
    assert outcomes == {"Cinéma": (3, True), "Pique-nique": (2, True), "Bal du Bel-Air": (1, False)}
    published = await platform.call("GET", f"{E}/calls/{cid}/ballots", None)
    assert published["total"] == 4 and published["digest"] == results["digest"]
    assert multiset_digest([(b["voter"], b["lines"]) for b in published["items"]]) == results["digest"]
    listed = {p["id"]: p for p in (await platform.call("GET", f"{E}/calls/{cid}/proposals", None))["items"]}
    recount = heading_result(
        [Proposal(pid, p["requested_amount"], p["submitted_at"]) for pid, p in listed.items()],
        tally(b["lines"] for b in published["items"]), 500_000, "earliest_submission",
    )  # fmt: skip
    assert sorted(o.proposal_id for o in recount if o.selected) == sorted(
        o["proposal_id"] for o in results["headings"][0]["outcomes"] if o["selected"]
    )
