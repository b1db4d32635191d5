"""The pure rules of abuse reports: who may report what, deciding once, what hiding records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from campaigns import domain, domain_community
from campaigns import domain_reports as rules

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CAMPAIGN: dict[str, Any] = {"_id": "cmp_1", "owner_id": "usr_o", "title": "Park", "status": "live"}
UPDATE: dict[str, Any] = {"_id": "upd_1", "campaign_id": "cmp_1", "author_id": "usr_o", "title": "News"}
OFFER: dict[str, Any] = {
    "_id": "off_1",
    "campaign_id": "cmp_1",
    "need_id": "need_1",
    "from_user_id": "usr_h",
    "message": "Cheap watches",
    "quantity": 2,
    "state": "pending",
}


def _report(target: str = "update", content: dict[str, Any] = UPDATE) -> dict[str, Any]:
    return rules.new_report("rep_1", target, content, CAMPAIGN, "usr_r", "spam", "", NOW, 1)


def test_the_author_is_who_wrote_it() -> None:
    assert rules.author_of("campaign", CAMPAIGN, CAMPAIGN) == "usr_o"
    assert rules.author_of("update", UPDATE, CAMPAIGN) == "usr_o"
    assert rules.author_of("offer", OFFER, CAMPAIGN) == "usr_h"
    assert _report("offer", OFFER)["excerpt"] == "Cheap watches"
    assert _report()["excerpt"] == "News"


def test_offers_are_reported_only_by_those_who_can_see_them() -> None:
    assert rules.may_see_target("offer", OFFER, CAMPAIGN, "usr_o")
    assert not rules.may_see_target("offer", OFFER, CAMPAIGN, "usr_x")
    assert rules.may_see_target("update", UPDATE, CAMPAIGN, "usr_x")


def test_own_or_hidden_content_is_not_reportable() -> None:
    rules.check_reportable("update", UPDATE, CAMPAIGN, "usr_r")
    with pytest.raises(rules.ReportRefused) as own:
        rules.check_reportable("offer", OFFER, CAMPAIGN, "usr_h")
    assert own.value.code == "own_content" and own.value.status == 409
    hidden = rules.hidden(UPDATE, rules.decide(_report(), "hide", "usr_a", "Insults", NOW, 2))
    with pytest.raises(rules.ReportRefused) as gone:
        rules.check_reportable("update", hidden, CAMPAIGN, "usr_r")
    assert gone.value.code == "already_hidden"
    # An update of a hidden campaign is hidden with it.
    hidden_campaign = {**CAMPAIGN, "hidden": True}
    with pytest.raises(rules.ReportRefused):
        rules.check_reportable("update", UPDATE, hidden_campaign, "usr_r")


def test_one_claim_per_person_per_item() -> None:
    assert rules.claim_id("update", "upd_1", "usr_r") != rules.claim_id("update", "upd_1", "usr_s")
    assert rules.claim_id("update", "upd_1", "usr_r") != rules.claim_id("offer", "upd_1", "usr_r")


def test_deciding_once_and_hiding_needs_a_reason() -> None:
    report = _report()
    with pytest.raises(rules.ReportRefused) as no_reason:
        rules.decide(report, "hide", "usr_a", "  ", NOW, 2)
    assert no_reason.value.code == "reason_required" and no_reason.value.status == 422
    dismissed = rules.decide(report, "dismiss", "usr_a", "", NOW, 2)
    assert dismissed["state"] == "dismissed" and dismissed["decided_by"] == "usr_a"
    assert dismissed["decided_ms"] == 2 and report["state"] == "open"  # the input is not changed
    with pytest.raises(rules.ReportRefused) as twice:
        rules.decide(dismissed, "hide", "usr_a", "Insults", NOW, 3)
    assert twice.value.code == "already_decided"
    with pytest.raises(rules.ReportRefused):
        rules.decide(report, "delete", "usr_a", "x", NOW, 2)


def test_hiding_records_who_when_why_and_the_event_names_the_item() -> None:
    decided = rules.decide(_report("offer", OFFER), "hide", "usr_a", " Spam ", NOW, 2)
    hidden = rules.hidden(OFFER, decided)
    assert rules.is_hidden(hidden) and not rules.is_hidden(OFFER)
    assert hidden["hidden_reason"] == "Spam" and hidden["hidden_by"] == "usr_a" and hidden["hidden_at"] == NOW
    event = rules.hidden_event(decided, CAMPAIGN)
    assert event["offer_id"] == "off_1" and "update_id" not in event
    assert event["author_id"] == "usr_h" and event["reason"] == "Spam" and event["report_reason"] == "spam"
    campaign_event = rules.hidden_event(
        rules.decide(_report("campaign", CAMPAIGN), "hide", "a", "Fraud", NOW, 2), CAMPAIGN
    )
    assert "offer_id" not in campaign_event and "update_id" not in campaign_event


def test_hidden_content_leaves_public_reads() -> None:
    assert domain.can_see(CAMPAIGN, None, False)
    hidden = {**CAMPAIGN, "hidden": True}
    assert not domain.can_see(hidden, None, False) and not domain.can_see(hidden, "usr_x", False)
    assert domain.can_see(hidden, "usr_o", False) and domain.can_see(hidden, None, True)
    need = {"quantity": 5}
    counts = domain_community.need_counts(need, [OFFER, {**OFFER, "_id": "off_2", "hidden": True}])
    assert counts["offers_count"] == 1 and counts["offered"] == 2
