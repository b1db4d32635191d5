"""Campaigns' business counters, next to servicekit's HTTP and event metrics on /metrics."""

from __future__ import annotations

from prometheus_client import Counter

from servicekit.events import Event

from . import domain

TRANSITIONS = Counter(
    "campaigns_transitions_total", "Campaign status changes, by resulting status", ["status"]
)
DEADLINES_CLOSED = Counter(
    "campaigns_deadlines_closed_total", "Campaigns closed at their deadline, on payments' tally", ["status"]
)
CLOSINGS_REQUESTED = Counter(
    "campaigns_closings_requested_total", "Campaigns past their deadline that asked payments for a tally"
)
GOALS_REACHED = Counter("campaigns_goals_reached_total", "Campaigns that reached their goal")

_TRANSITION_EVENTS = frozenset(t.event for t in domain.TRANSITIONS.values())


def count_committed(events: list[Event]) -> None:
    """Called after each commit with its events, so a transaction that rolled back or ran again
    after a conflict is counted once, whichever use case staged the change."""
    for event in events:
        if event.routing_key in _TRANSITION_EVENTS:
            TRANSITIONS.labels(event.data["status"]).inc()
            if "tally" in (event.data.get("closing") or {}) and event.data["status"] in (
                "succeeded",
                "failed",
            ):
                DEADLINES_CLOSED.labels(event.data["status"]).inc()
        elif event.routing_key == "campaign.goal_reached":
            GOALS_REACHED.inc()
        elif event.routing_key == "campaign.deadline_passed":
            CLOSINGS_REQUESTED.inc()
