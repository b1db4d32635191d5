"""Demo data, loaded through the public API (the gateway), never into a database.

`python -m devstack.seed --gateway http://127.0.0.1:8000 --var var` runs the steps in order;
each step module owns one part of the story and reads what earlier steps left in the
`Demo` context (tokens, ids). Steps are idempotent enough to re-run on a stack that already
has the data: they look things up before creating them.

The story: Montreuil (a subscribed city, with a manager and a reviewer) and its citizens;
Amina's street-workout park (keep-it-all), Lucas's repair café (all-or-nothing); pledges;
a label with land and match funding; a call for projects; a city webhook; a campaign whose
owner deleted their account, waiting for the admin; Amina's ended projects, paid out (last: the
step waits for campaigns and payments to close them).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from . import (
    accounts,
    ballots,
    campaigns,
    cities,
    moderation,
    notifications,
    owner_decisions,
    payouts,
    pledges,
    receipts,
    record,
    residency,
)
from .context import Demo

# Order matters: people first, then the city, then projects, labels, money, and who hears of it.
STEPS: list[tuple[str, Callable[[Demo], Awaitable[None]]]] = [
    ("accounts", accounts.run),
    ("cities", cities.run),
    ("ballots", ballots.run),  # the residents' ballots and the closed vote of 'Fête des quartiers 2027'
    ("campaigns", campaigns.run),
    ("labels", cities.label_run),  # the city labels projects once they exist, before the pledges it matches
    ("record", record.run),  # the park's planks counted toward its goal and its permit, granted
    ("pledges", pledges.run),
    ("notifications", notifications.run),
    ("moderation", moderation.run),  # a returned proposal, abuse reports (one decided)
    ("owner decisions", owner_decisions.run),  # a deleted owner's live campaign, for the admin
    ("tax receipts", receipts.run),  # Amina's association is eligible; Sofia's receipt
    ("residency", residency.run),  # Bagnolet asks for a census entry or a letter's code to vote
    ("payouts", payouts.run),  # Amina's ended projects paid out (one in tranches), Montreuil's match paid
]


async def seed(gateway: str, var: Path) -> Demo:
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        demo = Demo(client=client, var=var)
        for name, step in STEPS:
            print(f"  seeding {name} ...", flush=True)
            await step(demo)
        return demo


def main() -> None:
    parser = argparse.ArgumentParser(description="Load Civicfund demo data through the gateway")
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--var", default="var")
    args = parser.parse_args()
    demo = asyncio.run(seed(args.gateway, Path(args.var)))
    print(demo.summary())


if __name__ == "__main__":
    main()
