from __future__ import annotations

import json
from pathlib import Path

import pytest

TEST_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["n"],
    "properties": {"n": {"type": "integer"}, "fail": {"type": "integer"}},
}


@pytest.fixture(scope="session")
def test_contracts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Contracts for the plumbing's own test events (services use the repository's)."""
    root = tmp_path_factory.mktemp("contracts")
    (root / "events").mkdir()
    for name in ("kit.ping", "kit.poison", "public.kit.ping"):
        (root / "events" / f"{name}.json").write_text(json.dumps(TEST_SCHEMA))
    return root
