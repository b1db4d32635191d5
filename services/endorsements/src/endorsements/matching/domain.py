"""Match-funding rules as data: what a city's commitment yields for a campaign.

A rule is a dict (stored as is, published in `match.*` events):
  condition                    instant | on_goal_reached | lump_sum_at_threshold
  ratio                        city money per unit contributed (1 = 1:1, 2 = 2:1, 0.5 = 1:2)
  cap_per_contribution         most matched for one contribution (minor units)
  cap_per_project              most the commitment gives in total (minor units)
  max_contributions_per_backer how many contributions of one backer are matched
  min_backers                  distinct backers needed before anything is matched/released
  threshold_percent, lump_sum  lump_sum_at_threshold: pay `lump_sum` once raised >= X % of goal

Money stays integer: the ratio is kept in hundredths (`ratio_bp`, 100 = 1:1) and products are
floored, so the city never pays a fraction of a cent more than its rule says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

CONDITIONS = ("instant", "on_goal_reached", "lump_sum_at_threshold")


class RuleError(ValueError):
    pass


@dataclass(frozen=True)
class Contribution:
    payment_id: str
    backer_id: str
    amount: int


def ratio_hundredths(ratio: float) -> int:
    bp = round(ratio * 100)
    if bp <= 0 or abs(bp - ratio * 100) > 1e-6:
        raise RuleError("ratio must be positive with at most two decimals (1, 2, 0.5 ...)")
    return bp


def validate_rule(rule: dict[str, Any]) -> int:
    """Check a rule's consistency; return what it can cost at most (the pool reservation)."""
    condition = rule.get("condition")
    if condition not in CONDITIONS:
        raise RuleError(f"condition must be one of {', '.join(CONDITIONS)}")
    ratio_hundredths(float(rule.get("ratio", 0)))
    if condition == "lump_sum_at_threshold":
        if not rule.get("lump_sum") or rule.get("threshold_percent") is None:
            raise RuleError("lump_sum_at_threshold needs lump_sum and threshold_percent")
        return int(rule["lump_sum"])
    if not rule.get("cap_per_project"):
        raise RuleError(f"{condition} needs cap_per_project (the most the city commits)")
    return int(rule["cap_per_project"])


def matched_for(rule: dict[str, Any], amount: int) -> int:
    """What one contribution yields under the ratio and the per-contribution cap."""
    value = amount * ratio_hundredths(float(rule["ratio"])) // 100
    cap = rule.get("cap_per_contribution")
    return min(value, int(cap)) if cap else value


def instant_match(
    rule: dict[str, Any],
    contribution_amount: int,
    backer_matched_count: int,
    distinct_backers: int,
    already_given: int,
    max_amount: int,
) -> int:
    """First come, first served: match this contribution now, from what is left."""
    per_backer = rule.get("max_contributions_per_backer")
    if per_backer and backer_matched_count >= int(per_backer):
        return 0
    if distinct_backers < int(rule.get("min_backers") or 0):
        return 0
    return max(0, min(matched_for(rule, contribution_amount), max_amount - already_given))


def conditional_release(
    rule: dict[str, Any], contributions: Iterable[Contribution], reported_total: int, max_amount: int
) -> int:
    """on_goal_reached: the amount released at success.

    Per-contribution rules apply to the contributions already charged; money the campaign
    reports beyond them (all_or_nothing pledges are charged after success) is matched at the
    plain ratio. Returns 0 when the minimum number of backers is not met."""
    by_backer: dict[str, int] = {}
    known_total = 0
    matched = 0
    items = list(contributions)
    # The minimum counts backers who were actually charged: none known means none counted.
    if len({c.backer_id for c in items}) < int(rule.get("min_backers") or 0):
        return 0
    per_backer = rule.get("max_contributions_per_backer")
    for c in items:
        known_total += c.amount
        count = by_backer.get(c.backer_id, 0)
        by_backer[c.backer_id] = count + 1
        if per_backer and count >= int(per_backer):
            continue
        matched += matched_for(rule, c.amount)
    uncovered = max(0, reported_total - known_total)
    matched += uncovered * ratio_hundredths(float(rule["ratio"])) // 100
    return min(matched, max_amount)


