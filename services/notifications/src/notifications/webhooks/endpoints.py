"""Use cases: a city's webhook endpoints (register, change, rotate the secret, delete), their
delivery log and replays, and one delivery per matching endpoint for each event.

Only the city's managers (token claim municipalities {slug: "manager"}), admins and the city's
own systems (client tokens of that city) manage a city's endpoints; the check is here because
an endpoint's city is known once it is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.mongo import Mongo, Tx, utcnow

from ..settings import Settings
from ..store import Doc
from ..tokens import new_webhook_secret
from . import store
from .rules import (
    SIGNATURE_SCHEMES,
    WEBHOOK_EVENT_TYPES,
    UrlRefused,
    check_event_types,
    matches,
    new_delivery_id,
    new_endpoint_id,
    new_secret_entry,
    original_delivery_id,
    rotated_secrets,
)
from .sender import check_url

MAX_REPLAY = 1000
MAX_ID = 100  # ids are far shorter: refuse without a query


@dataclass(frozen=True)
class WithSecret:
    """An endpoint and its new secret: shown once, never readable again."""

    endpoint: Doc
    secret: str


@dataclass(frozen=True)
class Replayed:
    delivery_ids: list[str]
    truncated: bool = False


def _require_manager(actor: Principal, slug: str) -> None:
    if not (actor.is_admin or actor.is_official_of(slug, "manager") or actor.is_client_of(slug)):
        raise DomainError(
            "forbidden", 403, f"only {slug}'s managers, its own systems (or an admin) manage its webhooks"
        )


async def _managed(source: Mongo | Tx, actor: Principal, endpoint_id: str) -> Doc:
    doc = await store.find_endpoint(source, endpoint_id[:MAX_ID])
    if doc is None or doc["status"] == "deleted":
        raise DomainError("not_found", 404, "no such webhook endpoint")
    _require_manager(actor, doc["municipality"])
    return doc


def _event_types(values: list[str]) -> list[str]:
    try:
        return check_event_types(values)
    except ValueError as exc:
        raise DomainError(
            "invalid_event_type", 422, str(exc), details=[{"allowed": [*WEBHOOK_EVENT_TYPES, "<entity>.*"]}]
        ) from exc


async def _checked_url(settings: Settings, url: str) -> str:
    try:
        await check_url(url, settings.environment)
    except UrlRefused as exc:
        raise DomainError("url_refused", 422, str(exc)) from exc
    return url


async def register(
    mongo: Mongo,
    settings: Settings,
    actor: Principal,
    municipality: str,
    url: str,
    event_types: list[str],
    description: str,
) -> WithSecret:
    _require_manager(actor, municipality)
    types = _event_types(event_types)
    url = await _checked_url(settings, url)
    now = utcnow()
    secret = new_webhook_secret()
    doc = {
        "_id": new_endpoint_id(),
        "municipality": municipality,
        "url": url,
        "event_types": types,
        "description": description,
        "status": "active",
        "created_at": now,
        "created_by": actor.sub,
        "consecutive_failures": 0,
        "secrets": [new_secret_entry(secret, now)],
        "signature_scheme": "standard",
    }

    async def insert(tx: Tx) -> None:
        await store.insert_endpoint(tx, doc)

    await mongo.transact(insert)
    return WithSecret(doc, secret)


async def list_for_city(mongo: Mongo, actor: Principal, municipality: str) -> list[Doc]:
    _require_manager(actor, municipality)
    return await store.live_endpoints(mongo, municipality)


async def get(mongo: Mongo, actor: Principal, endpoint_id: str) -> Doc:
    return await _managed(mongo, actor, endpoint_id)


async def change(
    mongo: Mongo,
    settings: Settings,
    actor: Principal,
    endpoint_id: str,
    *,
    enabled: bool | None = None,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    signature_scheme: str | None = None,
) -> Doc:
    """`enabled=True` re-enables a disabled endpoint: held deliveries flow again.
    `signature_scheme` moves an endpoint registered before Standard Webhooks to `standard` (or
    back to `legacy`); the secrets stay, only the signature's form changes."""
    doc = await _managed(mongo, actor, endpoint_id)
    update: dict[str, Any] = {}
    unset: tuple[str, ...] = ()
    if signature_scheme is not None:
        if signature_scheme not in SIGNATURE_SCHEMES:
            raise DomainError("invalid_signature_scheme", 422, f"one of {', '.join(SIGNATURE_SCHEMES)}")
        update["signature_scheme"] = signature_scheme
    if event_types is not None:
        update["event_types"] = _event_types(event_types)
    if url is not None:
        update["url"] = await _checked_url(settings, url)
    if description is not None:
        update["description"] = description
    if enabled is True and doc["status"] != "active":
        update.update(status="active", consecutive_failures=0)
        unset = ("failing_since",)
    elif enabled is False:
        update["status"] = "disabled"
        update["disabled_at"] = utcnow()

    async def save(tx: Tx) -> Doc:
        saved = await store.update_endpoint(tx, doc["_id"], {**update, "updated_at": utcnow()}, unset)
        assert saved is not None
        return saved

    return await mongo.transact(save)


