"""Every link notifications produces comes from the table in links.py: each kind renders, with
sample data, to links that match its declared patterns (the web site's tests follow them)."""

from __future__ import annotations

import re

from notifications.domain import KINDS
from notifications.links import (
    SAMPLE_BASE_URL,
    SAMPLE_EVENTS,
    all_link_patterns,
    sample_links,
)


def _regex(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z_]+\}", pattern)
    return re.compile(re.escape(SAMPLE_BASE_URL) + "[^/?]+".join(re.escape(p) for p in parts) + "$")


def test_every_kind_has_a_link_pattern_and_a_sample() -> None:
    patterns = all_link_patterns()
    assert set(KINDS) <= set(patterns)
    assert {kind for kind, _ in SAMPLE_EVENTS} == set(KINDS)


def test_every_rendered_link_matches_a_declared_pattern() -> None:
    patterns = all_link_patterns()
    footer = [_regex(p) for p in patterns["email footer"]]
    found = sample_links()
    assert set(found) == set(KINDS)
    for kind, links in found.items():
        assert links, kind
        own = [_regex(p) for p in patterns[kind] if p.startswith("/")]
        for link in links:
            assert link.startswith(SAMPLE_BASE_URL + "/"), (kind, link)
            if kind.startswith("user."):
                continue  # the gateway's own link, carried by the event
            assert any(r.match(link) for r in own + footer), (kind, link)
    # Both variants of a proposal's link, and the footer on an optional email.
    assert f"{SAMPLE_BASE_URL}/campaigns/cmp_1" in found["call.proposal_selected"]
    assert f"{SAMPLE_BASE_URL}/cities/montreuil/calls/call_1" in found["call.proposal_selected"]
    assert f"{SAMPLE_BASE_URL}/campaigns/cmp_1" in found["campaign.offer_decided"]  # both decisions
    assert f"{SAMPLE_BASE_URL}/me/notifications" in found["campaign.published"]
    assert any(
        link.startswith(f"{SAMPLE_BASE_URL}/unsubscribe?token=") for link in found["campaign.published"]
    )
    assert not any("unsubscribe" in link for link in found["payment.succeeded"])  # receipts: locked