def lump_sum_due(rule: dict[str, Any], goal: int, raised: int, distinct_backers: int) -> bool:
    if distinct_backers < int(rule.get("min_backers") or 0):
        return False
    return raised * 100 >= int(rule["threshold_percent"]) * goal


def goal_reached(goal: int, raised: int, pledged: int, counted_match: int) -> bool:
    """The goal was met by the deadline: money charged, pledges still authorised (all_or_nothing)
    and the matches that count toward the goal. A keep-it-all campaign "succeeds" with anything
    raised, so its success alone never says the goal was met."""
    return goal > 0 and raised + pledged + counted_match >= goal


@dataclass(frozen=True)
class EndAction:
    """What a campaign's end does to one still-open commitment.

    release   the city owes `amount` (final: it becomes due)
    cancel    nothing more is given; what was given stays (`reason` says why)
    charging  all_or_nothing success: the pledges are charged now, and the commitment is
              settled against the money actually charged, then due when the campaign completes
    """

    kind: Literal["release", "cancel", "charging"]
    amount: int = 0
    reason: str = ""


def end_action(
    rule: dict[str, Any],
    funding_model: str,
    verb: str,
    contributions: Iterable[Contribution],
    goal: int,
    raised: int,
    pledged: int,
    counted_match: int,
    max_amount: int,
) -> EndAction:
    """The rule applied when a campaign ends (`verb`: succeeded, failed, canceled, completed).

    `contributions` are the charges known here, `raised`/`pledged` the campaign's own totals at
    the deadline, `counted_match` what other commitments gave that counts toward the goal."""
    condition = rule["condition"]
    items = list(contributions)
    if verb in ("failed", "canceled"):
        return EndAction("cancel", reason=f"campaign {verb}")
    if verb == "completed":
        return EndAction("cancel", reason="campaign completed: unused remainder returned to the pool")
    charged = max(sum(c.amount for c in items), raised)
    backers = len({c.backer_id for c in items})
    if funding_model == "all_or_nothing":
        if not goal_reached(goal, raised, pledged, counted_match):
            return EndAction("cancel", reason="goal not reached by the deadline")
        return EndAction("charging")
    if condition == "on_goal_reached":
        if not goal_reached(goal, charged, 0, counted_match):
            return EndAction("cancel", reason="goal not reached by the deadline")
        amount = conditional_release(rule, items, raised, max_amount)
        if amount <= 0:
            return EndAction("cancel", reason="the rule's conditions were not met")
        return EndAction("release", amount)
    if condition == "lump_sum_at_threshold":
        if goal and lump_sum_due(rule, goal, charged, backers):
            return EndAction("release", max_amount)
        return EndAction("cancel", reason="threshold not reached")
    # keep_it_all instant: the campaign takes no more money; what it gave stays and is due.
    return EndAction("cancel", reason=f"campaign {verb}: unused remainder returned to the pool")


# A commitment holds its maximum in the pool while it is open: `closing` is a keep-it-all
# commitment whose campaign ended, waiting for payments it has not heard of yet.
OPEN_STATUSES = ("active", "closing")


class TallyError(ValueError):
    pass


@dataclass(frozen=True)
class Seen:
    """A number of succeeded payments and their sum (minor units, refunds not subtracted)."""

    count: int
    amount: int


def closing_tally(data: dict[str, Any]) -> Seen | None:
    """The succeeded payments campaigns counted when the campaign closed
    (`closing.tally.succeeded` of its snapshot); None when the event carries no tally (events
    from before campaigns waited for payments' tally). Raises TallyError for a malformed one."""
    closing = data.get("closing")
    if not isinstance(closing, dict) or closing.get("tally") is None:
        return None
    tally = closing["tally"]
    succeeded = tally.get("succeeded") if isinstance(tally, dict) else None
    if not isinstance(succeeded, dict):
        raise TallyError("closing.tally.succeeded must be an object with count and amount")
    return Seen(_tally_number(succeeded, "count"), _tally_number(succeeded, "amount"))


def _tally_number(succeeded: dict[str, Any], name: str) -> int:
    value = succeeded.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TallyError(f"closing.tally.succeeded.{name} must be a non-negative integer")
    return value


