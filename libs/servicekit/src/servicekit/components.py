"""Typed components: a service registers its objects by type once, routes receive them as typed
FastAPI dependencies instead of looking them up by string key.

    # app.py, at start-up
    ctx.provide(PledgeBook(...))
    # deps.py
    Pledges = Annotated[PledgeBook, Depends(component(PledgeBook))]
    # api_pledges.py
    async def create_pledge(body: PledgeIn, pledges: Pledges) -> PledgeOut: ...

Kept apart from app.py so that plumbing modules (idempotency) can declare their dependency
without importing the app factory.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from fastapi import Request

T = TypeVar("T")


class Components:
    """Instances keyed by the type they are provided as."""

    def __init__(self) -> None:
        self._by_type: dict[type, Any] = {}

    def provide(self, instance: T, as_type: type | None = None) -> T:
        """Register `instance` under `as_type` (default: its own class); returns it, so
        `store = ctx.provide(Store(db))` reads naturally. Providing a type again replaces it."""
        self._by_type[as_type or type(instance)] = instance
        return instance

    def get(self, kind: type[T]) -> T:
        try:
            return self._by_type[kind]
        except KeyError:
            known = ", ".join(sorted(t.__name__ for t in self._by_type)) or "none"
            raise LookupError(f"no component of type {kind.__name__} was provided (known: {known})") from None

    def has(self, kind: type) -> bool:
        return kind in self._by_type


@cache
def component(kind: type[T]) -> Callable[[Request], T]:
    """A FastAPI dependency returning the service's component of type `kind`.

    Cached per type: every route gets the same callable, so FastAPI resolves it once per request."""

    def dependency(request: Request) -> T:
        return request.app.state.ctx.get(kind)

    dependency.__name__ = f"component_{kind.__name__}"
    return dependency
