"""serving.serve, what `python -m <service>` runs for every service: a request in flight at
SIGTERM is answered, the lifespan shuts down and the process returns 0; a port in use fails at
start unless HTTP_REUSE_PORT is set, and then replicas share it; X-Forwarded-For is trusted from
FORWARDED_ALLOW_IPS only. Real processes, real sockets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from servicekit.testing.procs import free_port

APP = textwrap.dedent(
    """
    import asyncio, os, sys
    from pathlib import Path

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    Path(os.environ["STOPPED_FILE"]).write_text("lifespan shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/slow":
            await asyncio.sleep(1.5)
        body = f"{os.getpid()} {scope['client'][0]}".encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    if __name__ == "__main__":
        from servicekit.serving import serve
        from servicekit.settings import ServiceSettings
        serve("tinyapp:app", ServiceSettings())
    """
)


@contextmanager
def served(tmp_path: Path, port: int, name: str, **env: str) -> Iterator[subprocess.Popen]:
    (tmp_path / "tinyapp.py").write_text(APP)
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "tinyapp.py")],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": str(tmp_path),
            "HTTP_PORT": str(port),
            "LOG_LEVEL": "WARNING",
            "STOPPED_FILE": str(tmp_path / f"{name}.stopped"),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def wait_up(proc: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"exited {proc.returncode}: {proc.stdout.read().decode() if proc.stdout else ''}"
            )
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("never answered")


def test_sigterm_finishes_the_request_in_flight_then_exits_0(tmp_path: Path) -> None:
    port = free_port()
    with served(tmp_path, port, "one") as proc:
        wait_up(proc, port)
        answers: list[int] = []
        slow = threading.Thread(
            target=lambda: answers.append(httpx.get(f"http://127.0.0.1:{port}/slow", timeout=10).status_code)
        )
        slow.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        slow.join(15)
        assert proc.wait(20) == 0
    assert answers == [200]
    assert (tmp_path / "one.stopped").read_text() == "lifespan shutdown"


def test_a_port_in_use_fails_unless_replicas_share_it(tmp_path: Path) -> None:
    port = free_port()
    with served(tmp_path, port, "first") as first:
        wait_up(first, port)
        with served(tmp_path, port, "second") as second:
            assert second.wait(30) != 0
            assert second.stdout is not None and b"already in use" in second.stdout.read().lower()
        first.send_signal(signal.SIGTERM)
        assert first.wait(20) == 0

    port = free_port()
    with (
        served(tmp_path, port, "a", HTTP_REUSE_PORT="true") as a,
        served(tmp_path, port, "b", HTTP_REUSE_PORT="true") as b,
    ):
        wait_up(a, port)
        wait_up(b, port)
        # New connections are spread by the kernel: both processes answer, on one port.
        pids = {httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text.split()[0] for _ in range(60)}
        assert pids == {str(a.pid), str(b.pid)}
        for proc in (a, b):
            proc.send_signal(signal.SIGTERM)
        assert a.wait(20) == 0 and b.wait(20) == 0


def test_forwarded_for_is_trusted_from_the_allowed_addresses_only(tmp_path: Path) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    for allowed, seen in (("127.0.0.1", "203.0.113.7"), ("192.0.2.1", "127.0.0.1")):
        port = free_port()
        with served(tmp_path, port, "fwd", FORWARDED_ALLOW_IPS=allowed) as proc:
            wait_up(proc, port)
            answer = httpx.get(f"http://127.0.0.1:{port}/", headers=forwarded, timeout=5)
            assert answer.text.split()[1] == seen
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
