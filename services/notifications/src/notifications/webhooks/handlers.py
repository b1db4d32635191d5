"""Consumer of the events city systems can subscribe to: event -> one delivery per matching
endpoint (endpoints.deliver_event). Sending happens in sender.py, never in the handler."""

from __future__ import annotations

from servicekit.bus import Handlers
from servicekit.events import Event
from servicekit.mongo import Tx

from . import endpoints
from .rules import WEBHOOK_EVENT_TYPES, envelope_body

webhook_handlers = Handlers("notifications.webhooks")


@webhook_handlers.on(*WEBHOOK_EVENT_TYPES)
async def deliver_to_city_endpoints(event: Event, tx: Tx) -> None:
    await endpoints.deliver_event(
        tx, event.id, event.routing_key, event.data["municipality"], envelope_body(event.to_json())
    )