def waits_for_payments(funding_model: str, verb: str, tally: Seen | None, recorded: Seen) -> bool:
    """Whether a keep-it-all success must wait before its commitments finish: payments and
    campaign events come by independent queues, so a payment charged before the deadline can
    arrive here after the campaign's end. The commitments wait while the payments recorded here
    are fewer (in number or in sum) than campaigns' tally; more than the tally (a payment
    charged after the deadline) does not hold them. Without a tally, nothing waits (as before);
    an all-or-nothing success has its own wait (`charging`), and a failure ends at once."""
    if tally is None or verb != "succeeded" or funding_model == "all_or_nothing":
        return False
    return recorded.count < tally.count or recorded.amount < tally.amount


def settle_charged(
    rule: dict[str, Any], contributions: Iterable[Contribution], goal: int, max_amount: int
) -> int:
    """all_or_nothing after success: what the commitment gives for the money actually charged
    so far (per-backer limits, minimum backers and caps on the charges, first come first served)."""
    items = list(contributions)
    if rule["condition"] == "lump_sum_at_threshold":
        charged = sum(c.amount for c in items)
        due = bool(goal) and lump_sum_due(rule, goal, charged, len({c.backer_id for c in items}))
        return max_amount if due else 0
    if rule["condition"] == "on_goal_reached":
        return conditional_release(rule, items, 0, max_amount)
    given, seen, per_backer = 0, set[str](), dict[str, int]()
    for c in items:
        seen.add(c.backer_id)
        amount = instant_match(rule, c.amount, per_backer.get(c.backer_id, 0), len(seen), given, max_amount)
        if amount > 0:
            per_backer[c.backer_id] = per_backer.get(c.backer_id, 0) + 1
            given += amount
    return given


def counts_toward_goal(condition: str) -> bool:
    """Whether campaigns adds what this commitment gives to `raised` when checking the goal.

    A property of the commitment, the same in every match.* event of it (consumers keep the
    last value they saw, and events may come in any order): instant matches and lump sums help
    reach the goal; an on_goal_reached match is only paid once the goal was met without it."""
    return condition in ("instant", "lump_sum_at_threshold")


def pool_usage(commitments: Iterable[dict[str, Any]]) -> int:
    """What a pool has spent or promised: an open commitment holds its whole maximum, a
    closed one only what it actually gave (instant matches already paid are never taken back)."""
    total = 0
    for c in commitments:
        given = int(c.get("given", 0))
        total += max(int(c["max_amount"]), given) if c["status"] in OPEN_STATUSES else given
    return total


@dataclass(frozen=True)
class CostPreview:
    """What a rule would cost the city, before it is committed.

    `reserved` is what the pool holds back while the commitment is open; `now` is what the rule
    would give if the contributions made so far had come under it (a lump sum counts only when
    it would be due); `at_goal` is the most it would give once the goal is raised."""

    reserved: int
    now: int
    at_goal: int
    lump_sum_due_now: bool


def preview_cost(
    rule: dict[str, Any], contributions: Iterable[Contribution], goal: int, reported_total: int = 0
) -> CostPreview:
    """The cost of `rule` at the campaign's current totals, by the same rules settlement
    applies: contributions in order (first come, first served), per-backer limits and the
    minimum number of backers as they would have counted at each contribution. Raises
    RuleError for an inconsistent rule."""
    reserved = validate_rule(rule)
    items = list(contributions)
    raised = max(sum(c.amount for c in items), reported_total)
    condition = rule["condition"]
    backers = len({c.backer_id for c in items})
    if condition == "lump_sum_at_threshold":
        due = bool(goal) and lump_sum_due(rule, goal, raised, backers)
        return CostPreview(reserved, reserved if due else 0, reserved, due)
    if condition == "on_goal_reached":
        now = conditional_release(rule, items, reported_total, reserved)
    else:
        now, seen, per_backer = 0, set[str](), dict[str, int]()
        for c in items:
            seen.add(c.backer_id)
            amount = instant_match(rule, c.amount, per_backer.get(c.backer_id, 0), len(seen), now, reserved)
            if amount > 0:
                per_backer[c.backer_id] = per_backer.get(c.backer_id, 0) + 1
                now += amount
    at_goal = min(reserved, goal * ratio_hundredths(float(rule["ratio"])) // 100) if goal else reserved
    return CostPreview(reserved, now, max(at_goal, now), False)
