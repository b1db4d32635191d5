"""One transaction at a time per nx-27017 database, across every process of the machine.

nx-27017 runs all transactions of a database on one SQLite connection, so two open at once
nest as savepoints of each other and break ("no such savepoint"). Inside a process an
`asyncio.Lock` queues them; replicas of a service (several processes, one datastore, as the
local stack runs them) also take an exclusive `flock` on a file named after the datastore,
from the transaction's start to its commit or abort. The kernel drops a dead process's flock,
so a replica that crashes mid-transaction never blocks the others.

The lock is first tried without blocking, in the event loop: when no other process holds it,
as on a service's single replica and mostly with several, a transaction takes it with two
system calls instead of a round trip through a thread (a wake-up of the loop on every
transaction, while the in-process lock is held). Only when another process holds it does the
blocking `flock` wait in a thread (one per lock, so the event loop keeps serving), on a file
descriptor opened for that one acquisition: a waiter cancelled while its thread still waits
closes its own descriptor once the thread returns, which releases exactly its own lock and
never one another coroutine took meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import tempfile
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pymongo.uri_parser import parse_uri

_LOCKS: dict[tuple[str, str], DatastoreLock] = {}


def default_lock_dir() -> Path:
    """Where lock files go when the deployment names no directory (`MONGO_LOCK_DIR`): one place
    per machine, so every process that talks to one datastore finds the same file."""
    return Path(tempfile.gettempdir()) / "civicfund-txlocks"


def datastore_key(mongo_url: str, database: str) -> str:
    """A file name for (server, database): the same for every spelling of a local address."""
    hosts = []
    for host, port in parse_uri(mongo_url)["nodelist"]:
        hosts.append(f"{'127.0.0.1' if host in ('localhost', '::1') else host}_{port}")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{'+'.join(sorted(hosts))}-{database}") + ".lock"


class DatastoreLock:
    """Serialises transactions on one datastore: among this process's coroutines (asyncio lock,
    FIFO) and, when `path` is set, among processes (flock on `path`)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._local = asyncio.Lock()
        self._executor: ThreadPoolExecutor | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="txlock")

    def _open_and_lock(self) -> int:
        assert self.path is not None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _try_lock(self) -> int | None:
        """The lock at once, or None when another process holds it."""
        assert self.path is not None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return fd

    async def _lock_file(self) -> int:
        fd = self._try_lock()
        if fd is not None:
            return fd
        loop = asyncio.get_running_loop()
        acquiring = loop.run_in_executor(self._executor, self._open_and_lock)
        try:
            return await asyncio.shield(acquiring)
        except asyncio.CancelledError:

            def close_when_locked(done: asyncio.Future[int]) -> None:
                if not done.cancelled() and done.exception() is None:
                    os.close(done.result())

            acquiring.add_done_callback(close_when_locked)
            raise

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        async with self._local:
            if self.path is None:
                yield
                return
            fd = await self._lock_file()
            try:
                yield
            finally:
                os.close(fd)  # closing the descriptor drops its flock


def datastore_lock(mongo_url: str, database: str, lock_dir: str = "") -> DatastoreLock:
    """The lock of one datastore, shared by every `Mongo` of this process on it; its file lives in
    `lock_dir` ("": the machine-wide default directory)."""
    key = (mongo_url, database)
    lock = _LOCKS.get(key)
    if lock is None:
        directory = Path(lock_dir) if lock_dir else default_lock_dir()
        lock = _LOCKS[key] = DatastoreLock(directory / datastore_key(mongo_url, database))
    return lock
