"""`make up`'s runner (devstack.up) driven as a user drives it: started as a process, read from
its terminal output, stopped with the signal Ctrl-C sends. Shared by the runner tests."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from devstack import supervise

ROOT = Path(__file__).resolve().parents[1]


def free_block(size: int = 16) -> int:
    """A base port with `size` free ports after it, below the ephemeral range (where other
    tests' free_port() choices land)."""
    for _ in range(200):
        base = random.randrange(20000, 32000, 20)
        taken = False
        for port in range(base, base + size):
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    taken = True
                    break
        if not taken:
            return base
    raise RuntimeError("no free block of ports")


class Up:
    """One `python -m devstack.up` run: its output lines, collected as they come."""

    def __init__(self, var: Path, port_base: int, namespace: str, *args: str) -> None:
        self.var = var
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devstack.up", "--var", str(var), "--port-base", str(port_base), *args],
            cwd=ROOT,
            env={**os.environ, "BUS_NAMESPACE": namespace, "OUTBOX_POLL_INTERVAL_S": "0.2"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                time.sleep(0.5)  # the reader's last lines
                break
            time.sleep(0.2)
        tail = "\n".join(self.lines[-60:])
        raise AssertionError(f"no {text!r} in the runner's output (exit {self.proc.poll()}):\n{tail}")

    def pid(self, program: str) -> int:
        answer = subprocess.run(
            [str(Path(sys.executable).parent / "supervisorctl"), "-c", str(self.var / "run" / "supervisord.conf"),
             "pid", program],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        return int(answer.stdout.strip())

    def interrupt(self, timeout: float = 90) -> int:
        """What Ctrl-C does: SIGINT to the runner; its exit status."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.interrupt(60)
        if self.proc.poll() is None:
            pid_file = self.var / "run" / "supervisord.pid"
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)
            self.proc.kill()
            self.proc.wait()

    def stops(self) -> list[supervise.Happening]:
        """supervisord's 'stopped:' lines of the last shutdown, in order."""
        log = (self.var / "log" / "supervisord.log").read_text().splitlines()
        events = [e for e in map(supervise.parse, log) if e is not None]
        last = max((i for i, e in enumerate(events) if e.kind == "spawned"), default=0)
        return [e for e in events[last:] if e.kind == "stopped"]


@contextlib.contextmanager
def up(var: Path, port_base: int, namespace: str, *args: str) -> Iterator[Up]:
    run = Up(var, port_base, namespace, *args)
    try:
        yield run
    finally:
        run.kill()
