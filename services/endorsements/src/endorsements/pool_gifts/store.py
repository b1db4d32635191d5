"""One record per gift (keyed by the pledge it came from), so a gift is added to its pool once."""

from __future__ import annotations

from ..store import Collection

gifts = Collection("pool_gifts")
COLLECTIONS = ["pool_gifts"]
