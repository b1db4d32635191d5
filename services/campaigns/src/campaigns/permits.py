"""Use cases of the permits a project needs (a temporary occupation of a square, a works
permit...): its owner or an official of the labelling city declares one required; only an
official of that city marks it granted or refused. While one is not granted the campaign says
`permits_pending: true` in its campaign.* events and payments holds its payouts; the change of
that flag is announced as campaign.edited (a new version), which releases them once false."""

from __future__ import annotations

import uuid

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.mongo import Tx, utcnow

from . import domain_record
from .access import not_found, visible
from .lifecycle import emit_snapshot
from .store import CampaignStore, Doc, insert, ms, save


def _city_of(campaign: Doc, principal: Principal) -> str | None:
    """The deciding city the caller is an official of, or None."""
    return next((c for c in domain_record.permit_deciders(campaign) if principal.is_official_of(c)), None)


async def _announce(store: CampaignStore, tx: Tx, campaign_id: str) -> None:
    """Store the campaign's permits_pending and, when it changed, tell the others (payments)."""
    pending = domain_record.permits_pending(await store.permits(campaign_id, tx))
    campaign = await store.campaign(campaign_id, tx)
    if campaign is None:
        raise not_found()
    if (campaign.get("permits_pending") is True) == pending:
        return
    changed = {
        **campaign,
        "permits_pending": pending,
        "version": campaign["version"] + 1,
        "updated_at": utcnow(),
    }
    emit_snapshot(tx, "campaign.edited", await save(tx, "campaigns", changed))


async def declare(
    store: CampaignStore, principal: Principal, campaign_id: str, name: str, authority: str
) -> Doc:
    """The owner, or an official of a deciding city, declares a permit required."""
    campaign = await visible(store, campaign_id, principal)
    city = None if campaign["owner_id"] == principal.sub else _city_of(campaign, principal)
    if campaign["owner_id"] != principal.sub and city is None:
        raise DomainError(
            "forbidden", 403, "only the owner or an official of the labelling city declares a permit"
        )
    if campaign["status"] in domain_record.PERMIT_CLOSED_STATUSES:
        raise DomainError("campaign_closed", 409, f"a {campaign['status']} campaign takes no permits")
    now = utcnow()
    permit = {
        "_id": f"pmt_{uuid.uuid4().hex}",
        "campaign_id": campaign_id,
        "name": name,
        "authority": authority,
        "declared_by": "city" if city else "owner",
        "municipality": city,
        "declared_by_user": principal.sub,
        "status": "required",
        "declared_at": now,
        "declared_ms": ms(now),
    }

    async def work(tx: Tx) -> Doc:
        saved = await insert(tx, "permits", permit)
        await _announce(store, tx, campaign_id)
        return saved

    return await store.run(work)


async def decide(
    store: CampaignStore,
    principal: Principal,
    campaign_id: str,
    permit_id: str,
    decision: str,
    note: str | None,
) -> Doc:
    """An official of a deciding city marks the permit granted or refused (and may change it)."""
    campaign = await visible(store, campaign_id, principal)
    city = _city_of(campaign, principal)
    if city is None:
        raise DomainError("forbidden", 403, "only an official of the labelling city decides on a permit")
    if decision not in domain_record.PERMIT_DECISIONS:
        raise DomainError("validation_error", 422, f"unknown decision {decision!r}")

    async def work(tx: Tx) -> Doc:
        permit = await store.by_id("permits", permit_id, tx)
        if permit is None or permit["campaign_id"] != campaign_id:
            raise not_found("permit")
        if permit["status"] == decision and permit.get("note") == note:
            return permit
        saved = await save(
            tx,
            "permits",
            {**permit, "status": decision, "note": note, "decided_by": principal.sub, "decided_city": city,
             "decided_at": utcnow()},
        )  # fmt: skip
        await _announce(store, tx, campaign_id)
        return saved

    return await store.run(work)
