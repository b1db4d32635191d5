"""Bus benchmark: raw confirmed publishing vs the full event path, and end-to-end lag.

    make bench            (or: .venv/bin/python bench/bus.py [--events 2000] [--rates 50,200] [--seconds 10])

1. raw: aio-pika publishing persistent messages with publisher confirms, up to 500 in flight.
2. full path: each event is a Mongo transaction (a state row + its outbox row), the outbox relay
   publishes with confirms, a consumer handles it in a second transaction (inbox row + a counter
   update) and acks after commit. Throughput = events fully handled per second.
3. ceiling: bare transactions (two inserts each, nothing emitted) from one client on the
   producer's datastore, in the same run (alternating with the full path's bursts): what the
   datastore itself allows. The full path is printed as a share of it (issue 16 target: 70 %).
4. lag: events offered at fixed rates; lag = handled time - commit time, p50/p99. A rate above
   what the path sustains shows queueing, not the pipeline's own latency: both are printed
   (issue 16 target: p99 under 50 ms at 200 events/s). Each lag is also split at the broker's
   confirm of the relay's publish (timed around the relay's `publish_raw_many`): commit ->
   confirm is the relay and the broker, confirm -> handled the delivery and the consumer.
5. cost, for the bare transactions and the full path's bursts: CPU ms per event of each process
   ("bench": this one, the producer and its relay; "consumer": the child below; both nx-27017;
   the local RabbitMQ, which anything else using the broker also loads) and datastore commands
   per event by command (the child's client counts its own and reports them on request).

The consumer runs in a child process (`bus.py --consumer-child`, started by the bench), as it
is a different service from the producer in the platform: on one event loop its batches would
delay the producer's open transactions. Over a pipe it reports `<event id> <time>` for each
handled event (CLOCK_MONOTONIC, the same clock in every process on Linux), a batch's lines in
one write.

Both processes run on uvloop, as every service does (uvicorn picks it when it is installed).
The path is CPU-bound on a small machine: the bench prints the share of the machine's cores it
kept busy, and the rate that CPU per event allows at most.

Runs against the RabbitMQ at AMQP_URL (names under a unique prefix, deleted afterwards; the
broker is checked first as `make up` does, which enables the management plugin that deletes
them) and two fresh in-memory nx-27017 servers (producer and consumer, as two services would
have), or against real MongoDB with --producer-mongo/--consumer-mongo. It prints its figures;
nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import aio_pika
import uvloop
from pymongo import monitoring

from devstack.rabbit import ensure as ensure_broker
from servicekit.app import freeze_startup_heap
from servicekit.bus import INBOX_INDEXES, Bus, Handlers
from servicekit.events import Contracts, Event
from servicekit.logging import configure_logging
from servicekit.mongo import Mongo, Tx
from servicekit.outbox import OUTBOX_INDEXES, Outbox
from servicekit.settings import ServiceSettings
from servicekit.testing import procs
from servicekit.testing.rabbit import delete_namespace

AMQP = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
BARE_WARMUP = 50  # bare transactions before each timed run (counted in its CPU and commands)


class CommandCounter(monitoring.CommandListener):
    """Commands sent to each datastore, by server port and command name (pymongo's command
    monitoring): per event they depend far less on the machine's load than rates do."""

    def __init__(self) -> None:
        self.counts: dict[tuple[int, str], int] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        key = (event.connection_id[1], event.command_name)
        self.counts[key] = self.counts.get(key, 0) + 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_pid() -> int | None:
    """The local RabbitMQ's Erlang VM, to count its CPU (shared with anything else using it)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "beam.smp":
                    return int(entry.name)
    return None


class Meter:
    """CPU time of each process of the path and commands sent to each datastore over a run."""

    def __init__(
        self,
        counter: CommandCounter,
        pids: dict[str, int],
        ports: dict[int, str],
        elsewhere: Callable[[], Awaitable[dict[tuple[int, str], int]]],
    ) -> None:
        self.counter, self.pids, self.ports, self.elsewhere = counter, pids, ports, elsewhere
        self.cpu: dict[str, float] = dict.fromkeys(pids, 0.0)
        self.commands: dict[tuple[str, str], int] = {}
        self.units = 0

    @contextlib.asynccontextmanager
    async def measure(self, units: int):  # type: ignore[no-untyped-def]
        """`elsewhere` gives the counts of the other processes' clients (the consumer child)."""
        before_cmd = {**self.counter.counts, **await self.elsewhere()}
        before_cpu = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        yield
        for name, pid in self.pids.items():
            self.cpu[name] += cpu_seconds(pid) - before_cpu[name]
        for (port, command), n in {**self.counter.counts, **await self.elsewhere()}.items():
            key = (self.ports.get(port, str(port)), command)
            self.commands[key] = self.commands.get(key, 0) + n - before_cmd.get((port, command), 0)
        self.units += units

    def total_ms(self) -> float:
        """CPU ms per unit, every process of the path together."""
        return sum(self.cpu.values()) * 1000 / self.units

    def report(self, label: str, unit: str) -> None:
        cpu = ", ".join(f"{name} {ms * 1000 / self.units:.2f}" for name, ms in self.cpu.items())
        total = self.total_ms()
        print(f"  {label} CPU ms per {unit}: {cpu} (total {total:.2f})")
        for role in sorted({r for r, _ in self.commands}):
            per = {c: n / self.units for (r, c), n in sorted(self.commands.items()) if r == role and n}
            detail = ", ".join(f"{c} {v:.2f}" for c, v in per.items())
            print(f"  {label} {role} commands per {unit}: {sum(per.values()):.2f} ({detail})")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench_raw(amqp_url: str, exchange_name: str, n: int, in_flight: int = 500) -> float:
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(
            f"{exchange_name}.raw", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, "bench.#")
        body = json.dumps({"specversion": "1.0", "id": "x" * 36, "data": {"n": 1, "pad": "p" * 200}}).encode()
        sem = asyncio.Semaphore(in_flight)

        async def one() -> None:
            async with sem:
                await exchange.publish(
                    aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), "bench.raw"
                )

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        elapsed = time.perf_counter() - start
        await queue.delete(if_unused=False, if_empty=False)
        return n / elapsed


