"""Every contract in the repository is a valid JSON Schema, and envelopes match cloudevent.json."""

from __future__ import annotations

import json

import jsonschema
import pytest

from servicekit.events import Contracts, new_event

CONTRACTS = Contracts()


@pytest.mark.parametrize("type_key", CONTRACTS.known_types())
def test_contract_is_a_valid_schema(type_key: str) -> None:
    schema = CONTRACTS.schema_for(type_key)
    assert schema.get("type") == "object"
    assert schema.get("additionalProperties", True) is not False, (
        "contracts must stay open to additive changes"
    )


def test_envelope_matches_the_cloudevents_schema() -> None:
    envelope = json.loads((CONTRACTS.directory / "cloudevent.json").read_text())
    event = new_event("campaigns", "campaign.published", "c-1", {"x": 1}, "req-1")
    jsonschema.validate(json.loads(event.to_json()), envelope, format_checker=jsonschema.FormatChecker())
    assert event.type == "org.civicfund.campaign.published"
