"""The project form's own checks (what a person can fix before the API is called)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from starlette.datastructures import FormData

from web.gateway import ApiFailure
from web.pages.projects import (
    CAMPAIGN_FIELDS,
    LIVE_EDITABLE,
    _form_errors,
    _local_time,
    _parse_campaign,
    status_text,
)

SITE: Any = SimpleNamespace(gettext=lambda text: text)
GOOD = {
    "title": "Benches for the square", "summary": "Three benches", "story": "We **build**",
    "category": "public_space", "city": "Montreuil", "goal": "2 500,50", "currency": "EUR",
    "funding_model": "all_or_nothing", "duration_days": "30",
}  # fmt: skip


def test_a_good_form_becomes_the_api_body_in_minor_units() -> None:
    _values, body, errors = _parse_campaign(SITE, FormData(GOOD), CAMPAIGN_FIELDS)
    assert errors == {}
    assert body["goal"] == 250050 and body["municipality"] == "montreuil"
    assert body["description"] == "We **build**" and body["duration_days"] == 30
    assert "cover_image_url" not in body  # left empty: not sent (the API refuses an empty URL)


def test_bad_answers_are_named_by_their_form_field_and_kept() -> None:
    typed = {**GOOD, "title": "ab", "goal": "abc", "duration_days": "5", "city": "Saint Denis!"}
    values, _body, errors = _parse_campaign(SITE, FormData(typed), CAMPAIGN_FIELDS)
    assert set(errors) == {"title", "goal", "duration_days", "city"}
    assert values["goal"] == "abc" and values["title"] == "ab"


def test_a_live_campaign_sends_only_what_may_still_change() -> None:
    _values, body, errors = _parse_campaign(SITE, FormData({**GOOD, "goal": "abc"}), LIVE_EDITABLE)
    assert errors == {}
    assert set(body) <= set(LIVE_EDITABLE)


def test_a_meetup_time_without_a_zone_is_paris_time() -> None:
    assert _local_time("2027-07-01T18:00").isoformat() == "2027-07-01T18:00:00+02:00"
    assert _local_time("2027-01-10T18:00").isoformat() == "2027-01-10T18:00:00+01:00"


def test_a_returned_draft_says_so() -> None:
    assert status_text(SITE, {"status": "draft", "reason": "Add a photo"})[0] == "Returned for changes"
    assert status_text(SITE, {"status": "draft"})[0] == "Draft"


def test_api_field_errors_go_beside_the_form_fields_or_on_top() -> None:
    failure = ApiFailure(422, "validation_error", "invalid", details=[
        {"loc": ["body", "description"], "msg": "too long"}, {"loc": ["body", "lat"], "msg": "lat and lon go together"},
    ])  # fmt: skip
    errors = _form_errors(failure, {"story": "", "title": ""}, {"description": "story"})
    assert errors == {"story": "too long", "__all__": "lat: lat and lon go together"}
    assert _form_errors(ApiFailure(409, "frozen_once_live", "the goal no longer changes"), {}) == {
        "__all__": "the goal no longer changes"
    }
