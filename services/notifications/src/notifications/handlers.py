"""Event consumers: turn platform events into notifications (walking skeleton)."""

from __future__ import annotations

from servicekit.bus import Handlers
from servicekit.events import Event
from servicekit.mongo import Tx

from .store import add_inbox_item

handlers = Handlers("notifications.events")


@handlers.on("campaign.published")
async def campaign_published(event: Event, tx: Tx) -> None:
    data = event.data
    await add_inbox_item(
        tx,
        item_id=f"{event.id}|{data['owner_id']}|inapp",
        user_id=data["owner_id"],
        kind="campaign.published",
        title=f"Your campaign “{data['title']}” is live",
        data={"campaign_id": data["campaign_id"]},
    )
