"""Residents' gifts to a city's pool: a manager marks the pool that accepts them (one per city,
year and currency), payments gives a failed project's pledge to it when its backer chose so, and
the gift adds to the pool's budget (README, "If a campaign fails: the backer's choice")."""
