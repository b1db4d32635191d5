"""Transactions serialised across processes on one nx-27017 database (replicas of a service)."""

from __future__ import annotations

import asyncio
import fcntl
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from pymongo import MongoClient

from servicekit.txlock import DatastoreLock, datastore_key

# A replica's worth of read-modify-write transactions: read the counter, let other work in
# (the await a real use case has between its read and its write), write it back plus one.
WORKER = textwrap.dedent(
    """
    import asyncio, sys, time
    from servicekit.mongo import Mongo
    from servicekit.settings import ServiceSettings

    async def main() -> None:
        settings = ServiceSettings(service_name="locktest", mongo_url=sys.argv[1], mongo_db=sys.argv[2],
                                   mongo_lock_dir=sys.argv[3])
        mongo = Mongo(settings)
        await mongo.connect(collections=["counters"])
        # Both replicas start their transactions at the same moment, however long each took to
        # start: otherwise the first can be done before the second begins, and nothing meets.
        await asyncio.sleep(max(0.0, float(sys.argv[5]) - time.time()))

        async def bump(tx):
            doc = await tx.db.counters.find_one({"_id": "c"}, session=tx.session)
            await asyncio.sleep(0.002)
            await tx.db.counters.update_one({"_id": "c"}, {"$set": {"n": doc["n"] + 1}}, session=tx.session)

        async def worker() -> None:
            for _ in range(int(sys.argv[4])):
                await mongo.transact(bump)

        await asyncio.gather(worker(), worker())
        await mongo.close()

    asyncio.run(main())
    """
)
PER_PROCESS = 2 * 40  # two coroutines of 40 transactions each


def _run_replicas(nx_url: str, database: str, lock_dirs: list[Path]) -> list[subprocess.CompletedProcess]:
    client: MongoClient = MongoClient(nx_url)
    client[database].counters.insert_one({"_id": "c", "n": 0})
    client.close()
    start_at = str(time.time() + 8)  # after both interpreters imported servicekit and connected
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, nx_url, database, str(lock_dir), str(PER_PROCESS // 2), start_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for lock_dir in lock_dirs
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def _counter(nx_url: str, database: str) -> int:
    client: MongoClient = MongoClient(nx_url)
    try:
        return int(client[database].counters.find_one({"_id": "c"})["n"])
    finally:
        client.close()


def test_two_processes_on_one_nx_database_lose_no_update(nx_url: str, tmp_path: Path) -> None:
    database = f"locktest_{uuid.uuid4().hex[:6]}"
    results = _run_replicas(nx_url, database, [tmp_path, tmp_path])
    assert [r.returncode for r in results] == [0, 0], [r.stderr[-2000:] for r in results]
    assert _counter(nx_url, database) == 2 * PER_PROCESS


def test_without_a_shared_lock_file_the_same_replicas_break(nx_url: str, tmp_path: Path) -> None:
    """The control: each process with its own lock directory serialises only itself, and the
    two processes' transactions meet on the one SQLite connection."""
    database = f"locktest_{uuid.uuid4().hex[:6]}"
    results = _run_replicas(nx_url, database, [tmp_path / "a", tmp_path / "b"])
    failed = any(r.returncode != 0 for r in results)
    assert failed or _counter(nx_url, database) != 2 * PER_PROCESS


def _locked_elsewhere(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


async def test_a_waiter_cancelled_while_its_thread_waits_leaves_no_lock_behind(tmp_path: Path) -> None:
    lock = DatastoreLock(tmp_path / datastore_key("mongodb://localhost:27017/", "db"))
    assert lock.path is not None and lock.path.name == "127.0.0.1_27017-db.lock"
    outsider = os.open(lock.path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(outsider, fcntl.LOCK_EX)  # another process holds the datastore
    waiter = asyncio.create_task(_hold(lock, asyncio.Event()))
    await asyncio.sleep(0.2)  # its thread is now blocked in flock
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    os.close(outsider)  # the blocked thread gets the lock now, and must give it back
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(lock, release))
    await asyncio.sleep(0.2)
    assert _locked_elsewhere(lock.path)  # held by the second coroutine
    release.set()
    await holder
    await asyncio.sleep(0.1)
    assert not _locked_elsewhere(lock.path)


async def _hold(lock: DatastoreLock, release: asyncio.Event) -> None:
    async with lock.hold():
        await release.wait()


async def test_replicas_starting_together_on_one_datastore_both_start(nx_url: str) -> None:
    """They all list the collections before any creates them: the later ones find them created.
    The interleaving varies from run to run, so the race is run a few times."""
    from servicekit.mongo import Mongo
    from servicekit.settings import ServiceSettings

    for _ in range(8):
        settings = ServiceSettings(
            service_name="replicas", mongo_url=nx_url, mongo_db=f"start_{uuid.uuid4().hex[:6]}"
        )
        replicas = [Mongo(settings) for _ in range(4)]
        names = [f"c{i}" for i in range(30)]
        try:
            await asyncio.gather(*(replica.connect(collections=names) for replica in replicas))
            assert set(names) <= set(await replicas[0].db.list_collection_names())
        finally:
            for replica in replicas:
                await replica.close()
