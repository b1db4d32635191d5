"""Labels: owners request, officials of the campaign's own city review, grant (with support
offers and optionally a match-funding commitment), decline, revoke with a public reason."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.idempotency import Idempotency, required_key
from servicekit.mongo import Mongo, Tx, as_utc, utcnow

from .. import store
from ..access import CityOfficial, may_read_city, require_active, require_official
from ..events_out import emit_label_event
from ..matching import usecases as matching
from ..municipalities.domain import belongs_to, located_by
from ..store import Doc
from . import store as labels
from .domain import TransitionError, needs_subscription, next_status, open_key, support_totals
from .models import (
    CampaignLabelsOut,
    CampaignSummary,
    GrantIn,
    LabelOut,
    LabelRequestIn,
    LabelRequestsOut,
    OwnProjectIn,
    QueueItem,
    ReasonIn,
    ReviewQueueOut,
)

# What an action changes on the label besides its status: (tx, label, role, city) -> changes.
Apply = Callable[[Tx, Doc, str, Doc], Awaitable[dict[str, Any]]]
CLOSED_CAMPAIGN = ("failed", "canceled", "rejected", "completed")
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)  # a label stored without created_at sorts last


async def _campaign(src: store.Source, campaign_id: str) -> Doc:
    doc = await store.campaign(src, campaign_id)
    if doc is None:
        raise DomainError("campaign_not_found", 404, "no such campaign (or it is not known here yet)")
    return doc


async def _create(
    tx: Tx, campaign: Doc, slug: str, status: str, actor: str, origin: str, **extra: Any
) -> Doc:
    doc = {
        "_id": f"lbl_{uuid.uuid4().hex}",
        "campaign_id": campaign["_id"],
        "municipality": slug,
        "owner_id": campaign["owner_id"],
        "status": status,
        "origin": origin,
        "open_key": open_key(campaign["_id"], slug),
        "currency": campaign.get("currency", "EUR"),
        "support": [],
        "in_kind_value": 0,
        "commitment_ids": [],
        "history": [{"status": status, "by": actor, "at": utcnow().isoformat()}],
        "version": 1,
        "created_at": utcnow(),
        **extra,
    }
    try:
        await labels.insert(tx, doc)
    except DuplicateKeyError as exc:
        raise DomainError("label_exists", 409, f"{slug} already has an open label for this campaign") from exc
    await emit_label_event(tx, doc)
    return doc


async def request_label(mongo: Mongo, principal: Principal, body: LabelRequestIn) -> LabelOut:
    """A campaign owner asks a city for its label."""
    campaign = await _campaign(mongo.db, body.campaign_id)
    if campaign["owner_id"] != principal.sub:
        raise DomainError("forbidden", 403, "only the campaign's owner can request a label")
    slug = body.municipality or campaign.get("municipality") or ""
    muni = await store.municipality(mongo.db, slug)
    if not belongs_to(campaign, slug, store.territory_of(muni)):
        raise DomainError("outside_territory", 422, f"the campaign is not located in {muni['name']}")
    if campaign.get("status") in CLOSED_CAMPAIGN:
        raise DomainError("campaign_closed", 409, f"the campaign is {campaign['status']}")
    extra = {"message": body.message} if body.message else {}

    async def work(tx: Tx) -> Doc:
        return await _create(tx, campaign, slug, "requested", principal.sub, "owner", **extra)

    return LabelOut.of(await mongo.transact(work))


async def review_queue(mongo: Mongo, official: CityOfficial) -> ReviewQueueOut:
    """Campaigns in the city's territory, with their label if any; requested ones first."""
    assert official.municipality is not None
    campaigns = await store.campaigns_in_territory(
        mongo.db, official.municipality, {"status": {"$in": ["draft", "submitted", "live", "succeeded"]}}
    )
    by_campaign = {d["campaign_id"]: d for d in await labels.open_in_city(mongo.db, official.slug)}
    territory = store.territory_of(official.municipality)
    items = [
        QueueItem(
            campaign=CampaignSummary.of(c),
            label=LabelOut.of(by_campaign[c["_id"]]) if c["_id"] in by_campaign else None,
            located_by=located_by(c, official.slug, territory),
        )
        for c in campaigns
    ]
    order = {"requested": 0, None: 1, "under_review": 2, "granted": 3}
    items.sort(key=lambda i: (order[i.label.status if i.label else None], i.campaign.id))
    return ReviewQueueOut(items=items)


