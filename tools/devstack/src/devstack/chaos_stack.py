"""`make up`'s runner driven from a script or a test, and the variant the chaos run needs.

* `Up` / `up()`: `python -m devstack.up` (or this module) started as a process, read from its
  terminal output, its processes' pids asked of supervisord, stopped with the signal Ctrl-C
  sends. Shared by the runner tests (tests/devstack_runner.py) and bench/chaos.py.
* `move_deadline_to_the_past` (from devstack.deadlines): the one step those runs do not do
  through the API (a campaign runs at least 7 days).
* `python -m devstack.chaos_stack ... --amqp-via payments=amqp://...:PORT/ --stripe-via
  payments=http://...:PORT`: `make up` with some services' broker or Stripe connection routed
  through a URL of the caller's (bench/chaos.py puts servicekit's CuttableProxy there, to cut a
  service's broker connection or slow localstripe down for that service only).
"""

from __future__ import annotations

import argparse
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
from dataclasses import dataclass, field
from pathlib import Path

from servicekit.testing.procs import die_with_parent

from . import supervise
from .deadlines import move_deadline_to_the_past
from .stack import Stack

__all__ = ["Up", "free_block", "move_deadline_to_the_past", "up"]

ROOT = Path(__file__).resolve().parents[4]


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
    """One `python -m devstack.up` (or `module`) run: its output lines, collected as they come."""

    def __init__(
        self,
        var: Path,
        port_base: int,
        namespace: str,
        *args: str,
        module: str = "devstack.up",
        env: dict[str, str] | None = None,
    ) -> None:
        self.var = var
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, "--var", str(var), "--port-base", str(port_base), *args],
            cwd=ROOT,
            env={**os.environ, "BUS_NAMESPACE": namespace, "OUTBOX_POLL_INTERVAL_S": "0.2", **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # A test that times out ends its process without running `kill()`: the runner then
            # has SIGTERM and stops the stack as on Ctrl-C, instead of leaving it running.
            preexec_fn=die_with_parent,
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
def up(
    var: Path, port_base: int, namespace: str, *args: str, module: str = "devstack.up",
    env: dict[str, str] | None = None,
) -> Iterator[Up]:  # fmt: skip
    run = Up(var, port_base, namespace, *args, module=module, env=env)
    try:
        yield run
    finally:
        run.kill()


# -- the runner with routed connections ------------------------------------------------------------


@dataclass
class RoutedStack(Stack):
    """The local stack with some services' broker (`amqp_via`) or Stripe (`stripe_via`) URL
    replaced: every replica of such a service goes through what listens there."""

    amqp_via: dict[str, str] = field(default_factory=dict)
    stripe_via: dict[str, str] = field(default_factory=dict)

    def service_env(self, service: str) -> dict[str, str]:
        env = super().service_env(service)
        if service in self.amqp_via:
            env["AMQP_URL"] = self.amqp_via[service]
        if service in self.stripe_via:
            env["STRIPE_API_BASE"] = self.stripe_via[service]
        return env


def _pairs(items: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        name, sep, url = item.partition("=")
        if not sep or not url:
            raise SystemExit(f"{what}: {item!r} is not <service>=<url>")
        pairs[name] = url
    return pairs


def main() -> None:
    from servicekit.signing import load_or_create_key

    from . import rabbit
    from .up import Runner, parse_replicas, ports_from

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--var", required=True)
    parser.add_argument("--port-base", type=int, required=True)
    parser.add_argument("--replicas", default="")
    parser.add_argument("--amqp-via", action="append", default=[], help="<service>=<amqp url>")
    parser.add_argument("--stripe-via", action="append", default=[], help="<service>=<http url>")
    parser.add_argument("--env", action="append", default=[], help="NAME=value for every service")
    parser.add_argument("--environment", default="development")
    args = parser.parse_args()

    amqp_url = os.environ.get("AMQP_URL", rabbit.DEFAULT_URL)
    rabbit.ensure(amqp_url)
    var = Path(args.var).resolve()
    for sub in ("log", "run", "mail", "keys"):
        (var / sub).mkdir(parents=True, exist_ok=True)
    extra = {"LOG_JSON": os.environ.get("LOG_JSON", "true")}
    extra.update(_pairs(args.env, "--env"))
    stack = RoutedStack(
        root=ROOT,
        var=var,
        ports=ports_from(args.port_base),
        amqp_url=amqp_url,
        bus_namespace=os.environ.get("BUS_NAMESPACE", ""),
        replicas=parse_replicas(args.replicas),
        environment=args.environment,
        extra_env=extra,
        amqp_via=_pairs(args.amqp_via, "--amqp-via"),
        stripe_via=_pairs(args.stripe_via, "--stripe-via"),
    )
    load_or_create_key(var / "keys" / "current.pem")  # see devstack.up: one key for every replica
    raise SystemExit(Runner(stack, load_demo=False).run())


if __name__ == "__main__":
    main()
