"""Municipalities: registration by an admin, territory edits, trials, the public city page,
city AMQP users."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from servicekit.errors import DomainError
from servicekit.mongo import Mongo, Tx, utcnow

from .. import store
from ..calls import store as calls
from ..calls.models import CallOut
from ..city_amqp import RabbitAdminError, create_city_user
from ..labels import store as labels
from ..labels.models import LabelOut
from ..matching import store as matching
from ..matching.domain import OPEN_STATUSES
from ..settings import Settings
from .domain import TerritoryError, parse_polygons
from .models import (
    AmqpUserOut,
    CityPageOut,
    LabelledCampaign,
    MunicipalitiesOut,
    MunicipalityIn,
    MunicipalityOut,
    MunicipalityPatch,
    PageCampaign,
    PageTotals,
)

MAX_POLYGON_JSON = 200_000


def _polygon_json(territory: dict[str, Any] | None) -> str | None:
    if territory is None:
        return None
    try:
        parse_polygons(territory)
    except TerritoryError as exc:
        raise DomainError("bad_territory", 422, str(exc)) from exc
    # Stored as text: nx-27017 mangles deeply nested arrays, and the domain parses it anyway.
    text = json.dumps(territory, separators=(",", ":"))
    if len(text) > MAX_POLYGON_JSON:
        raise DomainError(
            "territory_too_large", 413, f"the territory GeoJSON is over {MAX_POLYGON_JSON} bytes"
        )
    return text


def _postcodes(postcodes: list[str]) -> list[str]:
    return sorted({p.strip().upper() for p in postcodes})


async def register(mongo: Mongo, body: MunicipalityIn) -> MunicipalityOut:
    if not body.postcodes and body.territory is None:
        raise DomainError(
            "territory_required", 422, "give the territory as postcodes and/or a GeoJSON polygon"
        )
    doc = {
        "_id": f"mun_{uuid.uuid4().hex}",
        **body.model_dump(exclude={"territory", "postcodes"}),
        "postcodes": _postcodes(body.postcodes),
        "polygon_json": _polygon_json(body.territory),
        "created_at": utcnow(),
    }

    async def work(tx: Tx) -> None:
        await store.municipalities.insert(tx, doc)
        data = {
            "municipality_id": doc["_id"],
            **{k: doc[k] for k in ("slug", "name", "country", "official_code", "postcodes")},
        }
        tx.emit("municipality.registered", doc["_id"], data)

    try:
        await mongo.transact(work)
    except DuplicateKeyError as exc:
        raise DomainError("slug_taken", 409, f"a municipality {body.slug!r} already exists") from exc
    return MunicipalityOut.of(doc, active=False)


async def list_all(mongo: Mongo) -> MunicipalitiesOut:
    return MunicipalitiesOut(
        items=[MunicipalityOut.of(d) for d in await store.all_municipalities(mongo.db, limit=500)]
    )


async def get(mongo: Mongo, slug: str) -> MunicipalityOut:
    doc = await store.municipality(mongo.db, slug)
    return MunicipalityOut.of(doc, active=await store.city_active(mongo.db, doc, utcnow()))


async def edit(mongo: Mongo, slug: str, body: MunicipalityPatch) -> MunicipalityOut:
    changes: dict[str, Any] = {}
    if body.postcodes is not None:
        changes["postcodes"] = _postcodes(body.postcodes)
    if "territory" in body.model_fields_set:
        changes["polygon_json"] = _polygon_json(body.territory)
    for field in ("logo_url", "page_text"):
        if getattr(body, field) is not None:
            changes[field] = getattr(body, field)
    if not changes:
        raise DomainError("nothing_to_change", 422, "give at least one field to change")

    async def work(tx: Tx) -> dict[str, Any]:
        current = await store.municipality(tx, slug)
        doc = await store.municipalities.patch(tx, current["_id"], changes)
        if not doc.get("postcodes") and not doc.get("polygon_json"):
            raise DomainError("territory_required", 422, "a municipality keeps postcodes or a polygon")
        return doc

    return MunicipalityOut.of(await mongo.transact(work))


async def grant_trial(mongo: Mongo, slug: str, days: int) -> MunicipalityOut:
    until = utcnow() + timedelta(days=days)

    async def work(tx: Tx) -> dict[str, Any]:
        current = await store.municipality(tx, slug)
        return await store.municipalities.patch(tx, current["_id"], {"trial_until": until})

    return MunicipalityOut.of(await mongo.transact(work), active=True)


async def create_amqp_user(mongo: Mongo, settings: Settings, slug: str) -> AmqpUserOut:
    """Credentials are shown once; calling again resets the password."""
    await store.municipality(mongo.db, slug)
    try:
        user = await create_city_user(settings, slug)
    except RabbitAdminError as exc:
        raise DomainError("broker_admin_unavailable", 503, str(exc)) from exc
    return AmqpUserOut(
        username=user.username,
        password=user.password,
        vhost=user.vhost,
        exchange=user.exchange,
        binding_pattern=user.binding_pattern,
    )


def _add(totals: dict[str, int], currency: str, amount: int) -> None:
    totals[currency] = totals.get(currency, 0) + amount


async def city_page(mongo: Mongo, slug: str) -> CityPageOut:
    """The public city page: labelled campaigns, open calls, money raised in the territory,
    support the city gave."""
    db = mongo.db
    muni = await store.municipality(db, slug)
    campaigns = await store.campaigns_in_territory(db, muni)
    by_id = {c["_id"]: c for c in campaigns}
    raised_by_campaign: dict[str, int] = {}
    raised: dict[str, int] = {}
    for x in await store.charged_contributions(db, sorted(by_id)) if by_id else []:
        raised_by_campaign[x["campaign_id"]] = raised_by_campaign.get(x["campaign_id"], 0) + int(x["amount"])
        _add(raised, x["currency"], int(x["amount"]))
    commitments = await matching.commitments_of_city(db, slug)
    matched_by_campaign: dict[str, int] = {}
    for c in commitments:
        matched_by_campaign[c["campaign_id"]] = matched_by_campaign.get(c["campaign_id"], 0) + int(
            c.get("given", 0)
        )
    labelled = []
    in_kind: dict[str, int] = {}
    kinds: dict[str, int] = {}
    for label in await labels.granted_in_city(db, slug):
        campaign = by_id.get(label["campaign_id"]) or await store.campaign(db, label["campaign_id"]) or {}
        labelled.append(
            LabelledCampaign(
                label=LabelOut.of(label).model_copy(update={"history": None, "message": ""}),
                campaign=PageCampaign(
                    id=label["campaign_id"],
                    title=campaign.get("title"),
                    status=campaign.get("status"),
                    goal=campaign.get("goal"),
                    currency=campaign.get("currency"),
                    raised=raised_by_campaign.get(label["campaign_id"], int(campaign.get("raised") or 0)),
                    matched=matched_by_campaign.get(label["campaign_id"], 0),
                ),
            )
        )
        for offer in label.get("support", []):
            kinds[offer["kind"]] = kinds.get(offer["kind"], 0) + 1
        if label.get("in_kind_value"):
            _add(in_kind, label["currency"], int(label["in_kind_value"]))
    matched: dict[str, int] = {}
    committed: dict[str, int] = {}
    for c in commitments:
        _add(matched, c["currency"], int(c.get("given", 0)))
        if c["status"] in OPEN_STATUSES:
            _add(committed, c["currency"], int(c["max_amount"]) - int(c.get("given", 0)))
    return CityPageOut(
        municipality=MunicipalityOut.of(muni),
        labelled_campaigns=labelled,
        open_calls=[CallOut.of(c) for c in await calls.calls_of(db, slug, status="open")],
        totals=PageTotals(
            campaigns_in_territory=len(campaigns),
            raised=raised,
            match_funds_given=matched,
            match_funds_pending=committed,
            in_kind_value=in_kind,
            support_offers_by_kind=kinds,
        ),
    )
