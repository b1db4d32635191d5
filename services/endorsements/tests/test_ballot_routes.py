"""The participatory-budget ballot over HTTP: the city sets the rule and headings, verified
residents build and check out ballots (changeable until close), an official enters a paper
ballot, the results and statistics are counted from the stored ballots and can be recounted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from endorsements.calls.ballots import Proposal as P
from endorsements.calls.ballots import heading_result, multiset_digest, tally


def _iso(dt: datetime) -> str:
    return dt.isoformat()


async def _call_with_proposals(svc) -> tuple[str, str, dict[str, str]]:
    slug = await svc.city(postcodes=("93100", "93101"))
    await svc.appoint(slug, "usr_claire", "manager")
    await svc.appoint(slug, "usr_yusuf", "reviewer")
    await svc.trial(slug)
    now = datetime.now(UTC)
    body = {
        "title": "Fête des quartiers", "budget": 1_000_000, "max_award": 400_000, "currency": "EUR",
        "submission_opens_at": _iso(now - timedelta(hours=1)), "submission_closes_at": _iso(now + timedelta(days=1)),
        "vote_opens_at": _iso(now + timedelta(days=1)), "vote_closes_at": _iso(now + timedelta(days=8)),
        "winners": 5, "selection_mode": "vote",
    }  # fmt: skip
    r = await svc.http.post(f"/municipalities/{slug}/calls", json=body, headers=svc.who("usr_claire"))
    assert r.status_code == 201, r.text
    call_id = r.json()["id"]
    ids = {}
    for who, title, amount, postcode in [
        ("usr_amina", "Bal du Bel-Air", 250_000, "93100"), ("usr_lucas", "Pique-nique", 180_000, "93100"),
        ("usr_sofia", "Cinéma", 300_000, "93100"), ("usr_sofia", "Jardin du 93101", 100_000, "93101"),
    ]:  # fmt: skip
        r = await svc.http.post(
            f"/calls/{call_id}/proposals", headers=svc.who(who),
            json={"title": title, "summary": f"{title}: pour le quartier", "requested_amount": amount,
                  "postcode": postcode},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        ids[title] = r.json()["id"]
    return slug, call_id, ids


async def _residents(svc, **people: str) -> None:
    for uid, postcode in people.items():
        data = {
            "user_id": uid,
            "email": f"{uid}@ex.org",
            "display_name": uid,
            "locale": "fr",
            "postcode": postcode,
        }
        await svc.publish("user.registered", uid, data, source="gateway")
    for uid in people:
        await svc.known("users", {"_id": uid})


async def test_proposing_needs_a_verified_email(svc) -> None:
    _, call_id, _ = await _call_with_proposals(svc)
    r = await svc.http.post(
        f"/calls/{call_id}/proposals", headers=svc.who("usr_new", email_verified=False),
        json={"title": "Unverified", "summary": "a proposal from an unverified account", "requested_amount": 1000,
              "postcode": "93100"},
    )  # fmt: skip
    assert r.status_code == 403 and r.json()["error"]["code"] == "email_not_verified"


async def test_ballot_from_setup_to_recountable_results(svc) -> None:
    _, call_id, ids = await _call_with_proposals(svc)
    claire = svc.who("usr_claire")
    setup: dict[str, Any] = {
        "rule": {"kind": "knapsack"},
        "tie_break": "lowest_amount",
        "headings": [
            {"key": "city", "name": "Toute la ville", "budget": 500_000},
            {
                "key": "d93101",
                "name": "Quartier 93101",
                "budget": 150_000,
                "postcodes": ["93101"],
                "priority": True,
            },
        ],
    }
    # Refused set-ups: 422 with the rule's message, nothing stored.
    for bad, words in [
        ({**setup, "rule": {"kind": "knapsack", "max_lines": 3}}, "knapsack"),
        ({**setup, "rule": {"kind": "threshold"}}, "min_percent"),
        ({**setup, "headings": [{"key": "a", "name": "All", "budget": 2_000_000}]}, "more than the call"),
        ({**setup, "tie_break": "draw"}, "seed"),
        ({**setup, "assign": [{"proposal_id": "prp_nope", "heading": "city"}]}, "not a proposal"),
    ]:
        r = await svc.http.put(f"/calls/{call_id}/ballot-setup", json=bad, headers=claire)
        assert r.status_code == 422 and r.json()["error"]["code"] == "bad_ballot_rule", r.text
        assert words in r.json()["error"]["message"]
    r = await svc.http.put(f"/calls/{call_id}/ballot-setup", json=setup, headers=svc.who("usr_yusuf"))
    assert r.status_code == 403  # reviewers do not run calls
    r = await svc.http.put(f"/calls/{call_id}/ballot-setup", json=setup, headers=claire)
    assert r.status_code == 200, r.text
    assert r.json()["ballot"]["tie_break"] == "lowest_amount"

    await _residents(svc, v1="93100", v2="93100", v3="93101", outsider="75011")

    def line(uid: str, pid: str, **kw: Any) -> Any:
        return svc.http.put(f"/calls/{call_id}/ballot/lines/{pid}", headers=svc.who(uid, **kw))

    r = await line("v1", ids["Cinéma"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "vote_not_open"

    now = datetime.now(UTC)
    r = await svc.http.post(f"/calls/{call_id}/schedule", headers=claire, json={
        "submission_closes_at": _iso(now), "vote_opens_at": _iso(now), "vote_closes_at": _iso(now + timedelta(days=7))})  # fmt: skip
    assert r.status_code == 200, r.text
    r = await svc.http.post(f"/proposals/{ids['Cinéma']}/votes", headers=svc.who("v1"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "use_ballot"

    r = await line("v9", ids["Cinéma"], email_verified=False)
    assert r.status_code == 403 and r.json()["error"]["code"] == "email_not_verified"
    r = await line("outsider", ids["Cinéma"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_resident"
    r = await line("v1", ids["Jardin du 93101"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_heading"

    # v1 builds a ballot: the running total; a line over the heading's budget is refused.
    r = await line("v1", ids["Cinéma"])
    assert r.status_code == 200, r.text
    city = r.json()["headings"][0]
    assert (city["total"], city["left"], r.json()["counted"]) == (300_000, 200_000, False)
    r = await line("v1", ids["Bal du Bel-Air"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "line_refused"
    assert "over the budget" in r.json()["error"]["message"]
    r = await line("v1", ids["Pique-nique"])
    assert r.status_code == 200 and r.json()["headings"][0]["total"] == 480_000
    r = await svc.http.post(f"/calls/{call_id}/ballot/checkout", headers=svc.who("v1"))
    assert r.status_code == 200 and r.json()["counted"] is True and r.json()["changed"] is False

    # Changeable until close: the new checkout replaces the counted one.
    r = await svc.http.delete(f"/calls/{call_id}/ballot/lines/{ids['Pique-nique']}", headers=svc.who("v1"))
    assert r.status_code == 200 and r.json()["changed"] is True and r.json()["counted"] is True
    r = await svc.http.post(f"/calls/{call_id}/ballot/checkout", headers=svc.who("v1"))
    assert r.status_code == 200 and r.json()["changed"] is False
    r = await svc.http.post(f"/calls/{call_id}/ballot/checkout", headers=svc.who("v2"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "checkout_refused"  # empty
    for pid in (ids["Bal du Bel-Air"], ids["Pique-nique"]):
        assert (await line("v2", pid)).status_code == 200
    assert (
        await svc.http.post(f"/calls/{call_id}/ballot/checkout", headers=svc.who("v2"))
    ).status_code == 200
    for pid in (ids["Jardin du 93101"], ids["Pique-nique"]):
        assert (await line("v3", pid)).status_code == 200
    assert (
        await svc.http.post(f"/calls/{call_id}/ballot/checkout", headers=svc.who("v3"))
    ).status_code == 200
    r = await svc.http.put(f"/calls/{call_id}/ballot-setup", json=setup, headers=claire)
    assert r.status_code == 409 and r.json()["error"]["code"] == "ballots_cast"

    # A paper ballot from a polling station, entered by the reviewer.
    paper = {"station": "Mairie annexe", "postcode": "93100", "lines": [ids["Cinéma"]]}
    r = await svc.http.post(f"/calls/{call_id}/paper-ballots", json=paper, headers=svc.who("v1"))
    assert r.status_code == 403
    bad = {**paper, "lines": [ids["Cinéma"], ids["Bal du Bel-Air"]]}
    r = await svc.http.post(f"/calls/{call_id}/paper-ballots", json=bad, headers=svc.who("usr_yusuf"))
    assert r.status_code == 422 and "budget" in r.json()["error"]["message"]
    r = await svc.http.post(f"/calls/{call_id}/paper-ballots", json=paper, headers=svc.who("usr_yusuf"))
    assert r.status_code == 201 and r.json()["entered_by"] == "usr_yusuf"

    r = await svc.http.get(f"/calls/{call_id}/statistics", headers=svc.who("usr_yusuf"))
    assert r.status_code == 200, r.text
    stats = r.json()
    assert (stats["online"], stats["paper"], stats["total"]) == (3, 1, 4)
    rows = {row["postcode"]: (row["online"], row["paper"]) for row in stats["by_neighbourhood"]}
    assert rows == {"93100": (2, 1), "93101": (1, 0)}
    assert (await svc.http.get(f"/calls/{call_id}/statistics", headers=svc.who("v1"))).status_code == 403

    assert (await svc.http.get(f"/calls/{call_id}/results")).status_code == 403  # while the vote runs
    assert (await svc.http.get(f"/calls/{call_id}/ballots")).status_code == 403
    now = datetime.now(UTC)
    r = await svc.http.post(f"/calls/{call_id}/schedule", headers=claire, json={"vote_closes_at": _iso(now)})
    assert r.status_code == 200, r.text
    assert (await line("v2", ids["Cinéma"])).json()["error"]["code"] == "vote_closed"

    first = (await svc.http.get(f"/calls/{call_id}/results")).json()
    assert first == (await svc.http.get(f"/calls/{call_id}/results")).json()
    assert (first["ballots"], first["online_ballots"], first["paper_ballots"]) == (4, 3, 1)
    by_key = {h["key"]: h for h in first["headings"]}
    city_votes = {o["title"]: (o["votes"], o["selected"]) for o in by_key["city"]["outcomes"]}
    # Cinéma 2 votes (v1, paper), Pique-nique 2 (v2, v3), Bal 1: the tie goes to the lower
    # amount (Pique-nique 180,000 first, then Cinéma 300,000: 480,000 <= 500,000; Bal no longer fits).
    assert city_votes == {"Pique-nique": (2, True), "Cinéma": (2, True), "Bal du Bel-Air": (1, False)}
    assert [o["title"] for o in by_key["city"]["outcomes"]] == ["Pique-nique", "Cinéma", "Bal du Bel-Air"]
    assert by_key["d93101"]["outcomes"][0]["selected"] is True and by_key["d93101"]["ballots"] == 1

    # Anyone recounts from the published ballots and gets the same winners and digest.
    page1 = (await svc.http.get(f"/calls/{call_id}/ballots", params={"limit": 3})).json()
    page2 = (await svc.http.get(f"/calls/{call_id}/ballots", params={"offset": 3, "limit": 3})).json()
    assert page1["next_offset"] == 3 and page2["next_offset"] is None
    published = page1["items"] + page2["items"]
    assert len(published) == 4 and {b["channel"] for b in published} == {"online", "paper"}
    assert not any(b["voter"] in ("v1", "v2", "v3") for b in published)  # pseudonyms
    assert (
        multiset_digest([(b["voter"], b["lines"]) for b in published]) == first["digest"] == page1["digest"]
    )
    proposals = {p["id"]: p for p in (await svc.http.get(f"/calls/{call_id}/proposals")).json()["items"]}
    city_ids = [ids[t] for t in ("Bal du Bel-Air", "Pique-nique", "Cinéma")]
    mine = heading_result(
        [P(pid, proposals[pid]["requested_amount"], proposals[pid]["submitted_at"]) for pid in city_ids],
        tally([[x for x in b["lines"] if x in city_ids] for b in published]), 500_000, "lowest_amount",
    )  # fmt: skip
    assert [(o.proposal_id, o.selected) for o in mine] == [
        (o["proposal_id"], o["selected"]) for o in by_key["city"]["outcomes"]
    ]

    # The winners come from these results.
    headers = {**claire, "Idempotency-Key": "select-ballot-1"}
    r = await svc.http.post(f"/calls/{call_id}/selection", json={}, headers=headers)
    assert r.status_code == 200, r.text
    winners = {w["proposal_id"] for w in r.json()["winners"]}
    assert winners == {ids["Pique-nique"], ids["Cinéma"], ids["Jardin du 93101"]}
    decided = (await svc.http.get(f"/calls/{call_id}/results")).json()
    assert decided["digest"] == first["digest"]


async def test_approval_and_threshold_rules_over_http(svc) -> None:
    _, call_id, ids = await _call_with_proposals(svc)
    claire = svc.who("usr_claire")
    now = datetime.now(UTC)
    await svc.http.post(f"/calls/{call_id}/schedule", headers=claire, json={
        "submission_closes_at": _iso(now), "vote_opens_at": _iso(now), "vote_closes_at": _iso(now + timedelta(days=7))})  # fmt: skip
    await _residents(svc, a1="93100")
    city = [{"key": "city", "name": "Ville", "budget": 1_000_000}]
    r = await svc.http.put(f"/calls/{call_id}/ballot-setup", headers=claire,
                           json={"rule": {"kind": "approval", "max_lines": 1}, "tie_break": "earliest_submission",
                                 "headings": city})  # fmt: skip
    assert r.status_code == 200, r.text
    line = lambda pid: svc.http.put(f"/calls/{call_id}/ballot/lines/{pid}", headers=svc.who("a1"))  # noqa: E731
    assert (await line(ids["Cinéma"])).status_code == 200
    r = await line(ids["Pique-nique"])
    assert r.status_code == 409 and "at most 1" in r.json()["error"]["message"]
    # Nobody checked out yet: the city may still change the rule.
    r = await svc.http.put(f"/calls/{call_id}/ballot-setup", headers=claire,
                           json={"rule": {"kind": "threshold", "min_percent": 50, "max_projects": 3},
                                 "tie_break": "earliest_submission", "headings": city})  # fmt: skip
    assert r.status_code == 200, r.text
    r = await svc.http.post(f"/calls/{call_id}/ballot/checkout", headers=svc.who("a1"))
    assert r.status_code == 409 and "at least 50 %" in r.json()["error"]["message"]
    ballot = (await svc.http.get(f"/calls/{call_id}/ballot", headers=svc.who("a1"))).json()
    assert "at least 50 %" in ballot["headings"][0]["refusal"]
    assert (await line(ids["Bal du Bel-Air"])).status_code == 200
    r = await svc.http.post(f"/calls/{call_id}/ballot/checkout", headers=svc.who("a1"))
    assert r.status_code == 200 and r.json()["counted"] is True
