"""Start and stop the real servers tests need (nx-27017, localstripe) as subprocesses."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

# Ports this process handed out: each goes to one server only, even before it listens.
_HANDED_OUT: set[int] = set()
_PORT_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_low() -> int:
    """The lowest port the kernel gives outgoing connections (Linux; 32768 elsewhere)."""
    try:
        return int(_PORT_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port nothing listens on, for a server about to start, below the kernel's ephemeral
    range. A port from that range (what `bind(0)` gives) can be taken before the server binds
    it: by any outgoing connection, and by the readiness poll itself, which TCP then connects
    to itself (source port = destination port), so the poll gets "Server disconnected" and the
    server "address already in use" (120 tests failed that way in one CI run)."""
    high = _ephemeral_low()
    low = max(1024, high - 12_000)
    for _ in range(500):
        port = random.randrange(low, high)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # something listens there, or a connection still holds it
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free port in {low}-{high - 1}")


def wait_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed in this environment (uv sync installs it)")
    return found


def die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, even by SIGKILL or a timeout,
    so servers started for a test never outlive it (Linux; elsewhere a no-op)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def process(
    args: list[str], port: int, log_path: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    try:
        wait_port(port, proc=proc)
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def nx_args(port: int, data_dir: str, workdir: Path) -> list[str]:
    return [
        sys.executable, "-m", "servicekit.testing.nx",
        "--data-dir", data_dir,
        "-p", str(port),
        "--log-file", str(workdir / f"nx-{port}.log"),
        "--pid-file", str(workdir / f"nx-{port}.pid"),
    ]  # fmt: skip


def localstripe_args(port: int) -> list[str]:
    """localstripe with the project's Connect extension (tools/devstack) when it is installed,
    which is the case in the workspace's environment; the plain binary otherwise."""
    if importlib.util.find_spec("devstack") and importlib.util.find_spec("devstack.localstripe_connect"):
        return [sys.executable, "-m", "devstack.localstripe_connect", "--port", str(port), "--from-scratch"]
    return [_bin("localstripe"), "--port", str(port), "--from-scratch"]
