"""HTTP: abuse reports on a campaign, an update or an offer of help, and the admins' decisions
(use cases: reports.py; rules: domain_reports.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from servicekit.auth import AdminDep, PrincipalDep

from . import reports
from .deps import Store
from .models import ReportDecisionIn, ReportIn, ReportOut, ReportPage
from .views import report_out

router = APIRouter(tags=["abuse reports"])


@router.post("/campaigns/{campaign_id}/reports", status_code=201, response_model=ReportOut)
async def report_content(
    campaign_id: str, body: ReportIn, store: Store, principal: PrincipalDep, response: Response
) -> ReportOut:
    """Report the campaign, one of its updates or an offer of help you can see. While your report
    on an item is open, reporting it again answers that report (200)."""
    filed = await reports.file(store, principal, campaign_id, body)
    if not filed.created:
        response.status_code = 200
    return report_out(filed.report)


@router.get("/reports", response_model=ReportPage)
async def list_reports(
    store: Store,
    principal: AdminDep,
    state: Literal["open", "decided"] = "open",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> ReportPage:
    """Admins: the open reports, oldest first, or the decided ones (who, when, why), newest first."""
    page = await reports.queue(store, state, cursor, limit)
    return ReportPage(items=[report_out(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/reports/{report_id}", response_model=ReportOut)
async def get_report(report_id: str, store: Store, principal: AdminDep) -> ReportOut:
    return report_out(await reports.one(store, report_id))


@router.post("/reports/{report_id}/decision", response_model=ReportOut)
async def decide_report(
    report_id: str, body: ReportDecisionIn, store: Store, principal: AdminDep
) -> ReportOut:
    """Admins: `hide` the content (note required: its author is told why; every open report on
    it is decided with it) or `dismiss` the report."""
    return report_out(await reports.decide(store, principal, report_id, body))
