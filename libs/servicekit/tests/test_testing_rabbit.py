"""delete_namespace says so when it cannot delete: a broker without the management plugin keeps
a run's quorum queues, and a few hundred of them left behind stop RabbitMQ accepting
connections. Real HTTP against a port nothing listens on."""

from __future__ import annotations

import pytest

from servicekit.testing import rabbit
from servicekit.testing.procs import free_port


def test_a_namespace_it_cannot_delete_is_named_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(rabbit, "MANAGEMENT_URL", f"http://127.0.0.1:{free_port()}")
    assert rabbit.delete_namespace("amqp://guest:guest@127.0.0.1:5672/", "tdeadbeef.", timeout_s=2) == 0
    err = capsys.readouterr().err
    assert "tdeadbeef.* left on the broker" in err
    assert "devstack.rabbit" in err


def test_an_empty_namespace_is_refused() -> None:
    with pytest.raises(ValueError):
        rabbit.delete_namespace("amqp://guest:guest@127.0.0.1:5672/", "")
