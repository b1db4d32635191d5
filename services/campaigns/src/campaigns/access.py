"""Which campaign a caller may act on, shared by every use case that loads one for a caller."""

from __future__ import annotations

from servicekit.auth import Principal
from servicekit.errors import DomainError

from . import domain
from .store import CampaignStore, Doc


def not_found(what: str = "campaign") -> DomainError:
    return DomainError("not_found", 404, f"{what} not found")


def check_visible(campaign: Doc | None, principal: Principal | None) -> Doc:
    """The campaign, or 404 (also for drafts of others: their existence is not public)."""
    if campaign is None or not domain.can_see(
        campaign, principal.sub if principal else None, bool(principal and principal.is_admin)
    ):
        raise not_found()
    return campaign


async def visible(store: CampaignStore, campaign_id: str, principal: Principal | None) -> Doc:
    if len(campaign_id) > 80:
        raise not_found()
    return check_visible(await store.campaign(campaign_id), principal)


def require_owner(campaign: Doc, principal: Principal, what: str) -> None:
    if campaign["owner_id"] != principal.sub:
        raise DomainError("forbidden", 403, f"only the campaign's owner can {what}")
