"""Abuse reports on content (a campaign, an update, an offer of help) and what moderation decides.

Pure: no FastAPI, pymongo or aio-pika. Reports and the content they name are plain dicts (the
stored documents)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

Target = Literal["campaign", "update", "offer"]
Reason = Literal["spam", "hateful", "fraud", "personal_data", "other"]
Decision = Literal["hide", "dismiss"]
TARGETS: tuple[str, ...] = get_args(Target)
REASONS: tuple[str, ...] = get_args(Reason)
DECISIONS: tuple[str, ...] = get_args(Decision)
# A report is open until an admin decides; the decision is the report's final state.
STATES = ("open", "hidden", "dismissed")
DECIDED = ("hidden", "dismissed")
COLLECTION_OF: dict[str, str] = {"campaign": "campaigns", "update": "updates", "offer": "offers"}


class ReportRefused(Exception):
    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


def author_of(target: str, content: dict[str, Any], campaign: dict[str, Any]) -> str:
    """Who wrote the content, the person told when it is hidden."""
    if target == "offer":
        return str(content["from_user_id"])
    if target == "update":
        return str(content.get("author_id") or campaign["owner_id"])
    return str(campaign["owner_id"])


def may_see_target(target: str, content: dict[str, Any], campaign: dict[str, Any], user_id: str) -> bool:
    """Offers are private to their author and the campaign's owner; the campaign's own visibility
    (checked by the caller) covers campaigns and updates."""
    if target == "offer":
        return user_id in (content["from_user_id"], campaign["owner_id"])
    return True


def check_reportable(
    target: str, content: dict[str, Any], campaign: dict[str, Any], reporter_id: str
) -> None:
    """Raise ReportRefused when this person may not report this content."""
    if is_hidden(content) or (target != "campaign" and is_hidden(campaign)):
        raise ReportRefused("already_hidden", 409, "this content was already hidden by moderation")
    if author_of(target, content, campaign) == reporter_id:
        raise ReportRefused("own_content", 409, "you cannot report your own content")


def claim_id(target: str, target_id: str, reporter_id: str) -> str:
    """One open report per person per item: the key of the claim held while it is open."""
    return f"{target}:{target_id}|{reporter_id}"


def excerpt_of(target: str, content: dict[str, Any]) -> str:
    """What the admin reads in the queue to know what was reported (bounded)."""
    field = "message" if target == "offer" else "title"
    return str(content.get(field) or "")[:200]


def new_report(
    report_id: str,
    target: str,
    content: dict[str, Any],
    campaign: dict[str, Any],
    reporter_id: str,
    reason: str,
    details: str,
    now: datetime,
    now_ms: int,
) -> dict[str, Any]:
    return {
        "_id": report_id,
        "target": target,
        "target_id": content["_id"],
        "campaign_id": campaign["_id"],
        "campaign_title": campaign["title"],
        "author_id": author_of(target, content, campaign),
        "excerpt": excerpt_of(target, content),
        "reporter_id": reporter_id,
        "reason": reason,
        "details": details,
        "state": "open",
        "created_at": now,
        "created_ms": now_ms,
    }


def decide(
    report: dict[str, Any], decision: str, admin_id: str, note: str, now: datetime, now_ms: int
) -> dict[str, Any]:
    """The report once decided. Hiding needs a reason: the author is told why."""
    if report["state"] != "open":
        raise ReportRefused("already_decided", 409, f"this report was already decided ({report['state']})")
    if decision not in DECISIONS:
        raise ReportRefused("validation_error", 422, f"unknown decision {decision!r}")
    if decision == "hide" and len(note.strip()) < 3:
        raise ReportRefused("reason_required", 422, "hiding content needs a reason the author will read")
    return {
        **report,
        "state": "hidden" if decision == "hide" else "dismissed",
        "decided_by": admin_id,
        "decided_at": now,
        "decided_ms": now_ms,
        "note": note.strip(),
    }


def hidden(content: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """The content as hidden by the decision on `report` (it stays stored, for the record)."""
    return {
        **content,
        "hidden": True,
        "hidden_at": report["decided_at"],
        "hidden_by": report["decided_by"],
        "hidden_reason": report["note"],
        "hidden_report_id": report["_id"],
    }


def is_hidden(content: dict[str, Any]) -> bool:
    return content.get("hidden") is True


def hidden_event(report: dict[str, Any], campaign: dict[str, Any]) -> dict[str, Any]:
    """The data of campaign.content_hidden (contracts/events/campaign.content_hidden.json)."""
    data: dict[str, Any] = {
        "campaign_id": report["campaign_id"],
        "owner_id": campaign["owner_id"],
        "campaign_title": campaign["title"],
        "report_id": report["_id"],
        "target": report["target"],
        "target_id": report["target_id"],
        "author_id": report["author_id"],
        "report_reason": report["reason"],
        "reason": report["note"],
    }
    # The id under its own name, so that the link to it can be chosen by field (notifications).
    if report["target"] in ("update", "offer"):
        data[f"{report['target']}_id"] = report["target_id"]
    return data
