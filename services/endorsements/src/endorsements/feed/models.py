"""What the feed route answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FeedItem(BaseModel):
    cursor: str = Field(description="this event's position in the city's feed")
    routing_key: str = Field(description="its routing key on civicfund.public, e.g. montreuil.label.granted")
    event: dict[str, Any] = Field(
        description="the CloudEvents 1.0 envelope exactly as civicfund.public carries it "
        "(type org.civicfund.public.<entity>.<verb>, data per contracts/events/public.*.json)"
    )


class FeedOut(BaseModel):
    items: list[FeedItem]
    next_cursor: str = Field(description="pass as `after` for what follows (the same when nothing did)")
    has_more: bool = Field(description="more events follow now: call again with next_cursor")
