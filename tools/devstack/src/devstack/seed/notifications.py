"""Notification preferences and a city webhook (filled in by the notifications service's issue)."""

from __future__ import annotations

from .context import Demo


async def run(demo: Demo) -> None:
    return None
