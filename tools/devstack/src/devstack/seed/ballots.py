"""Montreuil's "Fête des quartiers 2027" voted with a participatory-budget ballot, to the end:
Claire sets the rule (approval, two proposals per ballot, ties to the earliest submission), the
residents build and check out their ballots (the same choices as the cities step's votes),
Yusuf enters two paper ballots from a polling station, and Claire closes the vote, so the
results are published (the call's results page; the counted ballots for anyone to recount).

Runs after the cities step (which opens that call's vote); everything goes through the gateway.
A re-run finds the vote closed and adds nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from civicfund_client import ApiError, EndorsementsBallotSetupIn

from .cities import VOTE_BALLOTS
from .context import Demo, Person, refusal_ok

SETUP: EndorsementsBallotSetupIn = {
    "rule": {"kind": "approval", "max_lines": 2},
    "tie_break": "earliest_submission",
    "headings": [{"key": "montreuil", "name": "Tous les quartiers de Montreuil", "budget": 800_000}],
}
STATION = "Mairie annexe du Bas-Montreuil"
PAPER = [("93100", ["Cinéma en plein air à la Boissière"]), ("93100", ["Bal de quartier au Bel-Air"])]


async def run(demo: Demo) -> None:
    claire, yusuf = demo.people["montreuil_manager"], demo.people["montreuil_reviewer"]
    call_id = demo.ids.get("call.fete_des_quartiers_2027")
    if not call_id:
        demo.notes.append("ballots: no 'Fête des quartiers 2027' call, no vote to finish")
        return
    call = await demo.api().endorsements_get_call(call_id)
    closes = datetime.fromisoformat(str(call["vote_closes_at"]))
    if call["status"] != "open" or closes <= datetime.now(UTC):
        return  # finished by an earlier run
    if not call.get("ballot"):
        await demo.api(claire).endorsements_set_ballot(call_id, body=SETUP)
    listed = await demo.api().endorsements_list_proposals(call_id)
    ids = {p["title"]: p["id"] for p in listed["items"]}
    chosen: dict[str, list[str]] = {}
    for key, title in VOTE_BALLOTS:
        if title in ids:
            chosen.setdefault(key, []).append(ids[title])
    for key, lines in chosen.items():
        await _ballot(demo, demo.people[key], call_id, lines)
    stats = await demo.api(yusuf).endorsements_vote_statistics(call_id)
    if stats["paper"] == 0:
        for postcode, titles in PAPER:
            await demo.api(yusuf).endorsements_enter_paper_ballot(
                call_id,
                body={
                    "station": STATION,
                    "postcode": postcode,
                    "lines": [ids[t] for t in titles if t in ids],
                },
            )
    # Closing the vote publishes the results (the window must close after it opened).
    opened = datetime.fromisoformat(str(call["vote_opens_at"]))
    now = max(datetime.now(UTC), opened + timedelta(seconds=1))
    if now > datetime.now(UTC):
        await asyncio.sleep((now - datetime.now(UTC)).total_seconds())
    await demo.api(claire).endorsements_reschedule_call(call_id, body={"vote_closes_at": now.isoformat()})
    results = await demo.api().endorsements_call_results(call_id)
    demo.ids["results.fete_des_quartiers_2027"] = results["digest"]


async def _ballot(
    demo: Demo, resident: Person, call_id: str, lines: list[str], timeout: float = 30.0
) -> None:
    """Lines then checkout; 403 not_resident until endorsements heard the resident's postcode
    (user.registered travels as an event); 409 on a line already there (a re-run)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for pid in lines:
        while True:
            answer = await refusal_ok(demo.api(resident).endorsements_add_ballot_line(call_id, pid), 403, 409)
            if not isinstance(answer, ApiError) or answer.code == "line_refused":
                break
            if loop.time() > deadline:
                raise RuntimeError(f"the ballot of {resident.email} was refused: {answer}")
            await asyncio.sleep(0.5)
    await demo.api(resident).endorsements_checkout_ballot(call_id)
