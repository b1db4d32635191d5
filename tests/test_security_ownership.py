"""Object-level authorisation as a table, on the running platform through the gateway: every
mutating citizen route (campaigns, needs and offers, updates, meetups, follows, pledges) is called
on someone's object by each role (anonymous, another citizen, the owner, an official of the
campaign's city, an admin); exactly the roles of the table pass, the others are refused (401
anonymous; 403, or 404 where the object is not theirs to see) and change nothing.

City-role and admin-route authorisation is tests/test_authorization_matrix.py's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

C = "/api/v1/campaigns/campaigns"
P = "/api/v1/payments/pledges"
ROLES = ("anonymous", "citizen", "owner", "official", "admin")


@dataclass
class World:
    platform: Any
    people: dict[str, Any]  # role -> Account (no anonymous)
    city: str
    helper: Any  # offers help (an offer's author is not one of the roles)
    other_owner: Any  # owns the campaign the owner pledges to

    async def live(self) -> dict[str, Any]:
        return await self.platform.live_campaign(
            self.people["owner"], municipality=self.city, postcode="93100"
        )

    async def draft(self) -> dict[str, Any]:
        return await self.platform.call(
            "POST",
            C,
            self.people["owner"],
            201,
            json={"title": "A draft", "municipality": self.city, "goal": 10_000},
        )

    async def need(self, campaign: dict[str, Any]) -> dict[str, Any]:
        return await self.platform.call(
            "POST", f"{C}/{campaign['id']}/needs", self.people["owner"], 201,
            json={"title": "Volunteers", "kind": "volunteers", "quantity": 50},
        )  # fmt: skip

    async def offer(self, campaign: dict[str, Any], need: dict[str, Any]) -> dict[str, Any]:
        return await self.platform.call(
            "POST", f"{C}/{campaign['id']}/needs/{need['id']}/offers", self.helper, 201,
            json={"quantity": 1, "contact": {"channel": "email", "value": "helper@example.org"}},
        )  # fmt: skip

    async def pending_pledge(self) -> dict[str, Any]:
        """The owner's pledge (card not saved yet) to another person's live campaign."""
        campaign = await self.platform.live_campaign(
            self.other_owner, municipality=self.city, postcode="93100"
        )
        for _ in range(100):
            async with self.platform.client() as client:
                made = await client.post(
                    P,
                    json={"campaign_id": campaign["id"], "amount": 1_000, "currency": "EUR"},
                    headers={**self.people["owner"].headers, "Idempotency-Key": uuid.uuid4().hex},
                )
            if made.status_code == 201:
                return made.json()
            assert made.json()["error"]["code"] == "campaign_not_found", made.text
            await asyncio.sleep(0.2)
        raise AssertionError("payments never heard of the campaign")


Request = tuple[str, str, dict[str, Any] | None]
# (name, who passes, prepares a fresh object and returns the request, fresh object per call?)
Case = tuple[str, frozenset[str], Callable[[World], Awaitable[Request]], bool]


def _starts() -> str:
    return (datetime.now(UTC) + timedelta(days=3)).isoformat()


async def _edit(w: World) -> Request:
    return "PATCH", f"{C}/{(await w.live())['id']}", {"summary": "New words"}


async def _submit(w: World) -> Request:
    return "POST", f"{C}/{(await w.draft())['id']}/submit", None


async def _cancel(w: World) -> Request:
    return "POST", f"{C}/{(await w.live())['id']}/cancel", {"reason": "Stopping it"}


async def _add_need(w: World) -> Request:
    return "POST", f"{C}/{(await w.live())['id']}/needs", {"title": "Tools", "kind": "goods", "quantity": 3}


async def _edit_need(w: World) -> Request:
    campaign = await w.live()
    return "PATCH", f"{C}/{campaign['id']}/needs/{(await w.need(campaign))['id']}", {"quantity": 40}


async def _decide_offer(w: World) -> Request:
    campaign = await w.live()
    need = await w.need(campaign)
    offer = await w.offer(campaign, need)
    return (
        "POST",
        f"{C}/{campaign['id']}/needs/{need['id']}/offers/{offer['id']}/decision",
        {"decision": "accept"},
    )


async def _post_update(w: World) -> Request:
    return "POST", f"{C}/{(await w.live())['id']}/updates", {"title": "News", "body": "The bars arrived."}


async def _schedule_meetup(w: World) -> Request:
    body = {"title": "Build day", "place": "Square", "starts_at": _starts(), "capacity": 10}
    return "POST", f"{C}/{(await w.live())['id']}/meetups", body


async def _follow(w: World) -> Request:
    return "PUT", f"{C}/{(await w.live())['id']}/follow", None


async def _confirm_pledge(w: World) -> Request:
    return "POST", f"{P}/{(await w.pending_pledge())['id']}/confirm", None


async def _retry_pledge(w: World) -> Request:
    return "POST", f"{P}/{(await w.pending_pledge())['id']}/retry", None


OWNER = frozenset({"owner"})
CASES: list[Case] = [
    ("edit campaign", OWNER, _edit, False),
    ("submit draft", OWNER, _submit, True),
    ("cancel campaign", frozenset({"owner", "admin"}), _cancel, True),
    ("add need", OWNER, _add_need, False),
    ("edit need", OWNER, _edit_need, False),
    ("decide offer", OWNER, _decide_offer, True),
    ("post update", OWNER, _post_update, False),
    ("schedule meetup", OWNER, _schedule_meetup, False),
    # One's own follow of anyone's campaign: any signed-in person.
    ("follow", frozenset({"citizen", "owner", "official", "admin"}), _follow, False),
    # The backer's pledge: admins read and re-check it for support, only the backer retries.
    ("confirm pledge", frozenset({"owner", "admin"}), _confirm_pledge, True),
    ("retry pledge", OWNER, _retry_pledge, True),
]


@pytest.fixture(scope="module")
async def world(platform, make_account) -> World:
    people = {role: await make_account(verified=False) for role in ("citizen", "owner", "official")}
    city = await platform.city(people["official"])
    people["admin"] = platform.admin
    return World(
        platform, people, city, await make_account(verified=False), await make_account(verified=False)
    )


@pytest.mark.parametrize("name,passing,prepare,fresh", CASES, ids=[c[0] for c in CASES])
async def test_only_the_right_roles_pass(
    world: World, name: str, passing: frozenset[str], prepare, fresh: bool
) -> None:
    shared = None if fresh else await prepare(world)
    # Refusals first: a refused call must leave the object as it was for the roles that pass.
    order = [r for r in ROLES if r not in passing] + [r for r in ROLES if r in passing]
    outcomes: dict[str, int] = {}
    for role in order:
        method, path, body = shared if shared is not None else await prepare(world)
        # Money routes need an Idempotency-Key; the others ignore it.
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        headers.update(world.people[role].headers if role != "anonymous" else {})
        async with world.platform.client() as client:
            answer = await client.request(method, path, json=body, headers=headers)
        outcomes[role] = answer.status_code
    wrong = {role: status for role, status in outcomes.items() if not _as_expected(role, status, passing)}
    assert not wrong, f"{name}: {wrong} (all: {outcomes}; passing: {sorted(passing)})"


def _as_expected(role: str, status: int, passing: frozenset[str]) -> bool:
    if role in passing:
        return 200 <= status < 300
    return status == 401 if role == "anonymous" else status in (403, 404)
