"""`make up`: the whole platform on this machine, no Docker, with demo data.

Starts (through honcho, from a generated Procfile) one nx-27017 per service with its data
under var/mongo/, localstripe, an SMTP sink writing to var/mail/, and the five services;
checks RabbitMQ (starting a local rabbitmq-server if none answers); waits until every
/readyz is green; loads the demo data through the gateway; prints the URLs. Ctrl-C stops it all.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import rabbit, seed
from .running import wait_ready
from .stack import SERVICES, Stack

ROOT = Path(__file__).resolve().parents[4]


def _after_ready(stack: Stack, honcho: subprocess.Popen, load_demo: bool) -> None:
    try:
        deadline = time.monotonic() + 120
        for service in SERVICES:
            wait_ready(f"{stack.url(service)}/readyz", deadline)
        if load_demo:
            print("\n==> every service is ready; loading demo data through the gateway", flush=True)
            demo = asyncio.run(seed.seed(stack.url("gateway"), stack.var))
            print(demo.summary(), flush=True)
        print(
            "\n==> Civicfund is running\n"
            f"    web site:        {stack.url('gateway')}/   <- open this in a browser\n"
            f"    API (gateway):   {stack.url('gateway')}/api/v1/...   docs: {stack.url('gateway')}/docs\n"
            + "".join(f"    {s + ':':<17}{stack.url(s)}/metrics\n" for s in SERVICES[1:])
            + f"    localstripe:     http://127.0.0.1:{stack.ports.localstripe}\n"
            f"    mail sink:       {stack.var / 'mail'} (SMTP 127.0.0.1:{stack.ports.smtp})\n"
            f"    logs:            honcho output above; nx-27017 logs in {stack.var / 'log'}\n"
            "    Ctrl-C stops everything.\n",
            flush=True,
        )
    except Exception as exc:  # the platform keeps running; say what went wrong
        print(f"\n!!! start-up check failed: {exc}\n", flush=True)
        if honcho.poll() is None and os.environ.get("CIVICFUND_UP_STRICT") == "1":
            honcho.send_signal(signal.SIGINT)


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-demo", action="store_true", help="start without loading demo data")
    parser.add_argument("--var", default=str(ROOT / "var"))
    args = parser.parse_args()

    amqp_url = os.environ.get("AMQP_URL", rabbit.DEFAULT_URL)
    rabbit.ensure(amqp_url)
    var = Path(args.var).resolve()
    for sub in ("log", "run", "mail", "keys"):
        (var / sub).mkdir(parents=True, exist_ok=True)
    stack = Stack(root=ROOT, var=var, amqp_url=amqp_url, bus_namespace=os.environ.get("BUS_NAMESPACE", ""))
    busy = [f"{p.name} (port {p.port})" for p in stack.processes() if p.port and _port_in_use(p.port)]
    if busy:
        raise SystemExit(
            "these ports are already taken, is the stack already running (`make status`, `make down`)?\n  "
            + "\n  ".join(busy)
        )
    procfile = var / "Procfile"
    procfile.write_text(stack.procfile())
    honcho_bin = str(Path(sys.executable).parent / "honcho")
    honcho = subprocess.Popen([honcho_bin, "-f", str(procfile), "-d", str(ROOT), "start"], cwd=ROOT)
    (var / "run" / "honcho.pid").write_text(str(honcho.pid))
    threading.Thread(target=_after_ready, args=(stack, honcho, not args.no_demo), daemon=True).start()
    try:
        code = honcho.wait()
    except KeyboardInterrupt:
        # honcho got the same SIGINT (same process group) and is stopping its children.
        code = honcho.wait()
    (var / "run" / "honcho.pid").unlink(missing_ok=True)
    raise SystemExit(code)


def down() -> None:
    pid_file = ROOT / "var" / "run" / "honcho.pid"
    if not pid_file.exists():
        print("the local stack is not running (no var/run/honcho.pid)")
        return
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
        print(f"stopping the local stack (honcho pid {pid})")
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
