"""The discover and campaign templates rendered with everything the API can send (labels with
support, each kind of match commitment, pledges, a full meetup, an offer refused), in both
languages: the parts a browser journey rarely reaches still render and say the right thing."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from web.pages.discover import city_name, days_left
from web.rendering import StaticAssets, Templates
from web.settings import Settings
from web.vocabulary import campaign_status_names as status_names


def campaign(**extra: Any) -> dict[str, Any]:
    return {
        "id": "cmp_1",
        "owner_id": "usr_owner",
        "status": "live",
        "title": "Community garden",
        "summary": "Raised beds",
        "description": "We build **ten raised beds**.<script>alert(1)</script>",
        "category": "environment",
        "municipality": "montreuil",
        "neighbourhood": "Bel-Air",
        "goal": 300000,
        "currency": "EUR",
        "funding_model": "all_or_nothing",
        "deadline": "2030-06-01T10:00:00Z",
        "totals": {
            "raised": 50000,
            "pledged": 25000,
            "matched": 10000,
            "backers_count": 3,
            "progress_bp": 2833,
        },
        "labelled_by": ["montreuil"],
        "followers_count": 2,
        "needs": [],
        "next_meetups": [],
        **extra,
    }


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates(["en", "fr"], StaticAssets(), {"settings": Settings()})


def context(locale: str, **extra: Any) -> dict[str, Any]:
    names = {"montreuil": "Montreuil"}
    site = SimpleNamespace(is_admin=False, gettext=lambda s: s, locale=locale)
    return {
        "site": site,
        "user": {"id": "usr_me", "display_name": "Me"},
        "csrf_token": "t" * 40,
        "request_path": "/",
        "current_path": "/",
        "flash": None,
        "city_name": lambda slug: city_name(names, slug),
        "categories": {"environment": "Environment"},
        "funding_models": {"keep_it_all": "Keep it all", "all_or_nothing": "All or nothing"},
        "statuses": status_names(site),  # type: ignore[arg-type]
        "days_left": days_left,
        **extra,
    }


def page_context(locale: str, **extra: Any) -> dict[str, Any]:
    c = campaign(
        needs=[{"id": "need_1", "title": "Volunteers", "kind": "volunteers", "quantity": 12, "unit": "people",
                "remaining": 12, "offered": 0, "open": True}],
        next_meetups=[{"id": "mtp_1", "title": "Site visit", "place": "Square", "starts_at": "2030-05-10T16:00:00Z",
                       "capacity": 1, "going": 1, "waitlisted": 2, "description_html": ""}],
    )  # fmt: skip
    rule = {
        "pool_id": "p",
        "max_amount": 300000,
        "given": 10000,
        "currency": "EUR",
        "municipality": "montreuil",
    }
    return context(
        locale,
        campaign=c,
        totals=c["totals"],
        labels=[{"municipality": "montreuil", "status": "granted", "note": "", "in_kind_value": 50000,
                 "currency": "EUR", "support": [
                     {"kind": "land", "description": "A plot", "address": "Parc des Guilands",
                      "starts_on": "2030-04-01", "ends_on": "2030-09-30"},
                     {"kind": "equipment", "description": "Tools", "value": 50000, "currency": "EUR"}]}],
        commitments=[
            {**rule, "rule": {"condition": "instant", "ratio": 1}},
            {**rule, "rule": {"condition": "on_goal_reached", "ratio": 0.5}},
            {**rule, "rule": {"condition": "lump_sum_at_threshold", "lump_sum": 100000, "threshold_percent": 50}},
        ],
        promised=900000,
        my_pledge={"id": "plg_1", "status": "authorized", "amount": 2500, "currency": "EUR"},
        unavailable=[],
        updates=[{"id": "upd_1", "title": "News", "body": "**Hi**", "created_at": "2030-01-01T00:00:00Z"}],
        more_updates=False,
        meetups=c["next_meetups"],
        needs=c["needs"],
        is_owner=False,
        following=False,
        rsvps={},
        focus_update="upd_1",
        focus_offer=None,
        offer_state={"need_id": "need_1", "quantity": "0", "message": "typed",
                     "errors": {"quantity": "Enter a whole number from 1 to 10,000."}},
        public_url="http://x/campaigns/cmp_1",
        mailto="mailto:?subject=a",
        support_kinds={"land": "A plot of land", "equipment": "Equipment"},
        need_kinds={"volunteers": "Volunteers"},
        when=lambda value: str(value),
    )  # fmt: skip


def test_the_campaign_page_shows_labels_support_matches_and_the_typed_offer(templates: Templates) -> None:
    html = templates.render("en", "campaign/page.html", page_context("en"))
    assert "All or nothing: you are charged only if the goal is reached by 1 June 2030." in html
    assert "Labelled by Montreuil" in html and "Parc des Guilands" in html
    assert "Montreuil adds €1 for every €1 given, up to €3,000." in html
    assert "Montreuil adds €0.50 for every €1 given once the goal is reached" in html
    assert "Montreuil gives €1,000 once 50% of the goal is raised." in html
    assert "Promised by the city: up to €9,000" in html
    assert "nothing is charged unless the goal is reached" in html
    assert "Join the waiting list" in html  # the only seat is taken
    assert 'aria-invalid="true"' in html and ">typed</textarea>" in html
    assert 'class="update is-target"' in html and "data-focus" in html
    assert "<script>alert" not in html  # the story is sanitised


def test_the_campaign_page_in_french(templates: Templates) -> None:
    html = templates.render("fr", "campaign/page.html", page_context("fr"))
    assert "Tout ou rien : vous n\u2019êtes débité que si l\u2019objectif est atteint" in html
    assert "Labellisé par Montreuil" in html
    assert "Soutenir ce projet" in html


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_discover_renders_cards_and_the_empty_state(templates: Templates, locale: str) -> None:
    base = context(
        locale,
        filters={"q": "", "city": "", "category": "", "funding_model": "", "labelled_by": "", "sort": "newest"},
        filtered=False,
        errors={},
        cities={"montreuil": "Montreuil"},
        sorts={"newest": "Newest"},
        next_url="/?cursor=abc&trail=-",
        previous_url=None,
        page_number=1,
    )  # fmt: skip
    html = templates.render(locale, "discover/index.html", {**base, "campaigns": [campaign()]})
    assert (
        'href="/campaigns/cmp_1"' in html
        and "progress-raised w-25" in html
        and "progress-matched w-3" in html
    )
    assert 'rel="next"' in html and 'rel="prev"' not in html
    empty = templates.render(locale, "discover/index.html", {**base, "campaigns": [], "next_url": None})
    assert 'href="/propose"' in empty and "campaign-card" not in empty


def test_days_left_counts_a_started_day() -> None:
    assert days_left({"deadline": None}) is None
    assert days_left({"deadline": "2000-01-01T00:00:00Z"}) == 0
