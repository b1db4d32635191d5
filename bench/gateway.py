"""Is the gateway a bottleneck? The same GET, directly against campaigns and through the
gateway, at 1 and 64 concurrent connections, in one run.

    .venv/bin/python bench/gateway.py                 # starts its own stack on free ports
    .venv/bin/python bench/gateway.py --gateway http://127.0.0.1:8000 --direct http://127.0.0.1:8001

Prints requests/s and p50/p99 latency for each, the throughput ratio through the gateway and
the latency it adds at p50, against the targets of issue 16: added p50 < 1 ms at one
connection, the campaign read >= 90 % of direct at 64 connections, and for `/livez` (nothing
behind it, so the proxy's own cost stands out: the gateway's ceiling) >= 50 % of direct. Two
GETs are measured: a real campaign read (`/campaigns/{id}`: the service does a database read)
and `/livez`. The load generator is an aiohttp client in this process, on the same machine:
numbers are relative, not capacity planning.

Direct and through the gateway alternate in rounds (`--rounds`), each figure over all of its
rounds, so a load that comes and goes weighs on both. The load generator, the gateway and the
service share this machine's cores, so the throughput ratio also measures how they share them;
the gateway's ceiling is therefore printed a second way too, from CPU time per request: what one
core serves of `/livez` in the gateway against what it serves in the trivial upstream.

On a shared, loaded machine throughput and latency swing from run to run; the CPU time the
gateway and the service spend per request (from /proc, for the processes of the bench's own
stack, or `--gateway-pid/--direct-pid`) moves much less, so it is printed too, with the load
average before and after. Against a running stack, its per-IP rate limit must allow the load
(the bench's own stack raises it; `RATE_LIMIT_ENABLED=false` on the gateway does too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    label: str
    connections: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    # CPU milliseconds per request of the (gateway, service) processes, when their pids are known.
    cpu_ms: tuple[float | None, float | None] = (None, None)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(len(data) * p))] if data else float("nan")


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), None if unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    label: str,
    url: str,
    connections: int,
    seconds: float,
    headers: dict[str, str],
    pids: tuple[int | None, int | None] = (None, None),
) -> Result:
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    latencies: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker(stop_at: float, record: bool) -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                start = time.perf_counter()
                try:
                    async with session.get(url) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                if record:
                    latencies.append((time.perf_counter() - start) * 1000)
                    errors += 0 if ok else 1

        # Warm-up: open the connections and let both sides' caches settle.
        await asyncio.gather(*(worker(time.perf_counter() + 0.5, False) for _ in range(connections)))
        cpu_before = [cpu_seconds(pid) for pid in pids]
        began = time.perf_counter()
        await asyncio.gather(*(worker(began + seconds, True) for _ in range(connections)))
        elapsed = time.perf_counter() - began
        cpu_after = [cpu_seconds(pid) for pid in pids]

    def per_request(i: int) -> float | None:
        before, after = cpu_before[i], cpu_after[i]
        if before is None or after is None:
            return None
        return (after - before) * 1000 / max(1, len(latencies))

    return Result(
        label, connections, len(latencies), errors, elapsed, latencies, (per_request(0), per_request(1))
    )


def merged(parts: list[Result]) -> Result:
    """Several runs of one scenario as one: counts and times added, CPU per request weighted
    by requests."""
    requests = sum(p.requests for p in parts)

    def cpu(i: int) -> float | None:
        values = [p.cpu_ms[i] for p in parts]
        if any(v is None for v in values):
            return None
        return sum(v * p.requests for v, p in zip(values, parts, strict=True)) / max(1, requests)  # type: ignore[operator]

    return Result(
        parts[0].label,
        parts[0].connections,
        requests,
        sum(p.errors for p in parts),
        sum(p.seconds for p in parts),
        [ms for p in parts for ms in p.latencies_ms],
        (cpu(0), cpu(1)),
    )


async def prepare(gateway: str) -> tuple[str, dict[str, str]]:
    """A campaign to read, created the way a user would (register, log in, create)."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.localhost"
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        await client.post(
            "/api/v1/auth/register",
            json={"email": email, "password": "bench password 123", "display_name": "Bench", "locale": "en"},
        )
        login = await client.post(
            "/api/v1/auth/login", json={"email": email, "password": "bench password 123"}
        )
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        created = await client.post(
            "/api/v1/campaigns/campaigns",
            headers=headers,
            json={"title": "Bench garden", "municipality": "montreuil", "goal": 100000, "currency": "EUR"},
        )
        if created.status_code != 201:
            raise SystemExit(
                f"could not create a campaign to read: {created.status_code} {created.text[:300]}"
            )
        return created.json()["id"], headers