async def open_review(mongo: Mongo, official: CityOfficial, campaign_id: str) -> LabelOut:
    """A city takes up a campaign from its queue without waiting for a request."""
    muni = official.municipality
    assert muni is not None
    campaign = await _campaign(mongo.db, campaign_id)
    if not belongs_to(campaign, official.slug, store.territory_of(muni)):
        raise DomainError(
            "forbidden", 403, f"this campaign is not in {muni['name']}: only its own city labels it"
        )
    await require_active(mongo.db, muni)

    async def work(tx: Tx) -> Doc:
        return await _create(tx, campaign, official.slug, "under_review", official.principal.sub, "city")

    return LabelOut.of(await mongo.transact(work))


async def own_project(mongo: Mongo, manager: CityOfficial, body: OwnProjectIn) -> LabelOut:
    """The city's own project: a campaign a manager created for the city, in its territory,
    labelled by the city at once (`label.granted`), and shown as the city's (`city_project`)."""
    muni = manager.municipality
    assert muni is not None
    campaign = await _campaign(mongo.db, body.campaign_id)
    if campaign.get("owner_id") != manager.principal.sub:
        raise DomainError("forbidden", 403, "the city's own project is a campaign its manager created")
    if not belongs_to(campaign, manager.slug, store.territory_of(muni)):
        raise DomainError("outside_territory", 422, f"the campaign is not located in {muni['name']}")
    if campaign.get("status") in CLOSED_CAMPAIGN:
        raise DomainError("campaign_closed", 409, f"the campaign is {campaign['status']}")

    async def work(tx: Tx) -> Doc:
        await require_active(tx, muni)
        actor = manager.principal.sub
        doc = await _create(tx, campaign, manager.slug, "under_review", actor, "city_project")
        history = [*doc["history"], {"status": "granted", "by": actor, "at": utcnow().isoformat()}]
        changes = {"status": next_status("grant", doc["status"]), "note": body.note, "granted_at": utcnow(),
                   "history": history, "version": doc["version"] + 1}  # fmt: skip
        doc = await labels.patch(tx, doc["_id"], changes)
        await emit_label_event(tx, doc)
        return doc

    return LabelOut.of(await mongo.transact(work))


async def _act(
    mongo: Mongo,
    principal: Principal,
    label_id: str,
    action: str,
    apply: Apply | None = None,
    idempotent: tuple[Idempotency, str, str, Any] | None = None,
) -> LabelOut:
    """Check the caller is an official of the label's city (and that the campaign is in that
    city), then move the label in one transaction: the subscription if the action needs it,
    the transition, what `apply` changes, the events. With `idempotent` (kit, scope, key,
    request) a retry gets the first answer back."""
    label = await labels.get(mongo.db, label_id)
    if label is None:
        raise DomainError("label_not_found", 404, "no such label")
    slug = label["municipality"]
    muni = await store.municipality(mongo.db, slug)
    role = await require_official(mongo.db, principal, slug, "label")
    campaign = await _campaign(mongo.db, label["campaign_id"])
    if not belongs_to(campaign, slug, store.territory_of(muni)):
        raise DomainError("forbidden", 403, f"this campaign is not in {muni['name']}")

    async def transition(tx: Tx) -> LabelOut:
        doc = await labels.get(tx, label_id)
        assert doc is not None
        try:
            status = next_status(action, doc["status"])
        except TransitionError as exc:
            raise DomainError("bad_transition", 409, str(exc)) from exc
        if needs_subscription(action):
            await require_active(tx, muni)
        changes: dict[str, Any] = {"status": status}
        if status in ("declined", "revoked"):
            changes["open_key"] = doc["_id"]  # frees the campaign for a later request
        if apply is not None:
            changes.update(await apply(tx, doc, role, muni))
        history = [
            *doc.get("history", []),
            {"status": status, "by": principal.sub, "at": utcnow().isoformat()},
        ]
        changes.update({"history": history, "version": doc["version"] + 1})
        doc = await labels.patch(tx, label_id, changes)
        await emit_label_event(tx, doc)
        return LabelOut.of(doc)

    async def work(tx: Tx) -> LabelOut:
        if idempotent is None:
            return await transition(tx)
        idem, scope, key, request = idempotent
        return await idem.run(
            tx,
            scope=scope,
            key=key,
            request=request,
            action=lambda: transition(tx),
            decode=LabelOut.model_validate,
        )

    return await mongo.transact(work)


async def start_review(mongo: Mongo, principal: Principal, label_id: str) -> LabelOut:
    return await _act(mongo, principal, label_id, "review")