class Lag(NamedTuple):
    """One event's lag in ms: in all, then its two stages."""

    total: float
    to_confirm: float  # commit -> the broker's confirm of the relay's publish
    after_confirm: float  # confirm -> handled: delivery, the consumer's transaction and ack


def spread(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.1f} ms, p99 {percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms"


class FullPath:
    def __init__(
        self, producer_url: str, consumer_url: str, amqp_url: str, namespace: str, contracts: Path
    ) -> None:
        common = {"amqp_url": amqp_url, "bus_namespace": namespace, "log_level": "WARNING", "log_json": True,
                  "contracts_dir": str(contracts), "outbox_poll_interval_s": 0.5, "consumer_prefetch": 200}  # fmt: skip
        self.p_settings = ServiceSettings(
            service_name="benchproducer", mongo_url=producer_url, mongo_db="producer", **common
        )
        self.c_settings = ServiceSettings(
            service_name="benchconsumer", mongo_url=consumer_url, mongo_db="consumer", **common
        )
        self.contracts = Contracts(contracts)
        self.contracts_dir = contracts
        self.handled: dict[str, float] = {}
        self.confirmed: dict[str, float] = {}
        self.confirm_waits: list[tuple[float, int]] = []  # (ms, rows) of each publish the relay made
        self.committed: dict[str, float] = {}
        self.done = asyncio.Event()
        self.ready = asyncio.Event()
        self.expected = 0
        self.child: asyncio.subprocess.Process | None = None
        self.counts: dict[tuple[int, str], int] = {}
        self.counts_in = asyncio.Event()
        self._transport: asyncio.ReadTransport | None = None

    async def start(self) -> None:
        self.p_mongo = Mongo(self.p_settings)
        await self.p_mongo.connect([*OUTBOX_INDEXES], ["things", "bare_a", "bare_b"])
        self.outbox = Outbox(self.p_mongo, self.contracts)
        self.p_bus = Bus(self.p_settings)
        self.p_bus.publish_raw_many = self._timed(self.p_bus.publish_raw_many)  # type: ignore[method-assign]
        await self.p_bus.connect()
        self.stop = asyncio.Event()
        self.relay = asyncio.create_task(self.outbox.run_relay(self.p_bus, self.stop))
        await self.start_consumer()
        freeze_startup_heap()  # as a service does once started (servicekit.app)

    def _timed(
        self, publish: Callable[[Sequence[tuple[str, str, bytes, str]]], Awaitable[list[str]]]
    ) -> Callable[[Sequence[tuple[str, str, bytes, str]]], Awaitable[list[str]]]:
        """The relay's publish, noting when the broker confirmed each event and how long each
        publish waited: splits an event's lag into commit -> confirm (relay and broker) and
        confirm -> handled (delivery and the consumer's transaction)."""

        async def timed(rows: Sequence[tuple[str, str, bytes, str]]) -> list[str]:
            start = time.monotonic()
            sent = await publish(rows)
            now = time.monotonic()
            self.confirm_waits.append(((now - start) * 1000, len(rows)))
            for event_id in sent:
                self.confirmed[event_id] = now
            return sent

        return timed

    async def start_consumer(self) -> None:
        """The consumer service in a child process (the platform runs it apart from the
        producer); it reports (event id, handled time) lines on a pipe, which this loop reads
        as they come."""
        read_fd, write_fd = os.pipe()
        self.child = await asyncio.create_subprocess_exec(
            *[sys.executable, __file__, "--consumer-child", "--report-fd", str(write_fd),
             "--consumer-url", self.c_settings.mongo_url, "--amqp-url", self.c_settings.amqp_url,
             "--namespace", self.c_settings.bus_namespace, "--contracts", str(self.contracts_dir)],
            pass_fds=(write_fd,),
            stdin=asyncio.subprocess.PIPE,
            preexec_fn=procs.die_with_parent,
        )  # fmt: skip
        os.close(write_fd)
        self._transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: Reports(self), os.fdopen(read_fd, "rb", buffering=0)
        )
        await asyncio.wait_for(self.ready.wait(), timeout=120)

    async def consumer_counts(self) -> dict[tuple[int, str], int]:
        """The commands the child's client has sent so far, by (server port, command)."""
        assert self.child is not None and self.child.stdin is not None
        self.counts_in.clear()
        self.child.stdin.write(b"counts\n")
        await self.child.stdin.drain()
        await asyncio.wait_for(self.counts_in.wait(), timeout=30)
        return dict(self.counts)

    def on_counts(self, counts: dict[str, int]) -> None:
        self.counts = {
            (int(port), command): n for key, n in counts.items() for port, command in [key.split()]
        }
        self.counts_in.set()

    def on_handled(self, event_id: str, at: float) -> None:
        self.handled[event_id] = at
        if len(self.handled) >= self.expected:
            self.done.set()

    async def emit_one(self, i: int) -> None:
        async def work(tx: Tx) -> str:
            await tx.db.things.insert_one({"_id": uuid.uuid4().hex, "i": i}, session=tx.session)
            return tx.emit("bench.ping", str(i), {"n": i}).id

        event_id = await self.p_mongo.transact(work)
        self.committed[event_id] = time.monotonic()

    async def bare_rate(self, n: int) -> float:
        """Transactions of two inserts, one after the other from one client, on the producer's
        datastore: the ceiling the full path is measured against (its own first step is this
        transaction, plus the outbox row)."""

        async def work(tx: Tx) -> None:
            await tx.db.bare_a.insert_one({"_id": uuid.uuid4().hex, "i": 1}, session=tx.session)
            await tx.db.bare_b.insert_one({"_id": uuid.uuid4().hex, "i": 2}, session=tx.session)

        for _ in range(BARE_WARMUP):
            await self.p_mongo.transact(work)
        start = time.perf_counter()
        for _ in range(n):
            await self.p_mongo.transact(work)
        return n / (time.perf_counter() - start)

    async def run_burst(self, n: int, writers: int = 16) -> float:
        self.reset(n)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(n):
            queue.put_nowait(i)

        async def writer() -> None:
            while not queue.empty():
                await self.emit_one(queue.get_nowait())

        start = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(writers)))
        await asyncio.wait_for(self.done.wait(), timeout=600)
        return n / (time.perf_counter() - start)

    async def run_rate(self, rate: float, seconds: float) -> list[Lag]:
        n = int(rate * seconds)
        self.reset(n)
        start = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.emit_one(i)))
        await asyncio.gather(*tasks)
        await asyncio.wait_for(self.done.wait(), timeout=600)
        lags = []
        for event_id, committed in self.committed.items():
            confirmed, handled = self.confirmed[event_id], self.handled[event_id]
            lags.append(
                Lag(*(1000 * t for t in (handled - committed, confirmed - committed, handled - confirmed)))
            )
        return lags

    def reset(self, n: int) -> None:
        self.handled.clear()
        self.committed.clear()
        self.confirmed.clear()
        self.confirm_waits.clear()
        self.done.clear()
        self.expected = n

    async def close(self) -> None:
        if hasattr(self, "relay"):
            self.stop.set()
            self.outbox._wake.set()
            await self.relay
        if self.child is not None:
            assert self.child.stdin is not None
            self.child.stdin.close()
            self.child.terminate()
            await asyncio.wait_for(self.child.wait(), timeout=30)
        if self._transport is not None:
            self._transport.close()
        if hasattr(self, "p_bus"):
            await self.p_bus.close()
        if hasattr(self, "p_mongo"):
            await self.p_mongo.close()


