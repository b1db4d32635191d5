"""Run nx-27017 with its per-command INFO logging turned down.

nx-27017 logs every wire command at INFO (to stdout and its log file); that floods the local
stack's console and costs time on every call. `python -m servicekit.testing.nx <nx args>`
is the same server with the level taken from NX_LOG_LEVEL (default WARNING).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from nx_27017 import nx_27017

_basic_config = logging.basicConfig


def _quiet_basic_config(**kwargs: Any) -> None:
    kwargs["level"] = getattr(logging, os.environ.get("NX_LOG_LEVEL", "WARNING").upper(), logging.WARNING)
    _basic_config(**kwargs)


def main() -> None:
    logging.basicConfig = _quiet_basic_config  # type: ignore[assignment]
    sys.argv[0] = "nx-27017"
    sys.exit(nx_27017.main())


if __name__ == "__main__":
    main()
