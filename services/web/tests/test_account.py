"""Account and my-space rules that need no browser: the API's password rules in the site's
words, field errors under the form's names, what an unsubscribe link names, inbox links."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from web.gateway import ApiFailure
from web.pages.account import _field_errors, _password_problem
from web.pages.me import _link_category, _local_link


def fake_site(base: str = "http://127.0.0.1:8000") -> Any:
    return SimpleNamespace(gettext=lambda text: text, settings=SimpleNamespace(public_base_url=base))


def test_password_rules_of_the_api_are_said_in_the_site_words() -> None:
    site = fake_site()
    assert _password_problem(site, "must be at least 10 characters") == "Use at least 10 characters."
    assert _password_problem(site, "must not be your name") == "Do not use your name as your password."
    assert _password_problem(site, "something new") == "something new"  # unknown: the API's text


def test_field_errors_take_the_form_names() -> None:
    failure = ApiFailure(
        422, "weak_password", "password is too easy to guess",
        details=[{"loc": ["body", "password"], "msg": "is too easy to guess", "type": "weak_password"}],
    )  # fmt: skip
    errors = _field_errors(fake_site(), failure, {"password": "new_password"})
    assert errors == {"new_password": "This password is too easy to guess. Choose another one."}
    bare = _field_errors(fake_site(), ApiFailure(422, "validation_error", "bad"))
    assert bare == {"__all__": "bad"}


def test_an_unsubscribe_token_names_its_category_for_display() -> None:
    # payload of {"u":"usr_1","c":"campaign_news"}, base64url without padding, then a signature
    token = "eyJ1IjoidXNyXzEiLCJjIjoiY2FtcGFpZ25fbmV3cyJ9.c2ln"
    assert _link_category(token) == "campaign_news"
    assert _link_category("not-base64!.x") is None
    assert _link_category("WzFd.x") is None  # a JSON list, not an object


def test_inbox_links_become_paths_of_the_site() -> None:
    site = fake_site()
    assert _local_link(site, "http://127.0.0.1:8000/campaigns/cmp_1") == "/campaigns/cmp_1"
    assert _local_link(site, "/campaigns/cmp_1/updates/upd_1") == "/campaigns/cmp_1/updates/upd_1"
    assert _local_link(site, "https://evil.example/x") is None
    assert _local_link(site, None) is None
