"""A city's systems, for its officials: webhooks (register, the secret shown once, deliveries,
replay), API clients (create, rotate; the secret shown once), the AMQP credentials of the city's
feed, and the catalogue of the events the city's systems receive with the AsyncAPI document.
Notifications, the gateway and endorsements hold the rules; the pages show what they answer."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ..gateway import ApiFailure
from ..site import Form, SignedIn, Site
from .city_console import form_errors, official_city, optional, role_names

router = APIRouter()

WEBHOOKS = "/api/v1/notifications/webhooks"
MAX_DELIVERIES = 10


async def _render_webhooks(
    site: Site, slug: str, *, status: int = 200, values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None, created: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    city, role, _officials = await official_city(site, slug)
    endpoints, types = await asyncio.gather(
        site.api("GET", f"{WEBHOOKS}/endpoints", params={"municipality": slug}),
        optional(site, f"{WEBHOOKS}/event-types"),
    )
    items = endpoints.get("items", [])
    logs = await asyncio.gather(
        *(optional(site, f"{WEBHOOKS}/endpoints/{e['id']}/deliveries", params={"limit": MAX_DELIVERIES})
          for e in items)
    )  # fmt: skip
    hooks = [
        {"endpoint": e, "deliveries": (log or {}).get("items", [])}
        for e, log in zip(items, logs, strict=True)
    ]
    form = {"url": "", "description": "", "event_types": [], **(values or {})}
    return site.render("city_systems/webhooks.html", status=status, city=city, role=role, hooks=hooks,
                       event_types=(types or {}).get("event_types", []), form=form, errors=errors or {},
                       created=created, roles=role_names(site))  # fmt: skip


@router.get("/cities/{slug}/webhooks", include_in_schema=False)
async def webhooks_page(site: SignedIn, slug: str) -> Response:
    return await _render_webhooks(site, slug)


@router.post("/cities/{slug}/webhooks", include_in_schema=False)
async def register_webhook(site: SignedIn, form: Form, slug: str) -> Response:
    _ = site.gettext
    values: dict[str, Any] = {
        "url": str(form.get("url", "")).strip(),
        "description": str(form.get("description", "")).strip(),
        "event_types": [str(v) for v in form.getlist("event_types")],
    }
    errors: dict[str, str] = {}
    if not values["url"]:
        errors["url"] = _("Enter the address that receives the events (https://...).")
    if not values["event_types"]:
        errors["event_types"] = _("Choose at least one kind of event.")
    created = None
    if not errors:
        try:
            created = await site.api("POST", f"{WEBHOOKS}/endpoints", json={"municipality": slug, **values})
        except ApiFailure as failure:
            if failure.status not in (400, 409, 422):
                raise
            errors = form_errors(failure)
    if errors:
        return await _render_webhooks(site, slug, status=422, values=values, errors=errors)
    # The secret is shown once, on this answer (a redirect would have to carry it).
    return await _render_webhooks(site, slug, created=created)
