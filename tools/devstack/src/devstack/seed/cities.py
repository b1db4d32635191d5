"""Montreuil, its officials, its participatory-budget pool, its call for projects and a second
call whose residents' vote is open with proposals and votes (run), and the city's label on Amina's street-workout park (label_run, scheduled after the campaigns step).

Everything goes through the gateway at /api/v1/endorsements/...; re-running finds what exists.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from civicfund_client import ApiError, EndorsementsLabelOut

from .context import Demo, Person, refusal_ok

E = "/api/v1/endorsements"  # for steps still calling `demo.call` by path
SLUG = "montreuil"
POOL = "Budget participatif 2027"
CALL_TITLE = "Budget participatif 2027: des places pour tous"
VOTE_CALL_TITLE = "Fête des quartiers 2027"
# Proposals of the voting call (proposer, title, summary, amount asked in cents) and the
# residents' ballots (voter, proposal title).
VOTE_PROPOSALS = [
    ("amina", "Bal de quartier au Bel-Air", "Un bal en plein air sur la place du Bel-Air, avec une scène "
     "ouverte aux musiciens du quartier.", 250_000),
    ("lucas", "Tables de pique-nique au parc Montreau", "Six tables de pique-nique et un point d'eau pour les "
     "repas partagés du dimanche.", 180_000),
    ("sofia", "Cinéma en plein air à la Boissière", "Trois projections gratuites l'été, avec les films choisis "
     "par les habitants.", 300_000),
]  # fmt: skip
VOTE_BALLOTS = [
    ("amina", "Cinéma en plein air à la Boissière"), ("amina", "Bal de quartier au Bel-Air"),
    ("lucas", "Cinéma en plein air à la Boissière"), ("sofia", "Tables de pique-nique au parc Montreau"),
    ("sofia", "Cinéma en plein air à la Boissière"),
]  # fmt: skip
# A rough outline of Montreuil (lon, lat): campaigns located inside it without a postcode
# still reach the city's review queue.
MONTREUIL_OUTLINE = {
    "type": "Polygon",
    "coordinates": [
        [[2.4170, 48.8530], [2.4700, 48.8480], [2.4880, 48.8610], [2.4760, 48.8760],
         [2.4420, 48.8790], [2.4180, 48.8670], [2.4170, 48.8530]]
    ],
}  # fmt: skip


async def _official(demo: Demo, admin: Person, person: Person, role: str) -> None:
    await demo.api(admin).endorsements_appoint_official(
        user_id=person.user_id, slug=SLUG, body={"role": role, "email": person.email}
    )


async def _refresh_roles(demo: Demo, *people: Person) -> None:
    relogin = getattr(demo, "relogin", None)
    if relogin is None:
        return
    for person in people:
        await relogin(person)


async def run(demo: Demo) -> None:
    admin = demo.people["admin"]
    claire = demo.people["montreuil_manager"]
    yusuf = demo.people["montreuil_reviewer"]
    found = await refusal_ok(demo.api().endorsements_get_municipality(SLUG), 404)
    if isinstance(found, ApiError):
        found = await demo.api(admin).endorsements_register_municipality(
            body={
                "name": "Montreuil",
                "slug": SLUG,
                "official_code": "93048",
                "country": "FR",
                "postcodes": ["93100"],
                "territory": MONTREUIL_OUTLINE,
                "page_text": "Montreuil soutient les projets citoyens de ses quartiers: terrains, salles, "
                "matériel et cofinancement du budget participatif.",
            },
        )
    demo.ids["municipality.montreuil"] = found["id"]
    await _official(demo, admin, claire, "manager")
    await _official(demo, admin, yusuf, "reviewer")
    # A trial lets the city label at once; the payments step adds the real subscription.
    await demo.api(admin).endorsements_grant_trial(SLUG, body={"days": 90})
    await _refresh_roles(demo, claire, yusuf)
    demo.ids["pool.budget_participatif_2027"] = await _pool(demo, claire)
    demo.ids["pool.residents_gifts"] = await _gifts_pool(demo, claire)
    demo.ids["call.budget_participatif_2027"] = await _call(demo, claire)
    demo.ids["call.fete_des_quartiers_2027"] = await _vote_call(demo, claire)


async def _pool(demo: Demo, claire: Person) -> str:
    pools = await demo.api(claire).endorsements_list_pools(SLUG)
    for pool in pools["items"]:
        if pool["name"] == POOL and pool["year"] == 2027:
            return pool["id"]
    created = await demo.api(claire).endorsements_create_pool(
        SLUG,
        body={"name": POOL, "year": 2027, "budget": 5_000_000, "currency": "EUR"},
        idempotency_key="seed-montreuil-pool-bp-2027",
    )
    return created["id"]


async def _gifts_pool(demo: Demo, claire: Person) -> str:
    """This year's pool taking residents' gifts: backers of Montreuil's all-or-nothing projects
    are offered to give their pledge to it if the project fails (README, "If a campaign fails")."""
    year = datetime.now(UTC).year
    name = f"Fonds des quartiers {year}"
    pools = await demo.api(claire).endorsements_list_pools(SLUG)
    found = next((p["id"] for p in pools["items"] if p["name"] == name and p["year"] == year), None)
    if found is None:
        created = await demo.api(claire).endorsements_create_pool(
            SLUG,
            body={"name": name, "year": year, "budget": 1_000_000, "currency": "EUR"},
            idempotency_key=f"seed-montreuil-pool-quartiers-{year}",
        )
        found = created["id"]
    await demo.api(claire).endorsements_change_pool(found, SLUG, body={"accepts_gifts": True})
    return found


async def _call(demo: Demo, claire: Person) -> str:
    calls = await demo.api().endorsements_list_calls(SLUG)
    for call in calls["items"]:
        if call["title"] == CALL_TITLE:
            return call["id"]
    now = datetime.now(UTC).replace(microsecond=0)
    created = await demo.api(claire).endorsements_open_call(
        SLUG,
        body={
            "title": CALL_TITLE,
            "theme": "espaces publics",
            "description": "Des projets qui rendent les places, parcs et rues de Montreuil accessibles à "
            "toutes et tous. Les projets retenus par le jury sont soumis au vote des habitants.",
            "eligibility": {"categories": [], "territory_only": True},
            "budget": 20_000_000,
            "max_award": 3_000_000,
            "currency": "EUR",
            "submission_opens_at": (now - timedelta(days=1)).isoformat(),
            "submission_closes_at": (now + timedelta(days=60)).isoformat(),
            "vote_opens_at": (now + timedelta(days=67)).isoformat(),
            "vote_closes_at": (now + timedelta(days=81)).isoformat(),
            "winners": 8,
            "selection_mode": "jury_then_vote",
            "votes_per_resident": 3,
        },
    )
    return created["id"]


async def _vote_call(demo: Demo, claire: Person) -> str:
    """A call decided by the residents' vote, with its vote open: residents propose while
    submissions are open, then Claire closes them and opens the vote, and residents vote."""
    calls = await demo.api().endorsements_list_calls(SLUG)
    call = next((c for c in calls["items"] if c["title"] == VOTE_CALL_TITLE), None)
    now = datetime.now(UTC).replace(microsecond=0)
    if call is None:
        call = await demo.api(claire).endorsements_open_call(
            SLUG,
            body={
                "title": VOTE_CALL_TITLE,
                "theme": "fêtes et rencontres",
                "description": "Des fêtes et des rencontres dans chaque quartier, choisies par les habitants.",
                "budget": 800_000,
                "max_award": 300_000,
                "currency": "EUR",
                "submission_opens_at": (now - timedelta(days=1)).isoformat(),
                "submission_closes_at": (now + timedelta(days=14)).isoformat(),
                "vote_opens_at": (now + timedelta(days=15)).isoformat(),
                "vote_closes_at": (now + timedelta(days=30)).isoformat(),
                "winners": 2,
                "selection_mode": "vote",
                "votes_per_resident": 2,
            },
        )
    call_id = str(call["id"])
    listed = await demo.api().endorsements_list_proposals(call_id)
    ids = {p["title"]: p["id"] for p in listed["items"]}
    opens = datetime.fromisoformat(str(call["vote_opens_at"]))
    if opens > now:  # submissions still open: the proposals come in, then the vote opens
        for key, title, summary, amount in VOTE_PROPOSALS:
            if title not in ids:
                created = await demo.api(demo.people[key]).endorsements_submit_proposal(
                    call_id,
                    body={"title": title, "summary": summary, "category": "culture", "requested_amount": amount,
                          "goal": amount * 2, "postcode": "93100"},
                )  # fmt: skip
                ids[title] = created["id"]
        await demo.api(claire).endorsements_reschedule_call(
            call_id,
            body={"submission_closes_at": now.isoformat(), "vote_opens_at": now.isoformat(),
                  "vote_closes_at": (now + timedelta(days=21)).isoformat()},
        )  # fmt: skip
    if call.get("ballot"):  # the ballots step took the vote over (seed/ballots.py): no more single votes
        return call_id
    for key, title in VOTE_BALLOTS:
        if title in ids:
            await _vote(demo, demo.people[key], ids[title])
    return call_id


async def _vote(demo: Demo, resident: Person, proposal_id: str, timeout: float = 30.0) -> None:
    """409 on a re-run (already voted); 403 until endorsements heard the resident's postcode
    from the gateway's `user.registered`, which travels as an event."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        answer = await refusal_ok(demo.api(resident).endorsements_cast_vote(proposal_id), 403, 409)
        if not isinstance(answer, ApiError) or answer.code == "already_voted":
            return
        if loop.time() > deadline:
            raise RuntimeError(f"the vote of {resident.email} was refused: {answer}")
        await asyncio.sleep(0.5)


