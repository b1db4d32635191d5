"""Public forms come from one allow-list per type: the contracts in `contracts/` are exactly what
the declarations build, and a field not on the list never reaches city systems."""

from __future__ import annotations

import yaml

from endorsements.public_forms import PUBLIC_FORMS, public_data, rendered
from servicekit.events import Contracts

CONTRACTS = Contracts()


def test_public_contracts_and_asyncapi_are_built_from_the_allow_lists() -> None:
    stale = [str(path) for path, text in rendered(CONTRACTS).items() if path.read_text() != text]
    assert stale == [], "run `python -m endorsements.public_forms` and commit the result"
    document = yaml.safe_load((CONTRACTS.directory / "asyncapi.yaml").read_text())
    for name, message in document["components"]["messages"].items():
        data_ref = message["payload"]["allOf"][1]["properties"]["data"]["$ref"]
        assert (CONTRACTS.directory / data_ref).is_file(), name


def test_every_public_type_has_an_internal_contract_and_keeps_personal_fields_out() -> None:
    personal = {"owner_id", "proposer_id", "voter_id", "backer_id", "email", "token"}
    for key, form in PUBLIC_FORMS.items():
        assert key in CONTRACTS.known_types() and f"public.{key}" in CONTRACTS.known_types()
        assert not personal & set(form.fields), key
    assert "call.vote_cast" not in PUBLIC_FORMS  # ballots stay internal


def test_a_public_contract_is_its_internal_contract_restricted_to_the_allow_list() -> None:
    for key, form in PUBLIC_FORMS.items():
        internal = CONTRACTS.resolved_schema_for(key)
        public = CONTRACTS.resolved_schema_for(f"public.{key}")
        assert set(public["properties"]) == set(form.fields), key
        for field in form.fields:
            assert public["properties"][field] == internal["properties"][field], (key, field)
        assert set(public.get("required", [])) == set(internal.get("required", [])) & set(form.fields), key


def test_public_data_keeps_only_listed_fields() -> None:
    data = {"label_id": "lbl_1", "campaign_id": "c", "municipality": "m", "status": "granted",
            "owner_id": "usr_1", "some_new_internal_field": 1}  # fmt: skip
    assert public_data("label.granted", data) == {
        "label_id": "lbl_1", "campaign_id": "c", "municipality": "m", "status": "granted"
    }  # fmt: skip
