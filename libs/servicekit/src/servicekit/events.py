"""The CloudEvents 1.0 envelope every event travels in, and the contract validator.

Routing key `<entity>.<verb>` <-> type `org.civicfund.<entity>.<verb>`. Each type has a JSON
Schema for its `data` at `contracts/events/<entity>.<verb>.json` (public forms for city
systems: `contracts/events/public.<entity>.<verb>.json`).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field

TYPE_PREFIX = "org.civicfund."
CONTENT_TYPE = "application/cloudevents+json"


class Event(BaseModel):
    """A CloudEvents 1.0 structured-mode envelope (extension attributes are allowed)."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=200)
    subject: str | None = Field(default=None, max_length=200)
    time: datetime
    datacontenttype: str = "application/json"
    data: dict[str, Any]
    correlationid: str | None = Field(default=None, max_length=200)

    @property
    def routing_key(self) -> str:
        """The internal routing key (`campaign.published`); public forms keep their `public.` prefix."""
        return self.type.removeprefix(TYPE_PREFIX)

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json(cls, body: bytes) -> Event:
        return cls.model_validate_json(body)


def new_event(
    service: str,
    routing_key: str,
    subject: str | None,
    data: dict[str, Any],
    correlation_id: str | None = None,
) -> Event:
    return Event(
        id=str(uuid.uuid4()),
        source=f"/{service}",
        type=f"{TYPE_PREFIX}{routing_key}",
        subject=subject,
        time=datetime.now(UTC),
        data=data,
        correlationid=correlation_id,
    )


class ContractError(ValueError):
    """An event does not match its contract (or has none)."""


def default_contracts_dir() -> Path:
    """The repository's `contracts/` (walks up from this file; Docker images copy it to /app)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "contracts" / "events"
        if candidate.is_dir():
            return candidate.parent
    return Path("/app/contracts")


class Contracts:
    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory else default_contracts_dir()

    @lru_cache(maxsize=512)  # noqa: B019 - one Contracts per process; schemas never change at run time
    def schema_for(self, routing_key: str) -> dict[str, Any]:
        path = self.directory / "events" / f"{routing_key}.json"
        if not path.is_file():
            raise ContractError(f"no contract for event type {routing_key!r} (expected {path})")
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        return schema

    def known_types(self) -> list[str]:
        return sorted(p.stem for p in (self.directory / "events").glob("*.json"))

    @lru_cache(maxsize=512)  # noqa: B019 - see schema_for
    def validator_for(self, routing_key: str) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator(
            self.schema_for(routing_key), format_checker=jsonschema.FormatChecker()
        )

    def validate(self, event: Event) -> None:
        errors = sorted(
            self.validator_for(event.routing_key).iter_errors(event.data), key=lambda e: list(e.path)
        )
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.path) or "(root)"
            raise ContractError(f"{event.routing_key} data at {where}: {first.message}")
