"""Consumer of the events city systems can subscribe to: one delivery row per matching endpoint.
Sending happens in webhook_sender.py, never in the handler."""

from __future__ import annotations

from servicekit.bus import Handlers
from servicekit.events import Event
from servicekit.mongo import Tx

from .webhook_rules import WEBHOOK_EVENT_TYPES
from .webhook_store import envelope_body, fan_out_event

webhook_handlers = Handlers("notifications.webhooks")


@webhook_handlers.on(*WEBHOOK_EVENT_TYPES)
async def deliver_to_city_endpoints(event: Event, tx: Tx) -> None:
    await fan_out_event(
        tx, event.id, event.routing_key, event.data["municipality"], envelope_body(event.to_json())
    )
