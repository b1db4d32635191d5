"""Bounded input types every endpoint shares (pydantic `Annotated` constraints)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{2,60}$")]
Id = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
UserId = Id
Category = Annotated[str, StringConstraints(min_length=2, max_length=40, pattern=r"^[a-z0-9_-]+$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Postcode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9 -]{2,10}$")]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
Money = Annotated[int, Field(ge=1, le=10_000_000_000, description="minor units")]