async def delete(mongo: Mongo, actor: Principal, endpoint_id: str) -> None:
    """Stops deliveries; the endpoint and its log are kept for the record, secrets are dropped."""
    doc = await _managed(mongo, actor, endpoint_id)

    async def delete(tx: Tx) -> None:
        await store.update_endpoint(
            tx, doc["_id"], {"status": "deleted", "secrets": [], "deleted_at": utcnow()}
        )

    await mongo.transact(delete)


async def rotate_secret(
    mongo: Mongo, settings: Settings, actor: Principal, endpoint_id: str, grace_seconds: int | None
) -> WithSecret:
    """A new secret (shown once); the previous one keeps signing for the grace period, so the
    receiver can switch without losing a delivery."""
    doc = await _managed(mongo, actor, endpoint_id)
    grace = settings.webhook_secret_grace_s if grace_seconds is None else grace_seconds
    secret = new_webhook_secret()

    async def save(tx: Tx) -> Doc:
        current = await store.find_endpoint(tx, doc["_id"])
        assert current is not None
        secrets = rotated_secrets(current, secret, grace, utcnow())
        saved = await store.update_endpoint(
            tx, doc["_id"], {"secrets": secrets, "secret_rotated_at": utcnow()}
        )
        assert saved is not None
        return saved

    return WithSecret(await mongo.transact(save), secret)


async def delivery_log(
    mongo: Mongo,
    actor: Principal,
    endpoint_id: str,
    status: str | None,
    before: datetime | None,
    limit: int,
) -> list[tuple[Doc, list[Doc]]]:
    """The endpoint's deliveries, newest first, each with its attempts, oldest first."""
    doc = await _managed(mongo, actor, endpoint_id)
    deliveries = await store.list_deliveries(mongo, doc["_id"], status, before, limit)
    by_delivery: dict[str, list[Doc]] = {}
    for attempt in await store.attempts_of(mongo, [d["_id"] for d in deliveries]):
        by_delivery.setdefault(attempt["delivery_id"], []).append(attempt)
    return [(d, by_delivery.get(d["_id"], [])) for d in deliveries]


async def _replay(tx: Tx, delivery: Doc, endpoint: Doc) -> str:
    """A new delivery of the same event (same event id in the body, new delivery id)."""
    delivery_id = new_delivery_id()
    await store.create_delivery(
        tx,
        delivery_id,
        endpoint,
        delivery["event_id"],
        delivery["event_type"],
        delivery["body"],
        replay_of=delivery.get("replay_of") or delivery["_id"],
    )
    return delivery_id


async def replay_one(mongo: Mongo, actor: Principal, endpoint_id: str, delivery_id: str) -> Replayed:
    doc = await _managed(mongo, actor, endpoint_id)

    async def again(tx: Tx) -> str:
        delivery = await store.find_delivery(tx, doc["_id"], delivery_id[:MAX_ID])
        if delivery is None:
            raise DomainError("not_found", 404, "no such delivery for this endpoint")
        return await _replay(tx, delivery, doc)

    return Replayed([await mongo.transact(again)])


async def replay_since(
    mongo: Mongo,
    actor: Principal,
    endpoint_id: str,
    since: datetime,
    until: datetime | None,
    only_failed: bool,
) -> Replayed:
    """Delivers again every event this endpoint was sent since `since` (optionally only the
    ones that finally failed), oldest first, at most MAX_REPLAY per call (`truncated` says to
    call again from the last one's time)."""
    doc = await _managed(mongo, actor, endpoint_id)
    if since.tzinfo is None or (until is not None and until.tzinfo is None):
        raise DomainError("naive_datetime", 422, "give times with a timezone, e.g. 2026-11-22T03:00:00Z")

    async def again(tx: Tx) -> Replayed:
        originals = await store.originals_between(tx, doc["_id"], since, until, only_failed, MAX_REPLAY + 1)
        ids = [await _replay(tx, d, doc) for d in originals[:MAX_REPLAY]]
        return Replayed(ids, truncated=len(originals) > MAX_REPLAY)

    return await mongo.transact(again)


async def deliver_event(tx: Tx, event_id: str, event_type: str, municipality: str, body: str) -> int:
    """One delivery per endpoint of this city whose filter matches (disabled ones too: they
    are held, not lost, and flow once the endpoint is enabled again)."""
    created = 0
    for endpoint in await store.live_endpoints(tx, municipality):
        if matches(list(endpoint["event_types"]), event_type):
            delivery_id = original_delivery_id(event_id, endpoint["_id"])
            created += await store.create_delivery(tx, delivery_id, endpoint, event_id, event_type, body)
    return created
