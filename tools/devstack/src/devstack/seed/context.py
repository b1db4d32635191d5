"""What the seed steps share: the HTTP client (to the gateway), people, and created ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from servicekit.errors import ApiError


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

    def summary(self) -> str:
        lines = ["Demo data loaded:"]
        for person in self.people.values():
            lines.append(f"  {person.display_name:<28} {person.email:<36} password: {person.password}")
        for key, value in sorted(self.ids.items()):
            lines.append(f"  {key:<40} {value}")
        lines.extend(f"  {note}" for note in self.notes)
        return "\n".join(lines)
