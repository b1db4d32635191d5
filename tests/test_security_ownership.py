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
    call: dict[str, Any] | None = None  # the city's call for residency claims, made once

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

    async def receiptable_pledge(self) -> dict[str, Any]:
        """The owner's paid pledge to an association's campaign (eligible for tax receipts),
        once payments' ledger holds the money (a receipt is issued for money kept)."""
        holder = self.other_owner
        await self.platform.call(
            "PUT", f"/api/v1/payments/holders/{holder.user_id}/tax-status", self.platform.admin,
            json={"eligible": True, "legal_name": "Association du Square", "registration": "W931234567",
                  "address": "3 rue des Lilas, 93100 Montreuil", "object": "Animer le square"},
        )  # fmt: skip
        campaign = await self.platform.live_campaign(holder, municipality=self.city, postcode="93100")
        pledge = await self.platform.pledge(self.people["owner"], campaign, 2_000)
        for _ in range(100):
            state = await self.platform.call("GET", f"{P}/{pledge['id']}/tax-receipt", self.people["owner"])
            if state["available"]:
                return pledge
            await asyncio.sleep(0.2)
        raise AssertionError(f"the pledge never became receiptable: {state}")

    async def residency_call(self) -> dict[str, Any]:
        """A call of the city voting now, whose residents prove residency by letter or census."""
        if self.call is None:
            now = datetime.now(UTC)
            E = "/api/v1/endorsements"
            manager = self.people["official"]
            self.call = await self.platform.call(
                "POST", f"{E}/municipalities/{self.city}/calls", manager, 201,
                json={"title": "Budget participatif", "budget": 500_000, "max_award": 100_000,
                      "currency": "EUR", "submission_opens_at": (now - timedelta(days=2)).isoformat(),
                      "submission_closes_at": (now - timedelta(days=1)).isoformat(),
                      "vote_opens_at": (now - timedelta(hours=1)).isoformat(),
                      "vote_closes_at": (now + timedelta(days=5)).isoformat(),
                      "selection_mode": "vote", "winners": 1},
            )  # fmt: skip
            await self.platform.call(
                "PUT",
                f"{E}/municipalities/{self.city}/residency",
                manager,
                json={"methods": ["census", "letter"]},
            )
        return self.call


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


async def _delivered(w: World) -> Request:
    campaign = await w.live()
    need = await w.need(campaign)
    offer = await w.offer(campaign, need)
    base = f"{C}/{campaign['id']}/needs/{need['id']}/offers/{offer['id']}"
    await w.platform.call("POST", f"{base}/decision", w.people["owner"], json={"decision": "accept"})
    return "POST", f"{base}/delivered", None


async def _tax_receipt(w: World) -> Request:
    body = {"name": "Owner Person", "address": "12 rue de Paris", "postcode": "93100", "city": "Montreuil"}
    return "POST", f"{P}/{(await w.receiptable_pledge())['id']}/tax-receipt", body


async def _onboarding(w: World) -> Request:
    return "POST", "/api/v1/payments/payouts/account/onboarding", {}


async def _letter_claim(w: World) -> Request:
    """A fresh letter's code for each caller: one code verifies one account."""
    call = await w.residency_call()
    batch = await w.platform.call(
        "POST", f"/api/v1/endorsements/municipalities/{w.city}/residency/letters", w.people["official"], 201,
        json={"call_id": call["id"], "addresses": [{"line1": "1 rue de la Paix", "postcode": "93100"}]},
    )  # fmt: skip
    return (
        "POST",
        f"/api/v1/endorsements/calls/{call['id']}/residency/letter",
        {"code": batch["letters"][0]["code"]},
    )


async def _census_claim(w: World) -> Request:
    """A census whose one row is the caller's (an upload replaces the city's census)."""
    call = await w.residency_call()
    number = f"ID{uuid.uuid4().hex[:10]}"
    async with w.platform.client() as client:
        uploaded = await client.put(
            f"/api/v1/endorsements/municipalities/{w.city}/residency/census",
            content=f"document_number,birth_date,postcode\n{number},1980-04-02,93100\n",
            headers={**w.people["official"].headers, "Content-Type": "text/csv"},
        )
    assert uploaded.status_code == 200, uploaded.text
    body = {"document_number": number, "birth_date": "1980-04-02", "postcode": "93100"}
    return "POST", f"/api/v1/endorsements/calls/{call['id']}/residency/census", body


OWNER = frozenset({"owner"})
SIGNED_IN = frozenset({"citizen", "owner", "official", "admin"})
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
    ("confirm in-kind delivered", OWNER, _delivered, False),
    # The backer's receipt, in the donor's name: not even an admin issues it for them.
    ("issue tax receipt", OWNER, _tax_receipt, False),
    # One's own payout account (the project's holder onboards themself).
    ("start payout onboarding", SIGNED_IN, _onboarding, False),
    # Residency is proved by each person for themself, for a call of the city.
    ("prove residency by letter", SIGNED_IN, _letter_claim, True),
    ("prove residency by census", SIGNED_IN, _census_claim, True),
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
