"""Montreuil and its officials (filled in by the endorsements service's issue)."""

from __future__ import annotations

from .context import Demo


async def run(demo: Demo) -> None:
    return None
