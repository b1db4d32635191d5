"""Funding totals, derived from per-id records so that duplicated or reordered events leave them
exact. Pure: the funding use cases (funding.py, calls.py) store one record per pledge / payment /
refund / match commitment and move the totals by each record's `contribution`; `totals(...)` over
all of a campaign's records gives the same numbers from scratch.

Record shapes (what funding.py stores):
  pledge      {_id: pledge_id, backer_id, amount, authorized: bool, released: bool, charged: bool}
  payment     {_id: payment_id, pledge_id, backer_id, amount (0 until succeeded), succeeded: bool}
  refund      {_id: refund id, payment_id, amount}
  commitment  {_id: commitment_id, counts_toward_goal: bool, max_amount, applied: {application_id:
               amount}, released_amount?, canceled_amount?, canceled: bool, award?}
  in_kind     {_id: offer_id, value, counts_toward_goal: bool, delivered: bool}: help a neighbour
               gave against a need with a declared value, once its owner confirmed the delivery

`match_pledged` is not one record's contribution: on an all-or-nothing campaign an instant
commitment gives nothing before success (the pledges are not money yet), yet what it would give
the pledges still authorised counts toward the goal, like the pledges themselves. It is derived
from the campaign's outstanding pledges and its commitments' terms together (`match_pledged`),
so the use cases compute it again whenever a pledge or a commitment changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def pledge_outstanding(pledge: dict[str, Any]) -> int:
    """An all-or-nothing pledge counts as `pledged` while authorised and neither released nor
    charged; `released` and `charged` are terminal, whatever order the events came in."""
    if (
        bool(pledge.get("authorized"))
        and not bool(pledge.get("released"))
        and not bool(pledge.get("charged"))
    ):
        return int(pledge.get("amount", 0))
    return 0


def payment_net(payment: dict[str, Any], refunds: Iterable[dict[str, Any]]) -> int:
    if not bool(payment.get("succeeded")):
        return 0
    refunded = sum(int(r.get("amount", 0)) for r in refunds)
    return max(0, int(payment.get("amount", 0)) - refunded)


def commitment_given(commitment: dict[str, Any]) -> int:
    """What a city's match commitment has given (or firmly awarded) so far.

    canceled: the amount the cancel says stays given (else what was applied). released: the
    total released. Otherwise the sum of applied contributions. A call's award counts from the
    moment the proposal was selected."""
    applied = sum(int(v) for v in (commitment.get("applied") or {}).values())
    award = int(commitment.get("award", 0))
    if bool(commitment.get("canceled")):
        given = commitment.get("canceled_amount")
        return int(given) if given is not None else applied
    released = commitment.get("released_amount")
    base = max(applied, int(released)) if released is not None else applied
    return max(base, award)


def in_kind_value(record: dict[str, Any]) -> tuple[int, int]:
    """(value delivered, value counted toward the goal) of an in-kind record: nothing before the
    owner confirmed the delivery, and only a need declared as counting counts."""
    if not bool(record.get("delivered")):
        return 0, 0
    value = int(record.get("value", 0))
    return value, value if bool(record.get("counts_toward_goal")) else 0


def _ratio_hundredths(rule: dict[str, Any]) -> int:
    """The rule's ratio in hundredths (100 = 1:1), as endorsements stores it (at most two
    decimals); a ratio that is missing or not a number matches nothing here."""
    try:
        return max(0, round(float(rule.get("ratio", 0)) * 100))
    except (TypeError, ValueError):
        return 0


def _match_of_one(rule: dict[str, Any], amount: int) -> int:
    """What one contribution yields under the ratio (floored) and the per-contribution cap."""
    value = amount * _ratio_hundredths(rule) // 100
    cap = rule.get("cap_per_contribution")
    return min(value, int(cap)) if cap else value


def pledged_match_of(commitment: dict[str, Any], pledges: Iterable[dict[str, Any]]) -> int:
    """What one instant commitment would give the outstanding pledges of an all-or-nothing
    campaign if they were charged now: the ratio and the per-contribution cap on each pledge, at
    most `max_contributions_per_backer` pledges of one backer (their largest, then by id, so that
    the answer does not depend on the order the events came in), nothing unless the pledges come
    from `min_backers` distinct backers, and never more than is left of the commitment.

    It is an estimate: at success endorsements matches the charges first come, first served,
    and this is replaced by what it actually gives (`matched`) as the charges are matched."""
    rule = commitment.get("rule") or {}
    if (
        rule.get("condition") != "instant"
        or bool(commitment.get("canceled"))
        or not bool(commitment.get("counts_toward_goal"))
    ):
        return 0
    by_backer: dict[str, list[tuple[int, str]]] = {}
    for pledge in pledges:
        amount = pledge_outstanding(pledge)
        if amount > 0:
            by_backer.setdefault(str(pledge.get("backer_id")), []).append((amount, str(pledge["_id"])))
    if len(by_backer) < int(rule.get("min_backers") or 0):
        return 0
    per_backer = int(rule.get("max_contributions_per_backer") or 0)
    matched = 0
    for items in by_backer.values():
        items.sort(key=lambda item: (-item[0], item[1]))
        for amount, _ in items[:per_backer] if per_backer else items:
            matched += _match_of_one(rule, amount)
    left = max(0, int(commitment.get("max_amount", 0)) - commitment_given(commitment))
    return min(matched, left)


def match_pledged(
    funding_model: str, commitments: Iterable[dict[str, Any]], pledges: Iterable[dict[str, Any]]
) -> int:
    """The pledged match of a campaign: only all-or-nothing campaigns have pledges to match."""
    if funding_model != "all_or_nothing":
        return 0
    outstanding = [p for p in pledges if pledge_outstanding(p) > 0]
    return sum(pledged_match_of(c, outstanding) for c in commitments) if outstanding else 0


def totals(
    pledges: Iterable[dict[str, Any]],
    payments: Iterable[dict[str, Any]],
    refunds: Iterable[dict[str, Any]],
    commitments: Iterable[dict[str, Any]],
    in_kind: Iterable[dict[str, Any]] = (),
    funding_model: str = "keep_it_all",
) -> dict[str, int]:
    pledges, commitments = list(pledges), list(commitments)
    refunds_by_payment: dict[str, list[dict[str, Any]]] = {}
    for refund in refunds:
        refunds_by_payment.setdefault(refund["payment_id"], []).append(refund)
    raised = 0
    backers: set[str] = set()
    for payment in payments:
        net = payment_net(payment, refunds_by_payment.get(payment["_id"], []))
        raised += net
        if net > 0:
            backers.add(payment["backer_id"])
    pledged = 0
    for pledge in pledges:
        amount = pledge_outstanding(pledge)
        pledged += amount
        if amount > 0:
            backers.add(pledge["backer_id"])
    matched = matched_counted = match_promised = 0
    for commitment in commitments:
        given = commitment_given(commitment)
        matched += given
        if bool(commitment.get("counts_toward_goal")):
            matched_counted += given
        if not bool(commitment.get("canceled")):
            match_promised += max(given, int(commitment.get("max_amount", 0)))
    in_kind_delivered = in_kind_counted = 0
    for record in in_kind:
        delivered, counted = in_kind_value(record)
        in_kind_delivered += delivered
        in_kind_counted += counted
    return {
        "raised": raised,
        "pledged": pledged,
        "matched": matched,
        "matched_counted": matched_counted,
        "match_promised": match_promised,
        "match_pledged": match_pledged(funding_model, commitments, pledges),
        "in_kind_delivered": in_kind_delivered,
        "in_kind_counted": in_kind_counted,
        "backers_count": len(backers),
    }


# -- incremental form ----------------------------------------------------------------------------
# The use cases do not re-read every record on each event: when one record changes they add the
# difference between its contribution after and before. Each record's contribution is a pure
# function of its state, so the campaign's totals always equal `totals(...)` over the final
# records, whatever the order and however often an event came (a repeat changes nothing: delta 0).

AMOUNT_KEYS = ("raised", "pledged", "matched", "matched_counted", "match_promised", "in_kind_delivered",
               "in_kind_counted")  # fmt: skip


def contribution(
    kind: str, record: dict[str, Any] | None, refunds: Iterable[dict[str, Any]] = ()
) -> dict[str, int]:
    """What one record adds to the campaign's totals (`kind`: pledge, payment, commitment, in_kind)."""
    out = dict.fromkeys(AMOUNT_KEYS, 0)
    if record is None:
        return out
    if kind == "pledge":
        out["pledged"] = pledge_outstanding(record)
    elif kind == "payment":
        out["raised"] = payment_net(record, refunds)
    elif kind == "commitment":
        given = commitment_given(record)
        out["matched"] = given
        out["matched_counted"] = given if bool(record.get("counts_toward_goal")) else 0
        out["match_promised"] = (
            0 if bool(record.get("canceled")) else max(given, int(record.get("max_amount", 0)))
        )
    elif kind == "in_kind":
        out["in_kind_delivered"], out["in_kind_counted"] = in_kind_value(record)
    else:
        raise ValueError(f"unknown funding record kind {kind!r}")
    return out


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before[key] for key in AMOUNT_KEYS}


def empty_totals() -> dict[str, int]:
    """A campaign's totals before anything was given (also what older documents lack)."""
    return {**totals([], [], [], []), "funded": 0, "progress_bp": 0}


def backer_share(amounts: dict[str, int]) -> int:
    """The part of a contribution that makes its giver a backer (money in or promised)."""
    return amounts["raised"] + amounts["pledged"]


def change_commitment(record: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """A commitment after one match event: applications by id, the highest release, a final cancel."""
    out = dict(record)
    if "application_id" in change:
        out["applied"] = {**(record.get("applied") or {}), change["application_id"]: change["amount"]}
    if "released_amount" in change:
        out["released_amount"] = max(int(record.get("released_amount") or 0), change["released_amount"])
    if "canceled_amount" in change or change.get("canceled"):
        out["canceled"] = True
        if change.get("canceled_amount") is not None:
            out["canceled_amount"] = change["canceled_amount"]
    return out
