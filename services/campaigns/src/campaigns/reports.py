"""Use cases of abuse reports: anyone signed in reports a campaign, an update or an offer of help;
admins read the queue and hide the content (it leaves every public read; its author is told
why through campaign.content_hidden) or dismiss the report. Reports and decisions are kept.

One open report per person per item: a claim (`report_claims`, keyed by item and person) is held
while the report is open, so a repeated report answers the first one again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.mongo import Tx, epoch_ms, utcnow

from . import domain_community
from . import domain_reports as rules
from .access import check_visible, not_found
from .models import ReportDecisionIn, ReportIn
from .store import CampaignStore, Doc, delete, encode_cursor, insert, read_cursor, save


def _refused(exc: rules.ReportRefused) -> DomainError:
    return DomainError(exc.code, exc.status, exc.message)


@dataclass(frozen=True)
class Filed:
    report: Doc
    created: bool  # False: the person's open report on this item, answered again


async def _content(store: CampaignStore, tx: Tx, campaign: Doc, target: str, target_id: str) -> Doc:
    """The reported content, which must belong to `campaign`."""
    if target == "campaign":
        return campaign
    content = await store.by_id(rules.COLLECTION_OF[target], target_id, tx)
    if content is None or content.get("campaign_id") != campaign["_id"]:
        raise not_found(target)
    return content


async def file(store: CampaignStore, principal: Principal, campaign_id: str, body: ReportIn) -> Filed:
    """Report content of a campaign the person can see (twice while open: the same report)."""
    if principal.kind != "user":
        raise DomainError("forbidden", 403, "reports are made by people, not city systems")
    if len(campaign_id) > 80:
        raise not_found()
    target_id = campaign_id if body.target == "campaign" else str(body.target_id)

    async def work(tx: Tx) -> Filed:
        campaign = check_visible(await store.campaign(campaign_id, tx), principal)
        content = await _content(store, tx, campaign, body.target, target_id)
        if not rules.may_see_target(body.target, content, campaign, principal.sub):
            raise not_found(body.target)
        claim_id = rules.claim_id(body.target, target_id, principal.sub)
        claim = await store.by_id("report_claims", claim_id, tx)
        if claim is not None:
            existing = await store.by_id("reports", claim["report_id"], tx)
            if existing is not None and existing["state"] == "open":
                return Filed(existing, created=False)
        try:
            rules.check_reportable(body.target, content, campaign, principal.sub)
        except rules.ReportRefused as exc:
            raise _refused(exc) from exc
        report = rules.new_report(
            f"rep_{uuid.uuid4().hex}",
            body.target,
            content,
            campaign,
            principal.sub,
            body.reason,
            body.details,
            utcnow(),
            epoch_ms(),
        )
        saved = await insert(tx, "reports", report)
        if claim is not None:
            await delete(tx, "report_claims", claim_id)
        await insert(tx, "report_claims", {"_id": claim_id, "report_id": saved["_id"]})
        return Filed(saved, created=True)

    return await store.run(work)


@dataclass(frozen=True)
class Page:
    items: list[Doc]
    next_cursor: str | None


async def queue(store: CampaignStore, state: str, cursor: str | None, limit: int) -> Page:
    """Admins: open reports oldest first, or the decided ones (`decided`) newest decision first."""
    states = ["open"] if state == "open" else list(rules.DECIDED)
    key = "created_ms" if state == "open" else "decided_ms"
    docs = await store.reports_page(states, read_cursor(cursor), limit + 1)
    items = docs[:limit]
    next_cursor = encode_cursor(items[-1][key], items[-1]["_id"]) if len(docs) > limit else None
    return Page(items=items, next_cursor=next_cursor)


async def one(store: CampaignStore, report_id: str) -> Doc:
    report = await store.by_id("reports", report_id[:80])
    if report is None:
        raise not_found("report")
    return report


async def decide(store: CampaignStore, principal: Principal, report_id: str, body: ReportDecisionIn) -> Doc:
    """Admins: hide the content (every open report on it is decided with it) or dismiss this
    report. Hiding emits campaign.content_hidden in the same transaction."""

    async def work(tx: Tx) -> Doc:
        report = await store.by_id("reports", report_id[:80], tx)
        if report is None:
            raise not_found("report")
        now, now_ms = utcnow(), epoch_ms()
        try:
            decided = rules.decide(report, body.decision, principal.sub, body.note, now, now_ms)
        except rules.ReportRefused as exc:
            raise _refused(exc) from exc
        saved = await save(tx, "reports", decided)
        await delete(
            tx, "report_claims", rules.claim_id(report["target"], report["target_id"], report["reporter_id"])
        )
        if body.decision == "dismiss":
            return saved
        campaign = await store.campaign(report["campaign_id"], tx)
        if campaign is None:
            raise not_found()
        content = await _content(store, tx, campaign, report["target"], report["target_id"])
        if not rules.is_hidden(content):
            changed = await save(tx, rules.COLLECTION_OF[report["target"]], rules.hidden(content, saved))
            if report["target"] == "offer":
                await _recount_need(store, tx, changed["need_id"])
            if report["target"] == "campaign":
                campaign = changed
        # The other people who reported the same item get the same answer.
        for other in await store.open_reports_on(tx, report["target_id"]):
            if other["target"] == report["target"]:
                closed = rules.decide(other, "hide", principal.sub, body.note, now, now_ms)
                await save(tx, "reports", closed)
                await delete(
                    tx,
                    "report_claims",
                    rules.claim_id(other["target"], other["target_id"], other["reporter_id"]),
                )
        tx.emit("campaign.content_hidden", report["campaign_id"], rules.hidden_event(saved, campaign))
        return saved

    return await store.run(work)


async def _recount_need(store: CampaignStore, tx: Tx, need_id: str) -> None:
    """A hidden offer no longer counts as help on offer (domain_community.need_counts)."""
    need = await store.by_id("needs", need_id, tx)
    if need is not None:
        offers = await store.offers_of_need(tx, need_id)
        await save(tx, "needs", {**need, "counts": domain_community.need_counts(need, offers)})
