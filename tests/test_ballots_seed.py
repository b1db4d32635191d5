"""The ballots seed step on the running platform: 'Fête des quartiers 2027' gets its ballot rule,
the residents' ballots and two paper ballots, and a closed vote whose results are public and
recountable from the published ballots; a second run adds nothing."""

from __future__ import annotations

import httpx

from devstack.running import RunningStack
from devstack.seed import accounts, ballots, cities
from devstack.seed.context import Demo
from endorsements.calls.ballots import multiset_digest

E = "/api/v1/endorsements"


async def test_seed_finishes_the_vote_of_the_fete_des_quartiers(
    gateway_url: str, stack: RunningStack
) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        demo = Demo(client=client, var=stack.stack.var)
        await accounts.run(demo)
        await cities.run(demo)
        await ballots.run(demo)
        first = dict(demo.ids)
        await cities.run(demo)
        await ballots.run(demo)
        assert demo.ids == first

        call_id = first["call.fete_des_quartiers_2027"]
        call = (await client.get(f"{E}/calls/{call_id}")).json()
        assert call["ballot"]["rule"] == {"kind": "approval", "max_lines": 2}
        results = (await client.get(f"{E}/calls/{call_id}/results")).json()  # public: the vote closed
        assert results["final"] is True and results["digest"] == first["results.fete_des_quartiers_2027"]
        assert (results["online_ballots"], results["paper_ballots"]) == (3, 2)
        outcomes = {o["title"]: (o["votes"], o["selected"]) for o in results["headings"][0]["outcomes"]}
        # Cinéma: Amina, Lucas, Sofia and a paper ballot; Bal: Amina and a paper ballot; Tables: Sofia.
        assert outcomes == {
            "Cinéma en plein air à la Boissière": (4, True),
            "Bal de quartier au Bel-Air": (2, True),
            "Tables de pique-nique au parc Montreau": (1, True),
        }
        published = (await client.get(f"{E}/calls/{call_id}/ballots")).json()
        assert published["total"] == 5
        assert multiset_digest([(b["voter"], b["lines"]) for b in published["items"]]) == results["digest"]
