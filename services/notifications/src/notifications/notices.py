"""Use case: record that something should be told to an audience (a fan-out job).

Nothing is sent here: the job is written in the caller's transaction (an event's inbox
transaction, or a webhook attempt's), and fanout.py expands it later, page by page.

Callers describe names and recipients that may need a look-up with the markers below; they are
resolved against the projection in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from servicekit.mongo import Tx

from . import store
from .domain import Stage, city_display_name, to_user


class ProjectionNotReady(Exception):
    """Retryable: the event names a campaign whose owner we have not learnt yet (reordering)."""


@dataclass(frozen=True)
class TitleOf:
    """A campaign's title: the event's `campaign_title` if it has one, else the projection's,
    else the campaign id."""

    campaign_id: str
    given: str | None = None


@dataclass(frozen=True)
class NameOf:
    """A city's display name: `given`, else from municipality.registered, else from the slug."""

    slug: str
    given: str | None = None


@dataclass(frozen=True)
class OwnerOf:
    """Audience: a campaign's owner (the event's `owner_id`, else the projection's)."""

    campaign_id: str
    given: str | None = None


@dataclass(frozen=True)
class Invitee:
    """Audience: an invited address that may have no account yet; in the language of the
    account that has that address, English otherwise."""

    email: str
    invitation_id: str


async def _value(tx: Tx, value: Any) -> Any:
    if isinstance(value, TitleOf):
        if value.given:
            return value.given
        campaign = await store.find_campaign(tx, value.campaign_id)
        return campaign["title"] if campaign else value.campaign_id
    if isinstance(value, NameOf):
        if value.given:
            return value.given
        city = await store.find_municipality(tx, value.slug)
        return city["name"] if city else city_display_name(value.slug)
    return value


async def _stage(tx: Tx, stage: Stage | OwnerOf | Invitee) -> Stage:
    if isinstance(stage, OwnerOf):
        if stage.given:
            return to_user(stage.given, "owner")
        campaign = await store.find_campaign(tx, stage.campaign_id)
        if campaign is None:
            raise ProjectionNotReady(f"campaign {stage.campaign_id} not known yet")
        return to_user(campaign["owner_id"], "owner")
    if isinstance(stage, Invitee):
        known = await store.find_user_by_email(tx, stage.email)
        locale = (known or {}).get("locale") or "en"
        recipient = known["_id"] if known else f"invitee:{stage.invitation_id}"
        return to_user(recipient, "user", email=stage.email, locale=locale)
    return stage


async def notify(
    tx: Tx,
    event_id: str,
    kind: str,
    data: Mapping[str, Any],
    audience: Sequence[Stage | OwnerOf | Invitee],
    action_path: str = "",
    *,
    job_id: str | None = None,
    **context: Any,
) -> None:
    """Tell `audience` about `kind` (one job per event and kind: a redelivered event adds none).

    `context` goes to the templates (campaign_title, municipality_name, action_url ...)."""
    stages = [await _stage(tx, s) for s in audience]
    values = {name: await _value(tx, value) for name, value in context.items()}
    await store.add_fanout_job(
        tx,
        job_id or f"{event_id}|{kind}",
        kind,
        {"event_id": event_id, "d": dict(data), "action_path": action_path, **values},
        stages,
    )
