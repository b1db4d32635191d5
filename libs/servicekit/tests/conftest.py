from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from servicekit.bus import INBOX_INDEXES, Bus
from servicekit.events import Contracts
from servicekit.mongo import Mongo
from servicekit.outbox import OUTBOX_INDEXES, Outbox
from servicekit.settings import ServiceSettings
from servicekit.testing.plugin import TestEnv

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


@dataclass
class Kit:
    settings: ServiceSettings
    mongo: Mongo
    bus: Bus
    outbox: Outbox
    contracts: Contracts
    stop: asyncio.Event
    relay_task: asyncio.Task | None = None

    def start_relay(self) -> None:
        self.stop = asyncio.Event()
        self.relay_task = asyncio.create_task(self.outbox.run_relay(self.bus, self.stop))

    async def stop_relay(self) -> None:
        if self.relay_task is not None:
            self.stop.set()
            self.outbox._wake.set()
            await self.relay_task
            self.relay_task = None


@contextlib.asynccontextmanager
async def _kit(
    env: TestEnv, contracts_dir: Path, relay: bool = True, **overrides: object
) -> AsyncIterator[Kit]:
    settings = env.settings(ServiceSettings, "kit", contracts_dir=str(contracts_dir), **overrides)
    mongo = Mongo(settings)
    await mongo.connect([*OUTBOX_INDEXES, *INBOX_INDEXES], ["things", "counters"])
    contracts = Contracts(contracts_dir)
    outbox = Outbox(mongo, contracts)
    bus = Bus(settings)
    await bus.connect()
    k = Kit(settings, mongo, bus, outbox, contracts, asyncio.Event())
    if relay:
        k.start_relay()
    try:
        yield k
    finally:
        await k.stop_relay()
        await bus.close()
        await mongo.close()


@pytest.fixture
def kit() -> Callable[..., Any]:
    """`async with kit(env, contracts_dir, relay=True, **settings) as k`: Mongo + outbox + bus, no HTTP."""
    return _kit
