"""`contracts/asyncapi.yaml`, the document city systems read: it is a well-formed AsyncAPI 3.0
document, every message's payload refers to schemas in `contracts/` that exist and are valid
JSON Schema, and what the running platform's public exchange really carries validates against
the message of its channel.

No AsyncAPI validator package is installed here, so the document's shape is checked against the
AsyncAPI 3.0 rules it relies on (required fields, reference targets, channel parameters)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import yaml

from devstack.running import RunningStack
from endorsements.public_forms import PUBLIC_FORMS
from servicekit.bus import Bus
from servicekit.events import Contracts
from servicekit.settings import ServiceSettings
from servicekit.testing.helpers import eventually, tap
from servicekit.testing.plugin import TestEnv

CONTRACTS = Contracts()
DOCUMENT_PATH = CONTRACTS.directory / "asyncapi.yaml"
E = "/api/v1/endorsements"


def _document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT_PATH.read_text())


def _pointer(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def _file_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = (
            [node["$ref"]] if isinstance(node.get("$ref"), str) and not node["$ref"].startswith("#") else []
        )
        return found + [r for v in node.values() for r in _file_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _file_refs(v)]
    return []


def _payload_validator(message: dict[str, Any]) -> jsonschema.Draft202012Validator:
    # Relative references in the document resolve from the contracts directory, where it lives.
    schema = {"$id": CONTRACTS.uri_of(DOCUMENT_PATH), **message["payload"]}
    return jsonschema.Draft202012Validator(schema, registry=CONTRACTS.registry)


def test_the_document_is_a_well_formed_asyncapi_3_document() -> None:
    document = _document()
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] and document["info"]["version"]
    for name, server in document["servers"].items():
        assert server["host"] and server["protocol"] == "amqp", name
    assert set(document) <= {
        "asyncapi", "id", "info", "servers", "defaultContentType", "channels", "operations", "components"
    }  # fmt: skip
    for name, channel in document["channels"].items():
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+", name), name
        # Every `{parameter}` of the address is declared, and nothing else is.
        assert set(re.findall(r"\{(\w+)\}", channel["address"])) == set(channel.get("parameters", {})), name
        assert channel["bindings"]["amqp"]["exchange"]["name"] == "civicfund.public"
        for message_ref in channel["messages"].values():
            assert _pointer(document, message_ref["$ref"])["payload"], name
    for name, operation in document["operations"].items():
        assert operation["action"] in ("send", "receive"), name
        channel = _pointer(document, operation["channel"]["$ref"])
        assert channel in document["channels"].values(), name
    # One channel per public form: nothing documented that is not published, and the reverse.
    assert {c["address"].removeprefix("{municipality}.") for c in document["channels"].values()} == set(
        PUBLIC_FORMS
    )


def test_every_message_refers_to_valid_schemas_in_contracts() -> None:
    document = _document()
    root = CONTRACTS.directory.resolve()
    checked: set[Path] = set()
    for name, message in document["components"]["messages"].items():
        assert message["contentType"] == "application/cloudevents+json", name
        refs = _file_refs(message["payload"])
        assert "cloudevent.json" in refs, name
        assert any(r.startswith("events/public.") for r in refs), name
        pending = [(DOCUMENT_PATH.parent, r) for r in refs]
        while pending:  # the referenced files, and what they reference in turn
            base, ref = pending.pop()
            path = (base / ref.split("#", 1)[0]).resolve()
            assert path.is_relative_to(root) and path.is_file(), f"{name}: {ref} is not in contracts/"
            if path in checked:
                continue
            checked.add(path)
            schema = json.loads(path.read_text())
            jsonschema.Draft202012Validator.check_schema(schema)
            pending += [(path.parent, r) for r in _file_refs(schema)]
        const_type = message["payload"]["allOf"][1]["properties"]["type"]["const"]
        assert const_type == message["name"], name
        # A payload resolves: a minimal envelope of another type is refused, not waved through.
        validator = _payload_validator(message)
        assert list(validator.iter_errors({"specversion": "1.0", "type": "org.civicfund.other"}))


async def _label_request(client: httpx.AsyncClient, owner: Any, campaign_id: str) -> dict[str, Any]:
    """The owner asks for the label once endorsements heard of the campaign (events are async)."""
    for _ in range(150):
        r = await client.post(f"{E}/labels", headers=owner.headers, json={"campaign_id": campaign_id})
        if r.status_code == 201:
            return r.json()
        assert r.json()["error"]["code"] == "campaign_not_found", r.text
        await asyncio.sleep(0.2)
    raise AssertionError("endorsements never heard of the campaign")


async def test_what_the_public_exchange_carries_validates(
    platform: Any, make_account: Any, env: TestEnv, stack: RunningStack
) -> None:
    document = _document()
    by_type = {m["name"]: (_payload_validator(m), m) for m in document["components"]["messages"].values()}
    bus = Bus(
        ServiceSettings(amqp_url=env.amqp_url, bus_namespace=stack.stack.bus_namespace, service_name="e2e")
    )
    await bus.connect(retry_forever=False)
    try:
        # Everything on the exchange, as a city system sees its own part of it.
        _, carried = await tap(bus, "#", exchange="public")
        manager, owner = await make_account(), await make_account()
        slug = await platform.city(manager)
        pool = await platform.call(
            "POST",
            f"{E}/municipalities/{slug}/pools",
            manager,
            201,
            headers={"Idempotency-Key": f"pool-{slug}"},
            json={"name": "Fonds de quartier", "year": 2027, "budget": 1_000_000, "currency": "EUR"},
        )
        campaign = await platform.live_campaign(owner, municipality=slug, postcode="93100")
        async with platform.client() as client:
            label = await _label_request(client, owner, campaign["id"])
        await platform.call(
            "POST",
            f"{E}/labels/{label['id']}/grant",
            manager,
            headers={"Idempotency-Key": f"grant-{uuid.uuid4().hex}"},
            json={
                "support": [{"kind": "venue", "description": "Hall", "address": "1 place de la Mairie"}],
                "match": {
                    "pool_id": pool["id"],
                    "condition": "instant",
                    "ratio": 1,
                    "cap_per_project": 50_000,
                },
            },
        )
        now = datetime.now(UTC)
        await platform.call(
            "POST",
            f"{E}/municipalities/{slug}/calls",
            manager,
            201,
            json={
                "title": "Budget participatif",
                "budget": 500_000,
                "max_award": 100_000,
                "currency": "EUR",
                "submission_opens_at": now.isoformat(),
                "submission_closes_at": (now + timedelta(days=20)).isoformat(),
            },
        )
        expected = {
            f"{slug}.{key}"
            for key in (
                "label.requested", "endorsement.requested", "label.granted", "endorsement.granted",
                "match.committed", "call.opened",
            )
        }  # fmt: skip
        await eventually(lambda: expected <= {m.routing_key for m in carried}, timeout=30)
    finally:
        await bus.close()

    for message in carried:
        envelope = json.loads(message.body)
        assert message.content_type == "application/cloudevents+json"
        validator, documented = by_type[envelope["type"]]
        errors = [e.message for e in validator.iter_errors(envelope)]
        assert errors == [], (message.routing_key, errors)
        # The routing key is the channel's address for the event's city.
        address = documented["name"].removeprefix("org.civicfund.public.")
        assert message.routing_key == f"{envelope['data']['municipality']}.{address}"
