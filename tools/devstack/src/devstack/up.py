"""`make up`: the whole platform on this machine, no Docker, with demo data.

Starts, under supervisord (supervise.py), one nx-27017 per service with its data under
var/mongo/, localstripe with its state in var/localstripe/, an SMTP sink writing to var/mail/,
and the services (N replicas of any of them with `--replicas payments=2,notifications=2`);
checks RabbitMQ (starting a local rabbitmq-server if none answers); waits until every /readyz
is green; loads the demo data through the gateway; prints the URLs.

The terminal shows the services' output (each line prefixed with its process) and what the
supervisor does: a crashed service is reported and restarted, the rest keeps running. The
datastores' own logs go to var/log/ only. Ctrl-C stops the services first (each finishes its
in-flight work and exits 0), then the datastores; `make up` again starts on the same data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from servicekit.signing import load_or_create_key
from servicekit.testing.procs import die_with_parent

from . import rabbit, seed, supervise
from .running import wait_ready
from .stack import SERVICES, Ports, Stack

ROOT = Path(__file__).resolve().parents[4]
_COLOURS = [36, 33, 32, 35, 34, 91, 92, 93, 94, 95, 96]


def parse_replicas(text: str) -> dict[str, int]:
    """`payments=2,notifications=3` (or space-separated; `all=2` for every service)."""
    counts: dict[str, int] = {}
    for item in re.split(r"[,\s]+", text.strip()):
        if not item:
            continue
        name, _, count = item.partition("=")
        if not count.isdigit() or int(count) < 1:
            raise SystemExit(f"--replicas: {item!r} is not <service>=<count>")
        names = SERVICES if name == "all" else [name]
        for service in names:
            if service not in SERVICES:
                raise SystemExit(f"--replicas: unknown service {service!r} (one of {', '.join(SERVICES)})")
            counts[service] = int(count)
    return counts


def ports_from(base: int | None) -> Ports:
    """The default ports, or (tests, a second stack) a block from `base`: services base..base+5,
    localstripe base+6, SMTP base+7, the datastores base+10...base+15."""
    if base is None:
        return Ports()
    return Ports(
        **{s: base + i for i, s in enumerate(SERVICES)},
        mongo_ports={s: base + 10 + i for i, s in enumerate(SERVICES)},
        localstripe=base + 6,
        smtp=base + 7,
    )


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Tail:
    """Follows a growing log file (supervisord rotates them: a new inode or a shorter file
    starts again from the top) and hands each complete line to `emit`."""

    def __init__(self, path: Path, emit: Callable[[str], None]) -> None:
        self.path, self.emit = path, emit
        self.inode: int | None = None
        self.pos = 0
        self.partial = b""

    def poll(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return
        if stat.st_ino != self.inode or stat.st_size < self.pos:
            self.inode, self.pos, self.partial = stat.st_ino, 0, b""
        if stat.st_size == self.pos:
            return
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            data = f.read()
        self.pos += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        for line in lines:
            self.emit(line.decode(errors="replace"))


@dataclass
class Runner:
    stack: Stack
    load_demo: bool
    out_lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    crashed: set[str] = field(default_factory=set)
    stops: dict[str, str] = field(default_factory=dict)  # process -> how it ended at shutdown
    supervisord: subprocess.Popen | None = None

    def say(self, text: str) -> None:
        with self.out_lock:
            print(text, flush=True)

    # -- what supervisord does, in the terminal --------------------------------------------------

    def on_supervisor_line(self, line: str) -> None:
        event = supervise.parse(line)
        if event is None:
            return
        if event.kind == "exited" and not self.stopping.is_set():
            self.crashed.add(event.name)
            self.say(f"!!! {event.name} crashed ({event.exit_detail}); supervisord is restarting it")
        elif event.kind == "spawned" and event.name in self.crashed:
            self.say(f"==> {event.name} restarted ({event.detail.strip()})")
        elif event.kind == "success" and event.name in self.crashed:
            self.crashed.discard(event.name)
            self.say(f"==> {event.name} is running again")
        elif event.kind == "gave up":
            self.say(
                f"!!! {event.name} keeps crashing at start; supervisord gave up (see var/log/{event.name}.log)"
            )
        elif event.kind == "stopped":
            self.stops[event.name] = event.exit_detail
            self.say(f"==> stopped {event.name} ({event.exit_detail})")

    def tails(self) -> list[Tail]:
        """supervisord's log and every service process's output, from their current end (what
        an earlier run wrote is not news)."""
        log = self.stack.var / "log"
        tails = [Tail(log / "supervisord.log", self.on_supervisor_line)]
        services = [p for p in self.stack.processes() if p.is_service]
        names = [n for p in services for n in supervise.instance_names(p)]
        width = max(len(n) for n in names)
        colour = sys.stdout.isatty()
        for i, name in enumerate(names):
            prefix = f"{name:<{width}} | "
            if colour:
                prefix = f"\033[{_COLOURS[i % len(_COLOURS)]}m{prefix}\033[0m"
            tails.append(Tail(log / f"{name}.log", lambda line, p=prefix: self.say(p + line)))
        for tail in tails:
            with contextlib.suppress(FileNotFoundError):
                stat = tail.path.stat()
                tail.inode, tail.pos = stat.st_ino, stat.st_size
        return tails

    def follow_logs(self, tails: list[Tail]) -> None:
        while True:
            for tail in tails:
                tail.poll()
            if self.supervisord is not None and self.supervisord.poll() is not None:
                for tail in tails:  # its last lines
                    tail.poll()
                return
            time.sleep(0.2)

    # -- start-up ---------------------------------------------------------------------------------

    def after_start(self) -> None:
        stack = self.stack
        try:
            deadline = time.monotonic() + 180
            for service in SERVICES:
                wait_ready(f"{stack.url(service)}/readyz", deadline)
            if self.load_demo:
                self.say("\n==> every service is ready; loading demo data through the gateway")
                seed.pledges.STRIPE = f"http://127.0.0.1:{stack.ports.localstripe}"
                seed.payouts.CAMPAIGNS_MONGO = stack.mongo_url("campaigns")  # where it moves deadlines
                demo = asyncio.run(seed.seed(stack.url("gateway"), stack.var))
                self.say(demo.summary())
            replicas = ", ".join(f"{s} x{n}" for s, n in stack.replicas.items() if n > 1) or "one of each"
            self.say(
                "\n==> Civicfund is running\n"
                f"    web site:        {stack.url('gateway')}/   <- open this in a browser\n"
                f"    API (gateway):   {stack.url('gateway')}/api/v1/...   docs: {stack.url('gateway')}/docs\n"
                + "".join(f"    {s + ':':<17}{stack.url(s)}/metrics\n" for s in SERVICES[1:])
                + f"    localstripe:     http://127.0.0.1:{stack.ports.localstripe}\n"
                f"    mail sink:       {stack.var / 'mail'} (SMTP 127.0.0.1:{stack.ports.smtp})\n"
                f"    replicas:        {replicas}\n"
                f"    logs:            services above and in {stack.var / 'log'}; datastores only there\n"
                f"    supervisor:      .venv/bin/supervisorctl -c {stack.var / 'run' / 'supervisord.conf'} status\n"
                "    Ctrl-C stops everything (services first, then the datastores).\n"
            )
        except Exception as exc:  # the platform keeps running; say what went wrong
            self.say(f"\n!!! start-up check failed: {exc}\n")
            if os.environ.get("CIVICFUND_UP_STRICT") == "1":
                self.stop()

    # -- stopping ---------------------------------------------------------------------------------

    def stop(self) -> None:
        if self.stopping.is_set():
            self.say("==> still stopping (services finish their work, then the datastores stop)")
            return
        self.stopping.set()
        self.say("\n==> stopping: the services first, then the datastores")
        if self.supervisord is not None and self.supervisord.poll() is None:
            self.supervisord.send_signal(signal.SIGTERM)

    def run(self) -> int:
        stack = self.stack
        conf = stack.var / "run" / "supervisord.conf"
        conf.write_text(supervise.config(stack))
        (stack.var / "run" / "supervisor.sock").unlink(missing_ok=True)
        tails = self.tails()
        with open(stack.var / "log" / "supervisord.out", "ab") as out:
            self.supervisord = subprocess.Popen(
                [str(Path(sys.executable).parent / "supervisord"), "-n", "-c", str(conf)],
                cwd=stack.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C in the terminal reaches this runner only, which
                # then stops supervisord once (it stops its children in order).
                start_new_session=True,
                # A runner killed outright (a test's timeout, SIGKILL) never gets to stop it:
                # supervisord then has SIGTERM from the kernel and stops its children itself.
                preexec_fn=die_with_parent,
            )
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda _s, _f: self.stop())
        follower = threading.Thread(target=self.follow_logs, args=(tails,), daemon=True)
        follower.start()
        threading.Thread(target=self.after_start, daemon=True).start()
        while self.supervisord.poll() is None:
            time.sleep(0.2)
        follower.join(timeout=5)
        code = self.supervisord.returncode
        if not self.stopping.is_set():
            self.say(
                f"!!! supervisord exited by itself ({code}); see {stack.var / 'log' / 'supervisord.log'}"
            )
            return code or 1
        services = {n for p in stack.processes() if p.is_service for n in supervise.instance_names(p)}
        unclean = {n: how for n, how in self.stops.items() if n in services and how != "exit status 0"}
        if unclean:
            self.say(
                "!!! not a clean stop: " + ", ".join(f"{n} ({how})" for n, how in sorted(unclean.items()))
            )
            return 1
        self.say("==> everything stopped cleanly")
        return code


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-demo", action="store_true", help="start without loading demo data")
    parser.add_argument("--var", default=str(ROOT / "var"))
    parser.add_argument(
        "--replicas",
        default=os.environ.get("REPLICAS", ""),
        help="processes per service, e.g. payments=2,notifications=2 (all=2: every service)",
    )
    parser.add_argument("--port-base", type=int, default=None, help="another block of ports (see ports_from)")
    args = parser.parse_args()

    amqp_url = os.environ.get("AMQP_URL", rabbit.DEFAULT_URL)
    rabbit.ensure(amqp_url)
    var = Path(args.var).resolve()
    for sub in ("log", "run", "mail", "keys"):
        (var / sub).mkdir(parents=True, exist_ok=True)
    stack = Stack(
        root=ROOT,
        var=var,
        ports=ports_from(args.port_base),
        amqp_url=amqp_url,
        bus_namespace=os.environ.get("BUS_NAMESPACE", ""),
        replicas=parse_replicas(args.replicas),
        # Pretty log lines: the terminal of `make up` is read by people.
        extra_env={"LOG_JSON": os.environ.get("LOG_JSON", "false")},
    )
    busy = [f"{p.name} (port {p.port})" for p in stack.processes() if p.port and _port_in_use(p.port)]
    if busy:
        raise SystemExit(
            "these ports are already taken, is the stack already running (`make status`, `make down`)?\n  "
            + "\n  ".join(busy)
        )
    # The gateway creates its signing key on first start; two replicas starting together on a
    # fresh var/ would each create one and sign with keys the other does not publish.
    load_or_create_key(var / "keys" / "current.pem")
    raise SystemExit(Runner(stack, load_demo=not args.no_demo).run())


def down() -> None:
    pid_file = ROOT / "var" / "run" / "supervisord.pid"
    if not pid_file.exists():
        print("the local stack is not running (no var/run/supervisord.pid)")
        return
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
        print(f"stopping the local stack (supervisord pid {pid}): services first, then the datastores")
    except ProcessLookupError:
        print("the local stack was not running")
        pid_file.unlink(missing_ok=True)


def status() -> None:
    stack = Stack(root=ROOT, var=ROOT / "var")
    import httpx

    worst = 0
    for service in SERVICES:
        try:
            response = httpx.get(f"{stack.url(service)}/readyz", timeout=2)
            state = "ready" if response.status_code == 200 else f"not ready {response.json().get('checks')}"
            worst = max(worst, 0 if response.status_code == 200 else 1)
        except httpx.HTTPError:
            state, worst = "down", 1
        print(f"{service:<14} {stack.url(service):<24} {state}")
    raise SystemExit(worst)


if __name__ == "__main__":
    main()