@contextlib.contextmanager
def own_stack() -> Iterator[tuple[str, str, int, int]]:
    sys.path.insert(0, str(ROOT / "tools" / "devstack" / "src"))
    from devstack.running import throwaway

    print("starting a stack on free ports ...", flush=True)
    env = {"LOG_LEVEL": "WARNING", "RATE_LIMIT_IP": "100000000/minute", "RATE_LIMIT_USER": "100000000/minute"}
    with throwaway("bench", env) as run:
        yield (
            run.stack.url("gateway"),
            run.stack.url("campaigns"),
            run.procs["gateway"].pid,
            run.procs["campaigns"].pid,
        )


# Issue 16's throughput targets at 64 connections (through the gateway, as a share of direct).
RATIO_TARGETS = {"campaign GET": 0.90, "livez": 0.50}


def _cpu(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "-"


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "unknown"


def report(results: list[Result]) -> None:
    print(
        f"\n{'scenario':<34}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'gw cpu ms/req':>15}{'svc cpu ms/req':>16}"
    )
    for r in results:
        print(
            f"{r.label:<34}{r.connections:>6}{r.rps:>10.0f}{r.pct(0.5):>9.2f}{r.pct(0.99):>9.2f}{r.errors:>8}"
            f"{_cpu(r.cpu_ms[0]) if 'via' in r.label else '-':>15}{_cpu(r.cpu_ms[1]):>16}"
        )
    print()
    by = {(r.label, r.connections): r for r in results}
    for what in ("campaign GET", "livez"):
        for conns in sorted({r.connections for r in results}):
            direct, via = by.get((f"{what} direct", conns)), by.get((f"{what} via gateway", conns))
            if direct and via:
                ratio = via.rps / direct.rps
                added = via.pct(0.5) - direct.pct(0.5)
                target = (
                    f" (target >= {RATIO_TARGETS[what]:.0%})" if conns == 64 and what in RATIO_TARGETS else ""
                )
                print(
                    f"{what:<13} {conns:>2} conn: through-gateway throughput {ratio:6.1%} of direct{target}, "
                    f"added p50 {added:+.2f} ms" + (" (target < 1 ms)" if conns == 1 else "")
                )
    # The same ceiling from CPU time: what one core could serve of `/livez` in the gateway and
    # in the trivial upstream alone. Throughput above also depends on how the three processes
    # (load generator, gateway, upstream) share this machine's cores; this does not.
    direct, via = by.get(("livez direct", 64)), by.get(("livez via gateway", 64))
    if direct and via and direct.cpu_ms[1] and via.cpu_ms[0]:
        gateway_ceiling, upstream_ceiling = 1000 / via.cpu_ms[0], 1000 / direct.cpu_ms[1]
        print(
            f"livez         64 conn: per core from CPU time, the gateway serves {gateway_ceiling:,.0f} req/s, "
            f"the trivial upstream {upstream_ceiling:,.0f}: {gateway_ceiling / upstream_ceiling:.1%}"
        )


async def run(
    gateway: str,
    direct: str,
    seconds: float,
    connections: list[int],
    pids: tuple[int | None, int | None] = (None, None),
    rounds: int = 2,
) -> None:
    campaign_id, headers = await prepare(gateway)
    print(f"load average before: {load_average()}", flush=True)
    targets = [
        ("campaign GET direct", f"{direct}/campaigns/{campaign_id}"),
        ("campaign GET via gateway", f"{gateway}/api/v1/campaigns/campaigns/{campaign_id}"),
        ("livez direct", f"{direct}/livez"),
        ("livez via gateway", f"{gateway}/api/v1/campaigns/livez"),
    ]
    results = []
    for conns in connections:
        for direct_target, via_target in zip(targets[::2], targets[1::2], strict=True):
            # Direct and through the gateway alternate in rounds, so that load from elsewhere on
            # the machine weighs on both alike; each figure is over all its rounds.
            runs: dict[str, list[Result]] = {direct_target[0]: [], via_target[0]: []}
            for i in range(rounds):
                for label, url in (direct_target, via_target):
                    print(f"  {label} at {conns} connection(s), round {i + 1}/{rounds} ...", flush=True)
                    runs[label].append(await load(label, url, conns, seconds, headers, pids))
            results.extend(merged(parts) for parts in runs.values())
    report(results)
    print(f"load average after: {load_average()} ({os.cpu_count()} CPUs)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gateway", help="a running gateway (default: start a stack)")
    parser.add_argument("--direct", help="the campaigns service behind it")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", default="1,64")
    parser.add_argument("--rounds", type=int, default=2, help="direct and via alternate this often")
    parser.add_argument("--gateway-pid", type=int, help="the running gateway's process (CPU per request)")
    parser.add_argument("--direct-pid", type=int, help="the running service's process (CPU per request)")
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    if args.gateway and args.direct:
        pids = (args.gateway_pid, args.direct_pid)
        asyncio.run(run(args.gateway, args.direct, args.seconds, connections, pids, args.rounds))
        return
    with own_stack() as (gateway, direct, gateway_pid, direct_pid):
        asyncio.run(run(gateway, direct, args.seconds, connections, (gateway_pid, direct_pid), args.rounds))


if __name__ == "__main__":
    main()
