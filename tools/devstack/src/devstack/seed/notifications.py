"""Notification preferences and Montreuil's webhook endpoint, through the gateway.

* Sofia opts in to calls for projects in her city (off by default) and stops emails about the
  campaigns she follows (she reads them in the app).
* Claire, Montreuil's manager, registers a webhook endpoint for the city's label, match-funding
  and call events at http://127.0.0.1:8090/hooks/montreuil. Nothing listens there unless you
  start a receiver (see services/notifications/README.md): deliveries are then retried on the
  backoff schedule and visible in the delivery log. The one-time secret is printed here.
"""

from __future__ import annotations

from .context import Demo

N = "/api/v1/notifications"
HOOK_URL = "http://127.0.0.1:8090/hooks/montreuil"


async def run(demo: Demo) -> None:
    sofia = demo.people["sofia"]
    await demo.api(sofia).notifications_change_preferences(
        body={"categories": {"calls": {"email": True, "inapp": True}, "campaign_news": {"email": False}}}
    )

    claire = demo.people["montreuil_manager"]
    existing = await demo.api(claire).notifications_list_endpoints(municipality="montreuil")
    for endpoint in existing["items"]:
        if endpoint["url"] == HOOK_URL:
            demo.ids["webhook.montreuil"] = endpoint["id"]
            demo.notes.append(
                f"webhook {endpoint['id']} -> {HOOK_URL} already registered; its secret was shown "
                f"once (POST {N}/webhooks/endpoints/{endpoint['id']}/rotate-secret for a new one)"
            )
            return
    created = await demo.api(claire).notifications_register_endpoint(
        body={
            "municipality": "montreuil",
            "url": HOOK_URL,
            "event_types": ["endorsement.*", "match.committed", "call.opened", "call.proposal_selected"],
            "description": "Montreuil's project-tracking system (demo)",
        },
    )
    demo.ids["webhook.montreuil"] = created["id"]
    print(f"    webhook secret for {HOOK_URL} (shown once): {created['secret']}", flush=True)
    demo.notes.append(f"webhook {created['id']} -> {HOOK_URL}, secret (shown once): {created['secret']}")