class Reports(asyncio.Protocol):
    """Lines from the consumer child: `ready`, then `<event id> <handled monotonic time>`."""

    def __init__(self, path: FullPath) -> None:
        self.path, self.rest = path, b""

    def data_received(self, data: bytes) -> None:
        *lines, self.rest = (self.rest + data).split(b"\n")
        for line in lines:
            if line == b"ready":
                self.path.ready.set()
                continue
            if line.startswith(b"counts "):
                self.path.on_counts(json.loads(line[len(b"counts ") :]))
                continue
            event_id, at = line.split()
            self.path.on_handled(event_id.decode(), float(at))


async def consumer_child(args: argparse.Namespace) -> None:
    """The consumer service: its own nx-27017 client, bus connection and event loop. Each
    handled event's (id, time) is written to the report pipe; lines written during one
    transaction go out together, in one write, once the loop next gets to it."""
    configure_logging("benchconsumer", "WARNING", json=True)
    counter = CommandCounter()
    monitoring.register(counter)
    settings = ServiceSettings(
        service_name="benchconsumer", mongo_url=args.consumer_url, mongo_db="consumer",
        amqp_url=args.amqp_url, bus_namespace=args.namespace, log_level="WARNING", log_json=True,
        contracts_dir=args.contracts, consumer_prefetch=200,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    mongo = Mongo(settings)
    await mongo.connect([*INBOX_INDEXES], ["counters"])
    bus = Bus(settings)
    await bus.connect()
    handlers = Handlers("bench.consumer")
    lines: list[str] = []

    def flush() -> None:
        data = "".join(lines).encode()
        lines.clear()
        while data:
            data = data[os.write(args.report_fd, data) :]

    @handlers.on("bench.ping")
    async def handle(event: Event, tx: Tx) -> None:
        await tx.db.counters.update_one({"_id": "pings"}, {"$inc": {"n": 1}}, upsert=True, session=tx.session)
        if not lines:
            loop.call_soon(flush)
        lines.append(f"{event.id} {time.monotonic()!r}\n")

    await bus.consumer(handlers, mongo, Contracts(Path(args.contracts))).start()
    freeze_startup_heap()  # as a service does once started (servicekit.app)
    lines.append("ready\n")
    flush()

    class Requests(asyncio.Protocol):
        """`counts` lines from the bench on stdin: answered with this client's command counts."""

        def data_received(self, data: bytes) -> None:
            for _ in range(data.count(b"\n")):
                counts = {f"{port} {command}": n for (port, command), n in counter.counts.items()}
                lines.append(f"counts {json.dumps(counts)}\n")
            flush()

    await loop.connect_read_pipe(Requests, sys.stdin.buffer)
    await stop.wait()
    await bus.close()
    await mongo.close()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000, help="events for the throughput runs")
    parser.add_argument(
        "--rates",
        default="50,200",
        help="offered events/s for the lag runs (comma-separated; 200 is the target)",
    )
    parser.add_argument("--bare", type=int, default=2000, help="bare transactions for the ceiling")
    parser.add_argument("--rounds", type=int, default=4, help="bare and full-path runs alternate this often")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the lag run")
    parser.add_argument("--producer-mongo", help="MongoDB URL for the producer (default: a fresh nx-27017)")
    parser.add_argument("--consumer-mongo", help="MongoDB URL for the consumer (default: a fresh nx-27017)")
    parser.add_argument("--consumer-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--report-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--consumer-url", help=argparse.SUPPRESS)
    parser.add_argument("--amqp-url", help=argparse.SUPPRESS)
    parser.add_argument("--namespace", help=argparse.SUPPRESS)
    parser.add_argument("--contracts", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.consumer_child:
        await consumer_child(args)
        return

    configure_logging("bench", "WARNING", json=True)
    amqp_url, namespace = AMQP, f"bench{uuid.uuid4().hex[:6]}."
    ensure_broker(amqp_url)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        (work / "contracts" / "events").mkdir(parents=True)
        (work / "contracts" / "events" / "bench.ping.json").write_text(
            json.dumps({"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}})
        )
        counter = CommandCounter()
        monitoring.register(counter)  # before the clients exist: it applies to those created after
        urls, pids, ports = [], {"bench": os.getpid()}, {}
        for role, given in (("producer", args.producer_mongo), ("consumer", args.consumer_mongo)):
            if given:
                urls.append(given)
                continue
            port = procs.free_port()
            proc = stack.enter_context(
                procs.process(procs.nx_args(port, "memory", work), port, work / f"nx-{role}.out")
            )
            pids[f"nx-{role}"], ports[port] = proc.pid, role
            urls.append(f"mongodb://127.0.0.1:{port}/?directConnection=true")

        print(
            f"# bus benchmark: RabbitMQ {amqp_url.rsplit('@', 1)[-1]}, producer {urls[0]}, consumer {urls[1]}"
        )
        raw = await bench_raw(amqp_url, f"{namespace}raw", max(args.events * 5, 10000))
        print(f"raw confirmed publish (500 in flight):      {raw:8.0f} msg/s")

        if (beam := broker_pid()) is not None:
            pids["rabbitmq"] = beam
        path = FullPath(urls[0], urls[1], amqp_url, namespace, work / "contracts")
        try:
            await path.start()
            assert path.child is not None
            pids["consumer"] = path.child.pid
            bare_meter = Meter(counter, pids, ports, path.consumer_counts)
            full_meter = Meter(counter, pids, ports, path.consumer_counts)
            await path.run_burst(200)  # warm-up: connections, queue declarations
            # Interleaved in rounds, so that load from elsewhere on the machine weighs on both
            # alike; each rate is the total count over the total time of its rounds.
            bare_s = full_s = 0.0
            for _ in range(args.rounds):
                async with bare_meter.measure(args.bare // args.rounds + BARE_WARMUP):
                    bare_s += args.bare / args.rounds / await path.bare_rate(args.bare // args.rounds)
                async with full_meter.measure(args.events // args.rounds):
                    full_s += args.events / args.rounds / await path.run_burst(args.events // args.rounds)
            bare, full = args.bare / bare_s, args.events / full_s
            print(f"bare transaction, two inserts, one client:  {bare:8.0f} txn/s")
            print(f"full path (txn+outbox -> relay -> broker -> consumer txn+inbox): {full:8.0f} events/s")
            print(f"full path / bare transaction (target >= 70 %): {full / bare:8.1%}")
            print(f"full path / raw:                           {full / raw:8.1%}")
            bare_meter.report("bare", "txn")
            full_meter.report("full path", "event")
            # Every process of the path shares this machine's cores: the CPU it spends per event
            # bounds its rate whatever the pipeline does (the bare transaction, two processes
            # taking turns, keeps about one core busy).
            cores = os.cpu_count() or 1
            per_event = full_meter.total_ms()
            print(
                f"  full path kept {full * per_event / 1000:.2f} of {cores} cores busy; at "
                f"{per_event:.2f} ms CPU per event they allow at most {cores * 1000 / per_event:.0f} "
                f"events/s = {cores * 1000 / per_event / bare:.1%} of the bare transaction rate"
            )
            for rate in (float(r) for r in args.rates.split(",")):
                lags = await path.run_rate(rate, args.seconds)
                print(
                    f"lag at {rate:.0f} events/s for {args.seconds:.0f}s (commit -> handled): "
                    f"{spread([lag.total for lag in lags])}"
                )
                # Where a tail comes from: the relay's publish waiting for the broker (a quorum
                # queue confirms once its log is synced to disk), or the consumer's side.
                wait_ms, rows = max(path.confirm_waits)
                print(
                    f"  commit -> broker confirm: {spread([lag.to_confirm for lag in lags])} "
                    f"(slowest publish waited {wait_ms:.1f} ms for {rows} event(s))"
                )
                print(f"  confirm -> handled:       {spread([lag.after_confirm for lag in lags])}")
        finally:
            await path.close()
    delete_namespace(amqp_url, namespace)


if __name__ == "__main__":
    uvloop.run(main())
    sys.exit(0)
