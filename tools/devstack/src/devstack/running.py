"""Start a whole Stack as subprocesses and wait until it is ready (end-to-end tests, benches)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from servicekit.testing.procs import die_with_parent

from .stack import Process, Stack


def wait_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port}")


def wait_ready(url: str, deadline: float) -> None:
    last = ""
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready: {last}")


@dataclass
class RunningStack:
    stack: Stack
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, proc: Process, timeout: float = 60) -> None:
        logs = self.stack.var / "log"
        logs.mkdir(parents=True, exist_ok=True)
        (self.stack.var / "run").mkdir(parents=True, exist_ok=True)
        with open(logs / f"{proc.name}.out", "ab") as out:
            self.procs[proc.name] = subprocess.Popen(
                proc.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **proc.env},
                cwd=self.stack.root,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    def wait(self, proc: Process, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        if proc.port:
            wait_port(proc.port, deadline)
        if proc.ready_url:
            wait_ready(proc.ready_url, deadline)

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def restart(self, name: str) -> None:
        proc = next(p for p in self.stack.processes() if p.name == name)
        self.stop(name)
        self.start(proc)
        self.wait(proc)

    async def end_campaign_now(self, campaign_id: str) -> None:
        """Move a campaign's deadline into the past (devstack.deadlines: tests only)."""
        from .deadlines import end_campaign_now

        await end_campaign_now(
            self.stack.mongo_url("campaigns"), self.stack.var / "run" / "locks", campaign_id
        )

    def log(self, name: str) -> str:
        path = self.stack.var / "log" / f"{name}.out"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def running(stack: Stack, timeout: float = 90) -> Iterator[RunningStack]:
    run = RunningStack(stack)
    processes = stack.processes()
    try:
        infra = [p for p in processes if p.ready_url is None]
        services = [p for p in processes if p.ready_url is not None]
        for proc in infra:
            run.start(proc)
        for proc in infra:
            run.wait(proc, timeout)
        for proc in services:
            run.start(proc)
        for proc in services:
            try:
                run.wait(proc, timeout)
            except TimeoutError as exc:
                # Say which process did not come up and why, not just a port number.
                tail = "\n".join(run.log(proc.name).splitlines()[-30:])
                raise TimeoutError(
                    f"{proc.name} did not start: {exc}\n--- its last output ---\n{tail}"
                ) from exc
        yield run
    finally:
        for name in reversed(list(run.procs)):
            run.stop(name)


@contextlib.contextmanager
def throwaway(
    label: str, extra_env: dict[str, str] | None = None, environment: str = "development"
) -> Iterator[RunningStack]:
    """A whole stack on free ports, in-memory databases and its own broker namespace, deleted
    afterwards: what benchmarks and the screenshot script run against."""
    from servicekit.testing.procs import free_port
    from servicekit.testing.rabbit import delete_namespace

    from .rabbit import ensure
    from .stack import SERVICES, Ports

    ports = Ports(
        **{s: free_port() for s in SERVICES},
        mongo_ports={s: free_port() for s in SERVICES},
        localstripe=free_port(),
        smtp=free_port(),
    )
    root = Path(__file__).resolve().parents[4]
    amqp_url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    # As `make up` does: a broker that answers, with the management plugin that deletes the
    # namespace afterwards (a fresh machine's broker has it off).
    ensure(amqp_url)
    namespace = f"{label}{uuid.uuid4().hex[:6]}."
    with tempfile.TemporaryDirectory(prefix=f"civicfund-{label}-") as tmp:
        var = Path(tmp)
        for sub in ("log", "run", "mail", "keys"):
            (var / sub).mkdir()
        stack = Stack(root=root, var=var, ports=ports, amqp_url=amqp_url, bus_namespace=namespace,
                      mongo_data="memory", environment=environment, extra_env=extra_env or {})  # fmt: skip
        try:
            with running(stack) as run:
                yield run
        finally:
            delete_namespace(amqp_url, namespace)
