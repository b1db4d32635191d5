"""Campaign rules: the new campaign document, who may see it, the state machine (the only place a
status changes), edit rules, deadline bounds, the snapshot every lifecycle event carries, and what
closing at the deadline decides.

Pure: no FastAPI, pymongo or aio-pika. Campaigns are plain dicts (the stored document)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from .domain_funding import empty_totals

# The closed vocabularies, as types the request and response models use and as tuples for rules.
Status = Literal["draft", "submitted", "live", "succeeded", "failed", "canceled", "completed", "rejected"]
FundingModel = Literal["keep_it_all", "all_or_nothing"]
Currency = Literal["EUR", "GBP", "USD", "CHF"]
Category = Literal[
    "public_space",
    "sport",
    "culture",
    "solidarity",
    "environment",
    "education",
    "mobility",
    "health",
    "other",
]
STATUSES: tuple[str, ...] = get_args(Status)
# Anyone may read these; drafts and moderation states are for the owner and admins only.
PUBLIC_STATUSES = ("live", "succeeded", "failed", "canceled", "completed")
FUNDING_MODELS: tuple[str, ...] = get_args(FundingModel)
CURRENCIES: tuple[str, ...] = get_args(Currency)
CATEGORIES: tuple[str, ...] = get_args(Category)
MIN_DURATION_DAYS = 7
MAX_DURATION_DAYS = 90
DEFAULT_DURATION_DAYS = 30
MAX_GOAL = 100_000_000  # 1 million in minor units: a neighbourhood project, not a stadium


def new_campaign(campaign_id: str, owner_id: str, now: datetime, fields: dict[str, Any]) -> dict[str, Any]:
    """The document of a new draft, whoever creates it (a person, or a city's call for projects);
    `fields` are the campaign's own (title, goal, place...), the rest starts empty."""
    return {
        "_id": campaign_id,
        "owner_id": owner_id,
        "status": "draft",
        "version": 1,
        "summary": "",
        "description": "",
        "category": "other",
        "neighbourhood": "",
        "address": "",
        "postcode": "",
        "lat": None,
        "lon": None,
        "cover_image_url": None,
        "duration_days": DEFAULT_DURATION_DAYS,
        **fields,
        "created_at": now,
        "updated_at": now,
        "totals": empty_totals(),
        "followers_count": 0,
        "labelled_by": [],
    }


def can_see(campaign: dict[str, Any], user_id: str | None, is_admin: bool) -> bool:
    """Public statuses for anyone; drafts, moderation states and campaigns hidden after an abuse
    report (domain_reports) for their owner and admins."""
    if campaign["status"] in PUBLIC_STATUSES and campaign.get("hidden") is not True:
        return True
    return is_admin or (user_id is not None and user_id == campaign["owner_id"])


class TransitionRefused(Exception):
    """The action is not allowed from the campaign's status, or not by this actor."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str
    event: str
    actors: tuple[str, ...]  # "owner", "admin", "system"
    needs_reason: bool = False


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("submit", ("draft",), "submitted", "campaign.submitted", ("owner",)),
        # Moderation: approving publishes (see README: the publish flow).
        Transition("approve", ("submitted",), "live", "campaign.published", ("admin",)),
        Transition("return", ("submitted",), "draft", "campaign.returned", ("admin",), needs_reason=True),
        Transition("reject", ("submitted",), "rejected", "campaign.rejected", ("admin",), needs_reason=True),
        # A city's call for projects already selected it: it goes live without platform moderation.
        Transition("launch_selected", ("draft", "submitted"), "live", "campaign.published", ("system",)),
        Transition(
            "cancel", ("live",), "canceled", "campaign.canceled", ("owner", "admin"), needs_reason=True
        ),
        Transition("succeed", ("live",), "succeeded", "campaign.succeeded", ("system",)),
        Transition("fail", ("live",), "failed", "campaign.failed", ("system",)),
        Transition("complete", ("succeeded",), "completed", "campaign.completed", ("owner",)),
    )
}


def actor_roles(campaign: dict[str, Any], user_id: str | None, is_admin: bool) -> set[str]:
    roles: set[str] = set()
    if user_id is not None and campaign.get("owner_id") == user_id:
        roles.add("owner")
    if is_admin:
        roles.add("admin")
    return roles


def apply_transition(
    campaign: dict[str, Any],
    action: str,
    actors: set[str],
    now: datetime,
    reason: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Return (the changed campaign, the event type to emit) or raise TransitionRefused."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise TransitionRefused("unknown_action", f"unknown action {action!r}")
    if not actors & set(transition.actors):
        who = " or ".join(transition.actors)
        raise TransitionRefused("forbidden", f"only the {who} may {action} a campaign")
    status = campaign["status"]
    if status not in transition.sources:
        allowed = ", ".join(transition.sources)
        raise TransitionRefused(
            "invalid_transition", f"cannot {action} a campaign that is {status} (only from: {allowed})"
        )
    if transition.needs_reason and not (reason and reason.strip()):
        raise TransitionRefused("reason_required", f"{action} needs a reason")
    changed = dict(campaign)
    changed["status"] = transition.target
    changed["version"] = campaign.get("version", 0) + 1
    changed["updated_at"] = now
    if reason:
        changed["reason"] = reason.strip()
    elif "reason" in changed:
        del changed["reason"]
    if transition.target == "live":
        days = campaign.get("duration_days", DEFAULT_DURATION_DAYS)
        changed["starts_at"] = now
        changed["deadline"] = campaign.get("fixed_deadline") or now + timedelta(days=days)
        changed["published_at"] = now
    if transition.target in ("succeeded", "failed", "canceled"):
        changed["closed_at"] = now
    if transition.target == "completed":
        changed["completed_at"] = now
    if transition.target == "submitted":
        changed["submitted_at"] = now
    return changed, transition.event


def allowed_actions(campaign: dict[str, Any], actors: set[str]) -> list[str]:
    """What this actor could do next (shown to clients so they need not duplicate the rules)."""
    return [
        t.action
        for t in TRANSITIONS.values()
        if campaign["status"] in t.sources and actors & set(t.actors) and "system" not in t.actors
    ]


# -- edits -------------------------------------------------------------------------------------

# Money, time, title and place are what backers pledged to: once live only the story and the
# pictures change.
EDITABLE_WHEN_LIVE = frozenset({"summary", "description", "cover_image_url", "neighbourhood", "address"})
EDITABLE_STATUSES = ("draft", "live")


def check_edit(status: str, fields: set[str]) -> None:
    if status not in EDITABLE_STATUSES:
        raise TransitionRefused(
            "not_editable",
            f"a {status} campaign cannot be edited"
            + (" (wait for moderation or ask for it to be returned)" if status == "submitted" else ""),
        )
    if status == "live":
        frozen = sorted(fields - EDITABLE_WHEN_LIVE)
        if frozen:
            raise TransitionRefused(
                "frozen_once_live",
                "once live only the description, summary, media, neighbourhood and address can change; "
                f"refused: {', '.join(frozen)}",
            )


def clamp_deadline(requested: datetime | None, now: datetime) -> datetime:
    """A deadline handed over by another service (a call's award), kept within the bounds."""
    low, high = now + timedelta(days=MIN_DURATION_DAYS), now + timedelta(days=MAX_DURATION_DAYS)
    if requested is None:
        return now + timedelta(days=DEFAULT_DURATION_DAYS)
    return min(max(requested, low), high)


# -- snapshot ----------------------------------------------------------------------------------

_SNAPSHOT_OPTIONAL = ("neighbourhood", "category", "postcode", "call_id", "reason")


def snapshot(campaign: dict[str, Any]) -> dict[str, Any]:
    """The data of every campaign lifecycle event (contracts/events/campaign.*.json)."""
    data: dict[str, Any] = {
        "campaign_id": campaign["_id"],
        "owner_id": campaign["owner_id"],
        "title": campaign["title"],
        "status": campaign["status"],
        "municipality": campaign["municipality"],
        "goal": campaign["goal"],
        "currency": campaign["currency"],
        "funding_model": campaign["funding_model"],
        "version": campaign["version"],
    }
    for key in _SNAPSHOT_OPTIONAL:
        if campaign.get(key):
            data[key] = campaign[key]
    if campaign.get("lat") is not None and campaign.get("lon") is not None:
        data["lat"], data["lon"] = float(campaign["lat"]), float(campaign["lon"])
    for key in ("starts_at", "deadline"):
        if campaign.get(key) is not None:
            data[key] = campaign[key].isoformat()
    totals = campaign.get("totals") or {}
    for key in ("raised", "matched", "pledged", "match_pledged"):
        data[key] = int(totals.get(key, 0))
    # Always said, false included: payments releases a held payout when it reads false.
    data["permits_pending"] = campaign.get("permits_pending") is True
    closing = closing_of(campaign)
    if closing is not None:
        # Endorsements reads the tally of campaign.succeeded (how many keep-it-all payments exist).
        data["closing"] = {"requested_at": closing["requested_at"].isoformat()}
        if closing.get("tally") is not None:
            data["closing"]["tally"] = closing["tally"]
    return data


# -- closing at the deadline -------------------------------------------------------------------
# The deadline does not close a campaign by itself: campaigns asks payments for its tally
# (campaign.deadline_passed), payments answers with the pledges and payments it holds
# (pledges.tallied), and the campaign closes once the records campaigns was told about agree
# with that tally, so a pledge.authorized still on its way cannot make a funded campaign fail.

Tally = dict[str, dict[str, int]]
TALLY_KINDS = ("authorized", "succeeded")


def closing_of(campaign: dict[str, Any]) -> dict[str, Any] | None:
    """The closing handshake under way, if the campaign asked payments for its tally (before
    the handshake, `closing` held a scheduler's claim: without `requested_at` it is not one)."""
    closing = campaign.get("closing")
    if isinstance(closing, dict) and closing.get("requested_at") is not None:
        return closing
    return None


def deadline_passed_data(campaign: dict[str, Any]) -> dict[str, Any]:
    """The data of campaign.deadline_passed: what payments needs to tally the campaign."""
    return {
        "campaign_id": campaign["_id"],
        "deadline": campaign["deadline"].isoformat(),
        "funding_model": campaign["funding_model"],
        "currency": campaign["currency"],
    }


def parse_tally(data: dict[str, Any]) -> Tally:
    """The tally of a pledges.tallied event as integers; ValueError if it is not one."""
    tally: Tally = {}
    for kind in TALLY_KINDS:
        part = data.get(kind)
        if not isinstance(part, dict):
            raise ValueError(f"tally without {kind}")
        count, amount = part.get("count"), part.get("amount")
        if not isinstance(count, int) or not isinstance(amount, int) or count < 0 or amount < 0:
            raise ValueError(f"tally {kind} needs a count and an amount (integers >= 0)")
        tally[kind] = {"count": count, "amount": amount}
    return tally


def _count(records: list[dict[str, Any]]) -> dict[str, int]:
    return {"count": len(records), "amount": sum(int(r.get("amount", 0)) for r in records)}


def records_tally(pledges: list[dict[str, Any]], payments: list[dict[str, Any]]) -> Tally:
    """What campaigns' own funding records say payments should have tallied: pledges authorised
    and not released, payments that succeeded (refunds not subtracted). A payment payments
    flagged as taken after it tallied (`after_deadline`, refunded) was never in the tally."""
    authorized = [p for p in pledges if p.get("authorized") is True and p.get("released") is not True]
    succeeded = [p for p in payments if p.get("succeeded") is True and p.get("after_deadline") is not True]
    return {"authorized": _count(authorized), "succeeded": _count(succeeded)}


def tally_agrees(
    tally: Tally, pledges: list[dict[str, Any]], payments: list[dict[str, Any]], refunds: list[dict[str, Any]]
) -> bool:
    """Whether the campaign may close on its totals: its records count exactly what payments
    tallied, and every payment taken after the tally was refunded (until then it still counts
    in `raised` and could make a keep-it-all campaign succeed that payments saw nothing for)."""
    refunded: dict[str, int] = {}
    for refund in refunds:
        refunded[refund["payment_id"]] = refunded.get(refund["payment_id"], 0) + int(refund["amount"])
    for payment in payments:
        late = payment.get("succeeded") is True and payment.get("after_deadline") is True
        if late and refunded.get(payment["_id"], 0) < int(payment["amount"]):
            return False
    return records_tally(pledges, payments) == {k: dict(tally[k]) for k in TALLY_KINDS}


def closing_action(campaign: dict[str, Any]) -> str:
    """`succeed` or `fail` once the deadline passed.

    all_or_nothing: succeeds when pledges + raised + counted match reach the goal (payments then
    charges the saved cards). keep_it_all: the project keeps what it raised, so it succeeds as
    soon as anything was raised; it fails only when nobody gave anything."""
    totals = campaign.get("totals") or {}
    if campaign["funding_model"] == "all_or_nothing":
        return "succeed" if counted_toward_goal(totals) >= campaign["goal"] else "fail"
    return "succeed" if int(totals.get("raised", 0)) + int(totals.get("matched", 0)) > 0 else "fail"


def counted_toward_goal(totals: dict[str, Any]) -> int:
    """Money raised or pledged, the match that counts (given, or pledged by an instant
    commitment on the authorised pledges of an all-or-nothing campaign), and in-kind help the
    owner declared as counting at a declared value, once delivered (shown apart from money)."""
    return (
        int(totals.get("raised", 0)) + int(totals.get("pledged", 0)) + int(totals.get("matched_counted", 0))
        + int(totals.get("match_pledged", 0)) + int(totals.get("in_kind_counted", 0))
    )  # fmt: skip


def goal_just_reached(campaign: dict[str, Any]) -> bool:
    """True once, the first time the counted total reaches the goal while live."""
    return (
        campaign["status"] == "live"
        and campaign.get("goal_reached_at") is None
        and counted_toward_goal(campaign.get("totals") or {}) >= campaign["goal"]
    )


def progress_bp(totals: dict[str, Any], goal: int) -> int:
    """Progress toward the goal in basis points (integer: sortable, no floats for money)."""
    return counted_toward_goal(totals) * 10_000 // goal if goal > 0 else 0
