"""Field types whose validation is exactly what the API document says.

pydantic's lax mode reads a number as a Unix time where a `datetime` is expected, so
`?before=0.5` was accepted although the document says `format: date-time`."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _iso_only(value: Any) -> Any:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("a date-time in ISO 8601 (2026-05-01T12:00:00Z), not a number")
    return value


IsoDatetime = Annotated[datetime, BeforeValidator(_iso_only)]
"""A `datetime` given as an ISO 8601 string (or a datetime), never as a number."""
