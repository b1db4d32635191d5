"""`free_port`: ports for servers about to start."""

from __future__ import annotations

import socket

import pytest

from servicekit.testing import procs


def test_free_ports_are_below_the_ephemeral_range_distinct_and_bindable() -> None:
    """Outgoing connections (a readiness poll among them) take their source ports from the
    ephemeral range: a port handed out there could be in use before its server binds it."""
    low = procs._ephemeral_low()
    ports = [procs.free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(1024 <= port < low for port in ports)
    for port in ports[:20]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_something_listens_on_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    low = procs._ephemeral_low()
    with socket.socket() as listening:
        taken = next(
            p for p in range(low - 1, 1024, -1) if p not in procs._HANDED_OUT and _binds(listening, p)
        )
        listening.listen()
        picks = iter([taken, taken])
        real = procs.random.randrange
        monkeypatch.setattr(procs.random, "randrange", lambda a, b: next(picks, None) or real(a, b))
        assert procs.free_port() != taken


def _binds(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True
