"""What the seed steps share: the HTTP client (to the gateway), people, and created ids.

Steps call the gateway through the typed client generated from the API document
(`demo.api(person)`: one method per operation, refusals raise `civicfund_client.ApiError`);
`refusal_ok` turns an expected refusal (409 on a re-run) into a value.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from civicfund_client import ApiError as Refused
from civicfund_client import CivicfundClient, GatewayTokensOut
from servicekit.errors import ApiError

T = TypeVar("T")


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (the seed only reads what the gateway put in its token)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


async def refusal_ok(call: Awaitable[T], *statuses: int) -> T | Refused:
    """The answer, or the refusal itself when its status is one of `statuses` (what a re-run
    meets: the account exists, the vote was cast); any other refusal propagates."""
    try:
        return await call
    except Refused as refused:
        if refused.status in statuses:
            return refused
        raise


@dataclass
class Person:
    key: str  # "amina", "montreuil_manager", ...
    email: str
    display_name: str
    password: str
    locale: str = "fr"
    postcode: str = "93100"
    user_id: str = ""
    token: str = ""
    refresh_token: str = ""
    # Municipal roles this person should have once endorsements' official.appointed events are
    # consumed ({slug: "manager" | "reviewer"}); `Demo.relogin` waits for them to show in the token.
    municipalities: dict[str, str] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Demo:
    client: httpx.AsyncClient
    var: Path
    people: dict[str, Person] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # "campaign.street_workout" -> id
    notes: list[str] = field(default_factory=list)

    def api(self, who: Person | None = None) -> CivicfundClient:
        """The typed client as `who` (anonymous without), on the shared connection."""
        return CivicfundClient(str(self.client.base_url), who.token if who else None, client=self.client)

    async def call(
        self,
        method: str,
        path: str,
        who: Person | None = None,
        expect: tuple[int, ...] = (200, 201),
        **kwargs: Any,
    ) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if who is not None:
            headers.update(who.auth)
        response = await self.client.request(method, path, headers=headers, **kwargs)
        if response.status_code not in expect:
            raise ApiError(
                response.status_code,
                "seed_failed",
                f"{method} {path} -> {response.status_code}: {response.text[:500]}",
            )
        return response.json() if response.content else None

    async def login(self, person: Person) -> None:
        """Log in through the gateway and keep the person's tokens."""
        answer = await self.api().gateway_login(body={"email": person.email, "password": person.password})
        self._keep_tokens(person, answer)

    async def relogin(self, person: Person, timeout: float = 30.0) -> None:
        """Refresh the person's token until it carries `person.municipalities` (the gateway learns
        municipal roles from official.appointed events, asynchronously)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if person.refresh_token:
                try:
                    refreshed = await self.api().gateway_refresh(body={"refresh_token": person.refresh_token})
                except Refused:
                    await self.login(person)
                else:
                    self._keep_tokens(person, refreshed)
            else:
                await self.login(person)
            have = token_claims(person.token).get("municipalities") or {}
            if all(have.get(slug) == role for slug, role in person.municipalities.items()):
                return
            if loop.time() > deadline:
                raise ApiError(
                    504,
                    "seed_failed",
                    f"{person.email}: roles {person.municipalities} not in the token after {timeout}s "
                    f"(has {have}); is endorsements publishing official.appointed?",
                )
            await asyncio.sleep(0.3)

    @staticmethod
    def _keep_tokens(person: Person, answer: GatewayTokensOut) -> None:
        person.token = answer["access_token"]
        person.refresh_token = answer["refresh_token"]
        person.user_id = answer["user"]["id"]

    def summary(self) -> str:
        lines = ["Demo data loaded:"]
        for person in self.people.values():
            lines.append(f"  {person.display_name:<28} {person.email:<36} password: {person.password}")
        for key, value in sorted(self.ids.items()):
            lines.append(f"  {key:<40} {value}")
        lines.extend(f"  {note}" for note in self.notes)
        return "\n".join(lines)
