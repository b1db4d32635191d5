"""Campaigns' business counters, next to servicekit's HTTP and event metrics on /metrics."""

from prometheus_client import Counter

TRANSITIONS = Counter(
    "campaigns_transitions_total", "Campaign status changes, by resulting status", ["status"]
)
DEADLINES_CLOSED = Counter(
    "campaigns_deadlines_closed_total", "Campaigns closed by the deadline scheduler", ["status"]
)
GOALS_REACHED = Counter("campaigns_goals_reached_total", "Campaigns that reached their goal")
