"""The CloudEvents 1.0 envelope every event travels in, and the contract validator.

Routing key `<entity>.<verb>` <-> type `org.civicfund.<entity>.<verb>`. Each type has a JSON
Schema for its `data` at `contracts/events/<entity>.<verb>.json` (public forms for city
systems: `contracts/events/public.<entity>.<verb>.json`). Schemas share definitions by `$ref`
to other files of `contracts/` (`"$ref": "../defs/campaign.json#/$defs/snapshot"`), resolved
relative to the file, or by the `$id` prefix `https://civicfund.org/contracts/`.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

import jsonschema
from pydantic import BaseModel, ConfigDict, Field
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT202012

TYPE_PREFIX = "org.civicfund."
CONTRACTS_ID_PREFIX = "https://civicfund.org/contracts/"
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


# Keywords that only annotate: when a `$ref` and its siblings both set one, the siblings' wins.
_ANNOTATIONS = {"title", "description", "$comment", "$schema", "$id", "examples", "default", "deprecated"}
# Keywords whose meaning depends on the properties declared beside them: never merged.
_CONTEXTUAL = {"additionalProperties", "unevaluatedProperties", "patternProperties", "unevaluatedItems"}


class _Recursive(Exception):
    """A contract refers to itself: it cannot be inlined (validated through the registry)."""


def _merge(target: dict[str, Any], siblings: dict[str, Any]) -> dict[str, Any]:
    """One schema equivalent to `{"$ref": target, **siblings}` (draft 2020-12: both apply).

    For open object schemas that is the union of `required` and of `properties` (a property in
    both gets both schemas); an annotation of the siblings wins. Anything else set on both sides,
    or a keyword that depends on the declared properties, stays an `allOf` of the two."""
    if any(k in target or k in siblings for k in _CONTEXTUAL):
        return _all_of(target, siblings)
    out = dict(target)
    for key, value in siblings.items():
        if key not in target or key in _ANNOTATIONS or target[key] == value:
            out[key] = value
        elif key == "required":
            out[key] = [*target[key], *(r for r in value if r not in target[key])]
        elif key == "properties":
            props = dict(target[key])
            for name, schema in value.items():
                props[name] = (
                    schema if props.get(name, schema) == schema else {"allOf": [props[name], schema]}
                )
            out[key] = props
        else:
            return _all_of(target, siblings)
    return out


def _all_of(target: dict[str, Any], siblings: dict[str, Any]) -> dict[str, Any]:
    notes = {k: v for k, v in siblings.items() if k in _ANNOTATIONS}
    rest = {k: v for k, v in siblings.items() if k not in _ANNOTATIONS}
    return {**notes, "allOf": [target, rest]} if rest else {**target, **notes}


class Contracts:
    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory else default_contracts_dir()
        self._root = self.directory.resolve()
        self._resources: dict[str, Resource] = {}
        self.registry: Registry = Registry(retrieve=self._retrieve)  # type: ignore[call-arg]

    def uri_of(self, path: Path) -> str:
        """A contract file's base URI (its relative `$ref`s resolve against it)."""
        return path.resolve().as_uri()

    def _path_of(self, uri: str) -> Path:
        if uri.startswith(CONTRACTS_ID_PREFIX):
            path = (self._root / uri.removeprefix(CONTRACTS_ID_PREFIX)).resolve()
        else:
            parsed = urlparse(uri)
            if parsed.scheme != "file":
                raise NoSuchResource(ref=uri)
            path = Path(unquote(parsed.path)).resolve()
        # Only files of the contracts directory: a schema never makes us read anything else.
        if not path.is_relative_to(self._root) or not path.is_file():
            raise NoSuchResource(ref=uri)
        return path

    def _retrieve(self, uri: str) -> Resource:
        # Cached: validators do not keep what they retrieved, and validation is on every emit.
        resource = self._resources.get(uri)
        if resource is None:
            contents = json.loads(self._path_of(uri).read_text())
            resource = self._resources[uri] = Resource.from_contents(
                contents, default_specification=DRAFT202012
            )
        return resource

    def _path_for(self, routing_key: str) -> Path:
        return self.directory / "events" / f"{routing_key}.json"

    @lru_cache(maxsize=512)  # noqa: B019 - one Contracts per process; schemas never change at run time
    def schema_for(self, routing_key: str) -> dict[str, Any]:
        """The contract file as written (its `$ref`s unresolved: see `resolved_schema_for`)."""
        path = self._path_for(routing_key)
        if not path.is_file():
            raise ContractError(f"no contract for event type {routing_key!r} (expected {path})")
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        return schema

    def resolved_schema_for(self, routing_key: str) -> dict[str, Any]:
        """The contract with every `$ref` inlined: the same validation, as one document (for
        readers that want the whole shape, to derive a public form, to document it, and for
        fast validation). Raises `referencing.exceptions.Unresolvable` for a dangling `$ref`."""
        return copy.deepcopy(self._resolved(routing_key))  # callers may edit their copy

    @lru_cache(maxsize=512)  # noqa: B019 - see schema_for
    def _resolved(self, routing_key: str) -> dict[str, Any]:
        path = self._path_for(routing_key)
        schema = self.schema_for(routing_key)
        return self._inline(schema, self.registry.resolver(base_uri=self.uri_of(path)), ())

    def _inline(self, node: Any, resolver: Any, seen: tuple[int, ...]) -> Any:
        if isinstance(node, list):
            return [self._inline(item, resolver, seen) for item in node]
        if not isinstance(node, dict):
            return node
        out = {k: self._inline(v, resolver, seen) for k, v in node.items() if k != "$ref"}
        ref = node.get("$ref")
        if isinstance(ref, str):
            resolved = resolver.lookup(ref)
            if id(resolved.contents) in seen:
                raise _Recursive(ref)
            target = self._inline(resolved.contents, resolved.resolver, (*seen, id(resolved.contents)))
            out = _merge(target, out) if isinstance(target, dict) else {"allOf": [target, out]}
        return out

    def known_types(self) -> list[str]:
        return sorted(p.stem for p in (self.directory / "events").glob("*.json"))

    @lru_cache(maxsize=512)  # noqa: B019 - see schema_for
    def validator_for(self, routing_key: str) -> jsonschema.Draft202012Validator:
        # Validated against the inlined form: following `$ref`s through the registry on every
        # event costs several times the validation itself, and every emit validates.
        try:
            schema = self._resolved(routing_key)
        except _Recursive:
            schema = self.schema_for(routing_key)
            if "$id" not in schema:  # relative `$ref`s resolve against the file's own location
                schema = {"$id": self.uri_of(self._path_for(routing_key)), **schema}
        return jsonschema.Draft202012Validator(
            schema, registry=self.registry, format_checker=jsonschema.FormatChecker()
        )

    def validate(self, event: Event) -> None:
        errors = sorted(
            self.validator_for(event.routing_key).iter_errors(event.data), key=lambda e: list(e.path)
        )
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.path) or "(root)"
            raise ContractError(f"{event.routing_key} data at {where}: {first.message}")
