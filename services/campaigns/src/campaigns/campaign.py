"""Use cases of one campaign: create a draft, read it with what surrounds it, edit it."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.idempotency import Idempotency
from servicekit.mongo import Tx, utcnow

from . import domain
from .access import not_found, require_owner, visible
from .lifecycle import emit_snapshot, refused
from .models import CampaignEdit, CampaignIn, CampaignOut
from .store import CampaignStore, Doc, insert, ms, save
from .views import campaign_out


async def create(
    store: CampaignStore,
    idempotency: Idempotency,
    principal: Principal,
    body: CampaignIn,
    idempotency_key: str | None,
) -> CampaignOut:
    """A new draft (event campaign.created). With an Idempotency-Key, a retried request gets the
    first answer again (servicekit.idempotency: another body with the key is refused)."""
    if principal.kind != "user":
        raise DomainError("forbidden", 403, "campaigns are created by people, not city systems")
    doc = domain.new_campaign(f"cmp_{uuid.uuid4().hex}", principal.sub, utcnow(), body.to_doc())

    async def work(tx: Tx) -> CampaignOut:
        async def create_it() -> CampaignOut:
            saved = await insert(tx, "campaigns", doc)
            emit_snapshot(tx, "campaign.created", saved)
            return campaign_out(saved, principal)

        return await idempotency.run(
            tx,
            scope=f"campaign.create|{principal.sub}",
            key=idempotency_key,
            request=body,
            action=create_it,
            encode=lambda answer: answer.model_dump(mode="json"),
            decode=CampaignOut.model_validate,
        )

    return await store.run(work)


@dataclass(frozen=True)
class Detail:
    campaign: Doc
    labels: list[Doc]
    needs: list[Doc]
    next_meetups: list[Doc]
    # The caller's own relation to the campaign (None when anonymous): follows it? coming?
    following: bool | None = None
    rsvps: dict[str, str] | None = None


async def detail(store: CampaignStore, campaign_id: str, principal: Principal | None) -> Detail:
    """One campaign with its granted labels, its needs and the next three meetups."""
    campaign = await visible(store, campaign_id, principal)
    # The reads are independent of each other: sent together, the most viewed page waits for the
    # slowest of them instead of their sum.
    meetups, labels, needs, follow = await asyncio.gather(
        store.meetups(campaign_id, ms(utcnow()), past=False, limit=3),
        store.granted_labels(campaign_id),
        store.needs(campaign_id),
        store.by_id("follows", f"{campaign_id}|{principal.sub}") if principal is not None else _none(),
    )
    following = rsvps = None
    if principal is not None:
        following = follow is not None
        mine = await asyncio.gather(*(store.by_id("rsvps", f"{m['_id']}|{principal.sub}") for m in meetups))
        rsvps = {m["_id"]: r["state"] for m, r in zip(meetups, mine, strict=True) if r is not None}
    return Detail(
        campaign=campaign,
        labels=labels,
        needs=needs,
        next_meetups=meetups,
        following=following,
        rsvps=rsvps,
    )


async def _none() -> None:
    return None


async def edit(store: CampaignStore, principal: Principal, campaign_id: str, body: CampaignEdit) -> Doc:
    """Owner edits (event campaign.edited). Draft: anything. Live: summary, description, media
    and place only."""
    changes = body.changes()
    await visible(store, campaign_id, principal)

    async def work(tx: Tx) -> Doc:
        doc = await store.campaign(campaign_id, tx)
        if doc is None:
            raise not_found()
        require_owner(doc, principal, "edit it")
        try:
            domain.check_edit(doc["status"], set(changes))
        except domain.TransitionRefused as exc:
            raise refused(exc) from exc
        changed = {**doc, **changes, "version": doc["version"] + 1, "updated_at": utcnow()}
        saved = await save(tx, "campaigns", changed)
        emit_snapshot(tx, "campaign.edited", saved)
        return saved

    return await store.run(work)
