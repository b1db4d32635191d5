"""Every contract in the repository is a valid JSON Schema whose `$ref`s resolve (inside
contracts/ only), and envelopes match cloudevent.json."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import referencing.exceptions

from servicekit.events import ContractError, Contracts, new_event

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


@pytest.mark.parametrize("type_key", CONTRACTS.known_types())
def test_every_ref_resolves(type_key: str) -> None:
    resolved = CONTRACTS.resolved_schema_for(type_key)
    assert "$ref" not in json.dumps(resolved)
    CONTRACTS.validator_for(type_key).is_valid({})  # builds, and follows its refs


def test_shared_definitions_validate_across_files() -> None:
    snapshot = {
        "campaign_id": "c-1",
        "owner_id": "u-1",
        "title": "Street-workout park",
        "status": "live",
        "municipality": "montreuil",
        "goal": 500000,
        "currency": "EUR",
        "funding_model": "all_or_nothing",
        "version": 3,
    }
    for key in ("campaign.published", "campaign.canceled"):
        CONTRACTS.validate(new_event("campaigns", key, "c-1", snapshot))
        for bad in ({"goal": 0}, {"currency": "eur"}, {"raised": -1}, {"status": "paused"}):
            with pytest.raises(ContractError):
                CONTRACTS.validate(new_event("campaigns", key, "c-1", {**snapshot, **bad}))
    payment = {
        "payment_id": "pay-1",
        "pledge_id": "p-1",
        "campaign_id": "c-1",
        "backer_id": "u-2",
        "amount": 2500,
        "currency": "EUR",
    }
    CONTRACTS.validate(
        new_event("payments", "payment.failed", "pay-1", {**payment, "retry_until": "2026-01-01T00:00:00Z"})
    )
    with pytest.raises(ContractError, match="payment_id"):
        CONTRACTS.validate(
            new_event(
                "payments", "payment.failed", "pay-1", {k: v for k, v in payment.items() if k != "payment_id"}
            )
        )
    with pytest.raises(ContractError, match="retry_until"):
        CONTRACTS.validate(new_event("payments", "payment.failed", "pay-1", {**payment, "retry_until": 5}))


def test_refs_stay_inside_the_contracts_directory(tmp_path: Path) -> None:
    root = tmp_path / "contracts"
    (root / "events").mkdir(parents=True)
    (root / "defs").mkdir()
    (tmp_path / "secret.json").write_text(json.dumps({"type": "string"}))
    (root / "defs" / "x.json").write_text(
        json.dumps(
            {"$id": "https://civicfund.org/contracts/defs/x.json", "$defs": {"n": {"type": "integer"}}}
        )
    )
    schema = {"type": "object", "properties": {"n": {"$ref": "../defs/x.json#/$defs/n"}}}
    (root / "events" / "kit.ok.json").write_text(json.dumps(schema))
    by_id = {
        "type": "object",
        "properties": {"n": {"$ref": "https://civicfund.org/contracts/defs/x.json#/$defs/n"}},
    }
    (root / "events" / "kit.by_id.json").write_text(json.dumps(by_id))
    (root / "events" / "kit.escape.json").write_text(
        json.dumps({"type": "object", "properties": {"n": {"$ref": "../../secret.json"}}})
    )
    contracts = Contracts(root)
    for key in ("kit.ok", "kit.by_id"):
        contracts.validate(new_event("kit", key, None, {"n": 1}))
        with pytest.raises(ContractError):
            contracts.validate(new_event("kit", key, None, {"n": "one"}))
    with pytest.raises(referencing.exceptions.Unresolvable):
        contracts.validate(new_event("kit", "kit.escape", None, {"n": "x"}))


def test_inlining_keeps_the_meaning_of_ref_with_siblings(tmp_path: Path) -> None:
    """Contracts validate against the inlined form; it must accept exactly what the `$ref`
    form accepts, also where a plain merge would not (closed objects, clashing keywords)."""
    root = tmp_path / "contracts"
    (root / "events").mkdir(parents=True)
    (root / "defs").mkdir()
    defs = {
        "$defs": {
            "closed": {
                "type": "object",
                "properties": {"a": {"type": "integer"}},
                "additionalProperties": False,
            },
            "small": {"type": "integer", "maximum": 10},
            "open": {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}},
        }
    }
    (root / "defs" / "d.json").write_text(json.dumps(defs))
    schemas = {
        "kit.closed": {"$ref": "../defs/d.json#/$defs/closed", "properties": {"b": {"type": "string"}}},
        "kit.clash": {
            "type": "object",
            "properties": {"n": {"$ref": "../defs/d.json#/$defs/small", "maximum": 5}},
        },
        "kit.open": {
            "type": "object",
            "$ref": "../defs/d.json#/$defs/open",
            "required": ["b"],
            "properties": {"a": {"minimum": 0}, "b": {"type": "string"}},
        },
    }
    for key, schema in schemas.items():
        (root / "events" / f"{key}.json").write_text(json.dumps(schema))
    contracts = Contracts(root)
    cases = [
        {},
        {"a": 1},
        {"a": -1},
        {"a": 1, "b": "x"},
        {"b": "x"},
        {"a": "1", "b": "x"},
        {"n": 3},
        {"n": 7},
        {"n": 11},
    ]
    for key in schemas:
        by_ref = jsonschema.Draft202012Validator(
            {"$id": contracts.uri_of(contracts._path_for(key)), **contracts.schema_for(key)},
            registry=contracts.registry,
        )
        inlined = contracts.validator_for(key)
        assert "$ref" not in json.dumps(inlined.schema)
        for case in cases:
            assert inlined.is_valid(case) == by_ref.is_valid(case), (key, case)