async def grant(
    mongo: Mongo, idem: Idempotency, principal: Principal, label_id: str, body: GrantIn, key: str | None
) -> LabelOut:
    """Grant the label with its support offers; with `match`, also commit city money from a
    pool (manager only; then the Idempotency-Key is required)."""

    async def apply(tx: Tx, doc: Doc, role: str, muni: Doc) -> dict[str, Any]:
        support = [o.model_dump(mode="json", exclude_none=True) for o in body.support]
        changes: dict[str, Any] = {
            "support": support,
            "in_kind_value": support_totals(support, doc["currency"]).in_kind_value,
            "note": body.note,
            "granted_at": utcnow(),
        }
        if body.match is not None:
            if role != "manager":
                raise DomainError("forbidden", 403, "only a manager commits match funds")
            campaign = await _campaign(tx, doc["campaign_id"])
            commitment = await matching.commit_match(
                tx, body.match, {**doc, **changes, "status": "granted"}, campaign
            )
            changes["commitment_ids"] = [*doc.get("commitment_ids", []), commitment["_id"]]
        return changes

    if body.match is not None:
        key = required_key(key)
    request = {"label": label_id, **body.model_dump(mode="json")}
    guard = (idem, f"grant|{principal.sub}", key, request) if key is not None else None
    return await _act(mongo, principal, label_id, "grant", apply, guard)


async def decline(mongo: Mongo, principal: Principal, label_id: str, body: ReasonIn) -> LabelOut:
    async def apply(tx: Tx, doc: Doc, role: str, muni: Doc) -> dict[str, Any]:
        return {"reason": body.reason}

    return await _act(mongo, principal, label_id, "decline", apply)


async def revoke(mongo: Mongo, principal: Principal, label_id: str, body: ReasonIn) -> LabelOut:
    """Withdraw a granted label; the reason is public. Pending conditional match funds are
    canceled; what an instant match already gave stays with the campaign."""

    async def apply(tx: Tx, doc: Doc, role: str, muni: Doc) -> dict[str, Any]:
        for commitment_id in doc.get("commitment_ids", []):
            await matching.cancel_commitment(tx, commitment_id, f"label revoked: {body.reason}")
        return {"reason": body.reason, "revoked_at": utcnow()}

    return await _act(mongo, principal, label_id, "revoke", apply)


async def get_label(mongo: Mongo, principal: Principal | None, label_id: str) -> LabelOut:
    """Granted and revoked labels are public; a pending one is visible to the campaign's owner
    and the city's officials (to anyone else it does not exist)."""
    doc = await labels.get(mongo.db, label_id)
    if doc is None:
        raise DomainError("label_not_found", 404, "no such label")
    may_read_city(principal, doc["municipality"])
    allowed = principal is not None and (
        principal.is_client_of(doc["municipality"])
        or principal.sub == doc["owner_id"]
        or await store.official_role(mongo.db, doc["municipality"], principal.sub) is not None
    )
    if doc["status"] not in ("granted", "revoked") and not allowed:
        raise DomainError("label_not_found", 404, "no such label")
    # The request's message was written to the city: its officials and the owner read it.
    return LabelOut.of(doc) if allowed else LabelOut.of(doc).model_copy(update={"message": ""})


async def campaign_labels(mongo: Mongo, campaign_id: str) -> CampaignLabelsOut:
    """What a campaign page shows: granted labels, their support offers and match commitments."""
    return CampaignLabelsOut(
        labels=[
            LabelOut.of(d).model_copy(update={"message": ""})
            for d in await labels.granted_for_campaign(mongo.db, campaign_id)
        ],
        commitments=await matching.commitments_of_campaign(mongo.db, campaign_id),
    )


async def campaign_label_requests(mongo: Mongo, principal: Principal, campaign_id: str) -> LabelRequestsOut:
    """The campaign's owner (or an admin) follows every label request of their campaign, in
    every city and status, with a decline's or a revocation's reason. Officials see their own
    city's labels through the city routes. To anyone else the campaign does not exist: the same
    404 as an unknown id, so ids are not an oracle."""
    campaign = await store.campaign(mongo.db, campaign_id)
    if campaign is None or (campaign.get("owner_id") != principal.sub and not principal.is_admin):
        raise DomainError("campaign_not_found", 404, "no such campaign (or it is not known here yet)")
    docs = await labels.of_campaign(mongo.db, campaign_id)
    # Sorted here, not by the database: a campaign has a handful of labels, and a stored instant
    # may read back as a string on nx-27017 (as_utc reads both).
    docs.sort(key=lambda d: (as_utc(d.get("created_at")) or _LONG_AGO, d["_id"]), reverse=True)
    return LabelRequestsOut(items=[LabelOut.of(d) for d in docs])
