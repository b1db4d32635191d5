"""Cross-service fixtures: the whole platform as real processes (the local stack's own
definition), on free ports, in-memory nx-27017 databases and this session's RabbitMQ vhost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from devstack.running import RunningStack, running
from devstack.stack import SERVICES, Ports, Stack
from servicekit.signing import SigningKey
from servicekit.testing.plugin import TestEnv
from servicekit.testing.procs import free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def stack(env: TestEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    ports = Ports(
        **{s: free_port() for s in SERVICES},
        mongo_ports={s: free_port() for s in SERVICES},
        localstripe=free_port(),
        smtp=free_port(),
    )
    var = tmp_path_factory.mktemp("stack")
    definition = Stack(
        root=ROOT,
        var=var,
        ports=ports,
        amqp_url=env.amqp_url,
        bus_namespace=env.namespace,
        mongo_data="memory",
        environment="test",
        extra_env={"LOG_JSON": "true", "OUTBOX_POLL_INTERVAL_S": "0.2", "DEADLINE_TICK_S": "1"},
    )
    with running(definition) as run:
        yield run


@pytest.fixture(scope="session")
def gateway_url(stack: RunningStack) -> str:
    return stack.stack.url("gateway")


@pytest.fixture(scope="session")
def gateway_key(stack: RunningStack) -> SigningKey:
    """The key the running gateway signs with (until the accounts API issues tokens itself)."""
    return SigningKey.from_pem((stack.stack.var / "keys" / "current.pem").read_bytes())
