"""What the city console's pages share (calls, officials, subscription, city systems): the
city and the caller's role, reads a page can do without, the API's refusal as form errors, and
the names shown for API values. No routes here.

Every rule stays in the services: `official_city` asks endorsements for the city's officials,
which answers 403 to anyone but its officials and admins (the 403 page)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from ..gateway import ApiFailure
from ..site import Site

E = "/api/v1/endorsements"


def role_names(site: Site) -> dict[str, str]:
    _ = site.gettext
    return {"reviewer": _("reviewer"), "manager": _("manager"), "admin": _("administrator")}


def form_errors(failure: ApiFailure) -> dict[str, str]:
    errors = dict(failure.field_errors())
    if not errors:
        errors["__all__"] = failure.message
    return errors


async def optional(site: Site, read: str | Awaitable[Any], **kwargs: Any) -> Any:
    """A read the page can do without (None when the API refuses or is down): a typed client
    call (`site.client().endorsements_list_pools(slug)`), or a path for pages still calling by
    path (then `kwargs` are `site.api`'s)."""
    try:
        return await (site.api("GET", read, **kwargs) if isinstance(read, str) else read)
    except ApiFailure:
        return None


async def official_city(site: Site, slug: str) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    """The city, the caller's role there and the city's officials; the officials list answers
    403 to anyone but the city's officials and admins (the error page), 404 for an unknown city."""
    api = site.client()
    officials = await api.endorsements_list_officials(slug)
    city = await api.endorsements_get_municipality(slug)
    me = site.user.get("id") if site.user else None
    items: list[dict[str, Any]] = [dict(o) for o in officials["items"]]
    role = next((o["role"] for o in items if o.get("user_id") == me), None)
    return dict(city), role or ("admin" if site.is_admin else ""), items


def may_manage(role: str) -> bool:
    return role in ("manager", "admin")
