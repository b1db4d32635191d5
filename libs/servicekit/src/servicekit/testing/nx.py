"""Run nx-27017 with its per-command INFO logging turned down, its commands on its event loop.

* nx-27017 logs every wire command at INFO (to stdout and its log file); that floods the local
  stack's console and costs time on every call. Here the level comes from NX_LOG_LEVEL (default
  WARNING).
* nx-27017 hands every command to a thread (`asyncio.to_thread`) and waits for it on its event
  loop. Its handlers never wait for anything (no awaitable `hello`, no blocking cursors): each
  runs to completion on SQLite and returns, and one database's commands share one SQLite
  connection anyway. The two thread hand-offs per command cost a third of the server's CPU
  (0.58-0.69 -> 0.39-0.44 ms per transaction of an insert, an update and a commit), so here the
  handlers run on the loop itself. NX_COMMAND_THREADS=1 restores nx's own threads.

`python -m servicekit.testing.nx <nx args>` is otherwise the same server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from nx_27017 import nx_27017
from nx_27017 import server as nx_server

T = TypeVar("T")
_basic_config = logging.basicConfig


def _quiet_basic_config(**kwargs: Any) -> None:
    kwargs["level"] = getattr(logging, os.environ.get("NX_LOG_LEVEL", "WARNING").upper(), logging.WARNING)
    _basic_config(**kwargs)


class _InlineAsyncio:
    """`asyncio` as nx's server module sees it, with `to_thread` running the call in place."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def to_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return fn(*args, **kwargs)


def main() -> None:
    logging.basicConfig = _quiet_basic_config  # type: ignore[assignment]
    if os.environ.get("NX_COMMAND_THREADS", "") not in ("1", "true", "yes"):
        nx_server.asyncio = _InlineAsyncio()  # type: ignore[assignment]
    sys.argv[0] = "nx-27017"
    sys.exit(nx_27017.main())


if __name__ == "__main__":
    main()
