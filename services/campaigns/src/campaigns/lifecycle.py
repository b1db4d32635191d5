"""Moving a campaign through its life: the one `transition` every status change goes through
(the routes below, the deadline scheduler, a city's call selecting a proposal), and the owner's
and admins' use cases on top of it.

The publish flow: the owner submits a draft; an admin approves it, which publishes it (status
live, starts now, deadline = now + duration_days, event campaign.published), or returns it to
draft with a reason, or rejects it. Every rule lives in domain.TRANSITIONS."""

from __future__ import annotations

from typing import Any

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.mongo import Tx, utcnow

from . import domain
from .access import check_visible
from .store import CampaignStore, Doc, save


def refused(exc: domain.TransitionRefused) -> DomainError:
    status = 403 if exc.code == "forbidden" else 422 if exc.code == "reason_required" else 409
    return DomainError(exc.code, status, exc.message)


def emit_snapshot(tx: Tx, event_type: str, campaign: Doc) -> None:
    """Every campaign lifecycle event carries the same snapshot (contracts/events/campaign.*)."""
    tx.emit(event_type, campaign["_id"], domain.snapshot(campaign))


async def transition(
    tx: Tx,
    campaign: Doc,
    action: str,
    actors: set[str],
    reason: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Doc:
    """Apply `action` to the campaign as read in `tx`, store it with `extra` and emit the
    transition's event; returns the stored campaign. Refusals raise DomainError."""
    try:
        changed, event_type = domain.apply_transition(campaign, action, actors, utcnow(), reason)
    except domain.TransitionRefused as exc:
        raise refused(exc) from exc
    saved = await save(tx, "campaigns", {**changed, **(extra or {})})
    emit_snapshot(tx, event_type, saved)
    return saved


async def _by_caller(
    store: CampaignStore,
    principal: Principal,
    campaign_id: str,
    action: str,
    reason: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Doc:
    async def work(tx: Tx) -> Doc:
        campaign = check_visible(await store.campaign(campaign_id, tx), principal)
        actors = domain.actor_roles(campaign, principal.sub, principal.is_admin)
        return await transition(tx, campaign, action, actors, reason, extra)

    return await store.run(work)


async def submit(store: CampaignStore, principal: Principal, campaign_id: str) -> Doc:
    """Owner: send the draft to moderation (it can no longer be edited until returned)."""
    return await _by_caller(store, principal, campaign_id, "submit")


async def moderate(
    store: CampaignStore, principal: Principal, campaign_id: str, decision: str, reason: str | None
) -> Doc:
    """Admin: approve (publishes it), return (back to draft, reason required) or reject."""
    extra = {"moderated_by": principal.sub, "moderated_at": utcnow()}
    return await _by_caller(store, principal, campaign_id, decision, reason, extra)


async def cancel(store: CampaignStore, principal: Principal, campaign_id: str, reason: str) -> Doc:
    """Owner or admin: stop a live campaign (payments releases pledges and refunds)."""
    return await _by_caller(store, principal, campaign_id, "cancel", reason, {"canceled_by": principal.sub})


async def complete(store: CampaignStore, principal: Principal, campaign_id: str, report: str) -> Doc:
    """Owner: report that the funded project was delivered."""
    return await _by_caller(store, principal, campaign_id, "complete", None, {"completion_report": report})