async def _street_workout(demo: Demo) -> str | None:
    cid = demo.ids.get("campaign.street_workout")
    if cid:
        return cid
    listing = await demo.api().campaigns_list_campaigns(municipality=SLUG)
    amina = demo.people["amina"]
    for campaign in listing["items"]:
        if campaign["owner_id"] == amina.user_id and "workout" in campaign["title"].lower():
            return campaign["id"]
    return None


async def _request_label(
    demo: Demo, amina: Person, cid: str, timeout: float = 30.0
) -> EndorsementsLabelOut | None:
    """Amina asks for the label, once endorsements has heard of her campaign (events are async)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await demo.api(amina).endorsements_request_label(body={"campaign_id": cid})
        except ApiError as refused:
            if refused.code == "label_exists":
                return None
            if refused.code != "campaign_not_found" or loop.time() > deadline:
                raise RuntimeError(f"label request failed: {refused}") from refused
        await asyncio.sleep(0.5)


async def label_run(demo: Demo) -> None:
    """Montreuil labels Amina's street-workout park: a plot of land and an instant 1:1 match up
    to 3,000 EUR from the participatory-budget pool."""
    claire = demo.people["montreuil_manager"]
    yusuf = demo.people["montreuil_reviewer"]
    amina = demo.people["amina"]
    cid = await _street_workout(demo)
    if cid is None:
        demo.notes.append("cities.label_run: no street-workout campaign found, nothing labelled")
        return
    existing = await demo.api().endorsements_campaign_labels(cid)
    if existing["labels"]:
        demo.ids["label.street_workout"] = existing["labels"][0]["id"]
        return
    label = await _request_label(demo, amina, cid)
    if label is None:
        queue = await demo.api(yusuf).endorsements_review_queue(SLUG)
        label = next(i["label"] for i in queue["items"] if i["campaign"]["id"] == cid and i["label"])
    if label["status"] == "requested":
        label = await demo.api(yusuf).endorsements_start_review(label["id"])
    pool_id = demo.ids.get("pool.budget_participatif_2027") or await _pool(demo, claire)
    granted = await demo.api(claire).endorsements_grant_label(
        label["id"],
        body={
            "note": "Un équipement sportif gratuit et ouvert à toutes et tous à Bel-Air.",
            "support": [
                {
                    "kind": "land",
                    "description": "Terrain municipal de 400 m² au parc des Guilands, mis à disposition",
                    "address": "Parc des Guilands, rue Lenain de Tillemont, 93100 Montreuil",
                    "starts_on": "2027-03-01",
                    "ends_on": "2032-02-29",
                    "value": 1_200_000,
                    "currency": "EUR",
                },
                {"kind": "permits", "description": "Instruction accélérée de l'autorisation de travaux"},
            ],
            "match": {"pool_id": pool_id, "condition": "instant", "ratio": 1, "cap_per_project": 300_000},
        },
        idempotency_key=f"seed-label-{cid}",
    )
    demo.ids["label.street_workout"] = granted["id"]
    if granted["commitment_ids"]:
        demo.ids["commitment.street_workout"] = granted["commitment_ids"][0]
