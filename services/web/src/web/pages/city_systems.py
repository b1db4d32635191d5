"""A city's systems, for its officials: webhooks (register, the secret shown once, deliveries,
replay), API clients (create, rotate; the secret shown once), the AMQP credentials of the city's
feed, and the catalogue of the events the city's systems receive with the AsyncAPI document.
Notifications, the gateway and endorsements hold the rules; the pages show what they answer."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter
from fastapi.responses import Response

from servicekit.events import default_contracts_dir

from ..gateway import ApiFailure
from ..site import Form, SignedIn, Site
from .city_console import form_errors, may_manage, official_city, optional, role_names

router = APIRouter()

MAX_DELIVERIES = 10


async def _render_webhooks(
    site: Site, slug: str, *, status: int = 200, values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None, created: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    city, role, _officials = await official_city(site, slug)
    api = site.client()
    endpoints, types = await asyncio.gather(
        api.notifications_list_endpoints(municipality=slug), optional(site, api.notifications_event_types())
    )
    items = endpoints["items"]
    logs = await asyncio.gather(
        *(optional(site, api.notifications_delivery_log(e["id"], limit=MAX_DELIVERIES)) for e in items)
    )
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
            created = await site.client().notifications_register_endpoint(
                body={"municipality": slug, **values}
            )
        except ApiFailure as failure:
            if failure.status not in (400, 409, 422):
                raise
            errors = form_errors(failure)
    if errors:
        return await _render_webhooks(site, slug, status=422, values=values, errors=errors)
    # The secret is shown once, on this answer (a redirect would have to carry it).
    return await _render_webhooks(site, slug, created=created)


@router.post("/cities/{slug}/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay", include_in_schema=False)
async def replay_delivery(
    site: SignedIn, form: Form, slug: str, endpoint_id: str, delivery_id: str
) -> Response:
    _ = site.gettext
    await official_city(site, slug)
    try:
        await site.client().notifications_replay_one(endpoint_id, delivery_id)
    except ApiFailure as failure:
        if failure.status not in (400, 403, 404, 409, 422):
            raise
        site.flash(_("The delivery was not replayed: %(reason)s") % {"reason": failure.message}, "error")
    else:
        site.flash(_("The event is sent again; its new delivery shows in the list."))
    return site.redirect(f"/cities/{slug}/webhooks#ep-{endpoint_id}")


# -- API clients, the AMQP feed, the event catalogue ------------------------------------------


def _contracts_dir(site: Site) -> Path:
    return Path(site.settings.contracts_dir) if site.settings.contracts_dir else default_contracts_dir()


@functools.cache
def _catalogue(path: Path) -> tuple[str, list[dict[str, str]]]:
    """The AsyncAPI document and its channels (routing key and what it means), read once."""
    text = path.read_text(encoding="utf-8")
    doc = yaml.safe_load(text) or {}
    channels = [
        {"address": str(c.get("address", "")), "description": str(c.get("description", ""))}
        for c in (doc.get("channels") or {}).values()
        if isinstance(c, dict)
    ]
    return text, channels


async def _render_systems(
    site: Site, slug: str, *, status: int = 200, values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None, secret: dict[str, Any] | None = None,
    amqp: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    city, role, _officials = await official_city(site, slug)
    clients = await optional(site, site.client().gateway_list_clients(municipality=slug))
    _text, channels = _catalogue(_contracts_dir(site) / "asyncapi.yaml")
    form = {"name": "", **(values or {})}
    return site.render("city_systems/systems.html", status=status, city=city, role=role,
                       clients=(clients or {}).get("items", []), clients_refused=clients is None, form=form,
                       errors=errors or {}, secret=secret, amqp=amqp, channels=channels,
                       manage=may_manage(role), roles=role_names(site))  # fmt: skip


@router.get("/cities/{slug}/systems", include_in_schema=False)
async def systems_page(site: SignedIn, slug: str) -> Response:
    return await _render_systems(site, slug)


@router.get("/cities/{slug}/systems/asyncapi.yaml", include_in_schema=False)
async def asyncapi_document(site: SignedIn, slug: str) -> Response:
    await official_city(site, slug)
    text, _channels = _catalogue(_contracts_dir(site) / "asyncapi.yaml")
    return site.finish(Response(text, media_type="application/yaml",
                                headers={"content-disposition": 'inline; filename="asyncapi.yaml"'}))  # fmt: skip


@router.post("/cities/{slug}/systems/clients", include_in_schema=False)
async def create_client(site: SignedIn, form: Form, slug: str) -> Response:
    _ = site.gettext
    values = {"name": str(form.get("name", "")).strip()}
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = _("Name the system that uses this client, e.g. the city's open-data portal.")
    secret = None
    if not errors:
        try:
            secret = await site.client().gateway_create_client(
                body={"municipality": slug, "name": values["name"][:100]}
            )
        except ApiFailure as failure:
            if failure.status not in (400, 403, 409, 422):
                raise
            errors = form_errors(failure)
    if errors:
        return await _render_systems(site, slug, status=422, values=values, errors=errors)
    # The secret is shown once, on this answer (a redirect would have to carry it).
    return await _render_systems(site, slug, secret=secret)


@router.post("/cities/{slug}/systems/clients/{client_id}/rotate", include_in_schema=False)
async def rotate_client(site: SignedIn, form: Form, slug: str, client_id: str) -> Response:
    await official_city(site, slug)
    try:
        secret = await site.client().gateway_rotate_secret(client_id)
    except ApiFailure as failure:
        if failure.status not in (400, 403, 404, 409, 422):
            raise
        return await _render_systems(site, slug, status=422, errors={"__all__": failure.message})
    return await _render_systems(site, slug, secret=secret)


@router.post("/cities/{slug}/systems/amqp", include_in_schema=False)
async def amqp_credentials(site: SignedIn, form: Form, slug: str) -> Response:
    await official_city(site, slug)
    try:
        amqp = await site.client().endorsements_create_amqp_user(slug)
    except ApiFailure as failure:
        if failure.status not in (400, 403, 404, 409, 422, 503):
            raise
        return await _render_systems(site, slug, status=422 if failure.status != 503 else 503,
                                     errors={"__all__": failure.message})  # fmt: skip
    return await _render_systems(site, slug, amqp=amqp)
