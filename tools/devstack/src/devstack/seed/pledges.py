"""Backers and their pledges (filled in by the payments service's issue)."""

from __future__ import annotations

from .context import Demo


async def run(demo: Demo) -> None:
    return None
