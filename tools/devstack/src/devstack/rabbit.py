"""Make sure a RabbitMQ answers at AMQP_URL: start a locally installed one if none does.

python -m devstack.rabbit          # exit 0 when the broker answers, 1 with advice if not
python -m devstack.rabbit --reset  # (root) if it cannot boot, start it again with an empty database
python -m devstack.rabbit --sweep  # also delete what interrupted test runs left on it
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"


def reachable(url: str, timeout: float = 1.0) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5672), timeout=timeout):
            return True
    except OSError:
        return False


def _wait(url: str, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while not reachable(url):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _node_running() -> bool:
    """Whether a RabbitMQ node runs here, even if it does not accept AMQP yet (booting)."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        return False
    try:
        return (
            subprocess.run([ctl, "-q", "ping"], capture_output=True, timeout=30, check=False).returncode == 0
        )
    except subprocess.TimeoutExpired:
        return False


def _show_logs() -> None:
    for log in sorted(Path("/var/log/rabbitmq").glob("*")):
        if log.is_file() and log.stat().st_size:
            lines = log.read_text(errors="replace").splitlines()[-15:]
            print(f"--- {log} (last lines)", *lines, sep="\n", file=sys.stderr)


def _reset_local_node(server: str) -> None:
    """Last resort on a machine the caller owns (CI, or --reset): stop what is left of the node and
    start it with an empty database. A broker whose disk state came from a killed node (quorum
    queues of interrupted runs) can fail to boot or to accept connections for minutes."""
    print("RabbitMQ still not answering: stopping the local node and starting it empty", flush=True)
    subprocess.run(["pkill", "-9", "-f", "beam.*rabbit"], check=False)
    subprocess.run(["pkill", "-9", "-x", "epmd"], check=False)
    time.sleep(1)
    mnesia = Path("/var/lib/rabbitmq/mnesia")
    if mnesia.is_dir():
        for child in mnesia.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    subprocess.run([server, "-detached"], check=False)


def ensure(url: str | None = None, wait_s: float = 120.0, reset: bool = False) -> None:
    url = url or os.environ.get("AMQP_URL", DEFAULT_URL)
    local = (urlparse(url).hostname or "") in ("127.0.0.1", "localhost", "::1")
    if not reachable(url):
        server = shutil.which("rabbitmq-server") or (
            "/usr/sbin/rabbitmq-server" if os.path.exists("/usr/sbin/rabbitmq-server") else None
        )
        if not local or server is None:
            raise SystemExit(
                f"RabbitMQ does not answer at {url}.\n"
                "Start one, e.g. `sudo apt-get install rabbitmq-server` (then it starts itself), or\n"
                "`docker run -d -p 5672:5672 -p 15672:15672 rabbitmq:3-management`, or point AMQP_URL at yours."
            )
        if _node_running():
            print(f"a RabbitMQ node runs but does not accept AMQP at {url} yet: waiting", flush=True)
        else:
            print(f"RabbitMQ not answering at {url}: starting {server} -detached", flush=True)
            subprocess.run([server, "-detached"], check=False)
        if not _wait(url, wait_s):
            _show_logs()
            if not (reset and os.geteuid() == 0):
                raise SystemExit(
                    f"started rabbitmq-server but nothing answers at {url} after {wait_s:.0f}s "
                    "(`python -m devstack.rabbit --reset`, as root, restarts it with an empty database)"
                )
            _reset_local_node(server)
            if not _wait(url, wait_s):
                _show_logs()
                raise SystemExit(f"RabbitMQ started empty but nothing answers at {url} after {wait_s:.0f}s")
    if local and shutil.which("rabbitmq-plugins"):
        # The management API lets ops (and the city-user tooling) manage users and permissions.
        # Bounded: a broker that accepts TCP but is wedged would otherwise hang `make up` here.
        try:
            subprocess.run(
                ["rabbitmq-plugins", "enable", "--quiet", "rabbitmq_management"],
                check=False,
                capture_output=True,
                timeout=30,
            )
        except subprocess.TimeoutExpired:
            print("rabbitmq-plugins did not answer in 30 s; going on without checking the management plugin")


# Names test runs, benches and development stacks give their broker objects (BUS_NAMESPACE).
THROWAWAY = re.compile(r"^(t[0-9a-f]{8}|dev\d+|bench[0-9a-f]{6}|shots[0-9a-f]{6})\.")


def sweep_idle_namespaces(url: str | None = None) -> int:
    """Delete the queues and exchanges of throwaway namespaces in which no queue has a consumer:
    what an interrupted test run left. Idle quorum queues hold file handles, and RabbitMQ stops
    accepting connections once they run out. Run it only when no test run is starting."""
    from servicekit.testing.rabbit import MANAGEMENT_URL, delete_namespace

    url = url or os.environ.get("AMQP_URL", DEFAULT_URL)
    parsed = urlparse(url)
    auth = (unquote(parsed.username or "guest"), unquote(parsed.password or "guest"))
    try:
        listing = httpx.get(
            f"{MANAGEMENT_URL}/api/queues", params={"columns": "name,consumers"}, auth=auth, timeout=30
        )
    except httpx.HTTPError:
        return 0
    if listing.status_code != 200:
        return 0
    busy: dict[str, bool] = {}
    for queue in listing.json():
        match = THROWAWAY.match(queue["name"])
        if match:
            namespace = match.group(1) + "."
            busy[namespace] = busy.get(namespace, False) or bool(queue.get("consumers"))
    return sum(delete_namespace(url, namespace) for namespace, used in busy.items() if not used)


if __name__ == "__main__":
    # CI owns its machine: there a broker that cannot boot is started again empty.
    ensure(reset="--reset" in sys.argv[1:] or os.environ.get("CI") == "true")
    print("RabbitMQ is up", file=sys.stderr)
    if "--sweep" in sys.argv[1:]:
        print(f"deleted {sweep_idle_namespaces()} idle broker objects of earlier runs", file=sys.stderr)
