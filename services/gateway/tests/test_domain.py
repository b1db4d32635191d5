"""Pure account rules and the OpenAPI merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway import domain
from gateway.openapi_merge import merge

SECRET = b"k" * 32


def test_emails_are_normalised_and_checked() -> None:
    assert domain.normalize_email("  Amina@Example.LOCALHOST ") == "amina@example.localhost"
    for bad in ("", "no-at-sign", "a@b", "a@@b.fr", "a b@c.fr", "a@b..fr", "x" * 250 + "@b.fr"):
        with pytest.raises(domain.DomainError):
            domain.normalize_email(bad)


def test_password_policy() -> None:
    assert domain.password_problems("correct horse battery") == []
    assert domain.password_problems("short") == ["must be at least 10 characters"]
    assert "is too easy to guess" in domain.password_problems("aaaaaaaaaaaa")
    assert "is too easy to guess" in domain.password_problems("Password123")
    assert "must not be your email address" in domain.password_problems("amina.diallo", "amina.diallo@x.fr")
    assert domain.password_problems("x" * 129) == ["must be at most 128 characters", "is too easy to guess"]


def test_action_links_are_signed_expiring_and_purpose_bound() -> None:
    token = domain.make_action_token(SECRET, domain.VERIFY_EMAIL, "usr_1~abc", 2000)
    assert domain.read_action_token(SECRET, token, domain.VERIFY_EMAIL, now=1999).token_id == "usr_1~abc"
    with pytest.raises(domain.DomainError, match="expired"):
        domain.read_action_token(SECRET, token, domain.VERIFY_EMAIL, now=2001)
    with pytest.raises(domain.DomainError, match="something else"):
        domain.read_action_token(SECRET, token, domain.RESET_PASSWORD, now=1000)
    with pytest.raises(domain.DomainError, match="not valid"):
        domain.read_action_token(b"other secret", token, domain.VERIFY_EMAIL, now=1000)
    tampered = token.replace("usr_1", "usr_2")
    with pytest.raises(domain.DomainError, match="not valid"):
        domain.read_action_token(SECRET, tampered, domain.VERIFY_EMAIL, now=1000)
    longer = token.replace(".2000.", ".9999.")
    with pytest.raises(domain.DomainError):
        domain.read_action_token(SECRET, longer, domain.VERIFY_EMAIL, now=1000)


def test_secrets_are_stored_as_hashes() -> None:
    secret = domain.new_secret("cs")
    stored = domain.secret_hash(secret)
    assert secret.startswith("cs_") and secret not in stored
    assert domain.secret_matches(secret, stored)
    assert not domain.secret_matches(secret + "x", stored)
    assert not domain.secret_matches(secret, None)


def test_admins_by_setting() -> None:
    assert domain.roles_for("Admin@Civicfund.localhost", {"admin@civicfund.localhost"}) == [
        "citizen",
        "admin",
    ]
    assert domain.roles_for("amina@x.fr", {"admin@civicfund.localhost"}) == ["citizen"]


def test_official_events_latest_time_wins() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    state = domain.apply_official_event(None, True, "reviewer", t)
    assert state == domain.OfficialState("reviewer", t)
    promoted = domain.apply_official_event(state, True, "manager", t + timedelta(seconds=2))
    assert promoted is not None and promoted.role == "manager"
    # A removal stamped before the promotion arrives late: ignored.
    assert domain.apply_official_event(promoted, False, None, t + timedelta(seconds=1)) is None
    removed = domain.apply_official_event(promoted, False, None, t + timedelta(seconds=3))
    assert removed is not None and removed.role is None


def test_route_timeouts_longest_prefix_by_segment() -> None:
    table = {"payments": 5.0, "payments/webhooks": 20.0}
    assert domain.route_timeout(table, "payments", "/webhooks/stripe", 10) == 20.0
    assert domain.route_timeout(table, "payments", "/webhooksX", 10) == 5.0
    assert domain.route_timeout(table, "payments", "pledges/1", 10) == 5.0
    assert domain.route_timeout(table, "campaigns", "campaigns", 10) == 10


def test_merge_prefixes_paths_and_namespaces_schemas() -> None:
    service = {
        "openapi": "3.1.0",
        "paths": {
            "/livez": {"get": {"responses": {}}},
            "/campaigns/{id}": {
                "get": {
                    "operationId": "get_campaign",
                    "tags": ["campaigns"],
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/CampaignOut"}}
                            }
                        },
                        "422": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/HTTPValidationError"}
                                }
                            }
                        },
                    },
                }
            },
        },
        "components": {
            "schemas": {"CampaignOut": {"type": "object"}, "HTTPValidationError": {"type": "object"}}
        },
    }
    gateway = {
        "openapi": "3.1.0",
        "paths": {"/api/v1/auth/login": {"post": {"operationId": "login", "responses": {}}}},
    }
    doc = merge(gateway, {"campaigns": service}, ["payments"])
    assert set(doc["paths"]) == {"/api/v1/auth/login", "/api/v1/campaigns/campaigns/{id}"}
    op = doc["paths"]["/api/v1/campaigns/campaigns/{id}"]["get"]
    assert op["operationId"] == "campaigns_get_campaign" and op["tags"] == ["campaigns: campaigns"]
    assert (
        op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        == "#/components/schemas/campaigns.CampaignOut"
    )
    assert (
        op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
        == "#/components/schemas/Error"
    )
    assert "campaigns.HTTPValidationError" not in doc["components"]["schemas"]
    assert doc["x-unavailable-services"] == ["payments"]


def test_merge_adds_what_only_the_gateway_answers() -> None:
    """Rate limits (429 with Retry-After) everywhere, a body over the limit where there is a body,
    a service down or slow (503, 504) on the services' operations; a service's own Error stays
    the one platform Error."""
    error_ref = {"$ref": "#/components/schemas/Error"}
    service = {
        "paths": {
            "/things/{id}": {
                "get": {"responses": {"404": {"content": {"application/json": {"schema": error_ref}}}}},
                "post": {"requestBody": {}, "responses": {}},
            }
        },
        "components": {"schemas": {"Error": {"title": "Error"}, "Thing": {}}},
    }
    gateway = {"paths": {"/api/v1/auth/login": {"post": {"requestBody": {}, "responses": {}}}}}
    doc = merge(gateway, {"campaigns": service}, [])
    get = doc["paths"]["/api/v1/campaigns/things/{id}"]["get"]["responses"]
    post = doc["paths"]["/api/v1/campaigns/things/{id}"]["post"]["responses"]
    login = doc["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert sorted(get) == ["404", "429", "503", "504"]
    assert sorted(post) == ["413", "429", "503", "504"]
    assert sorted(login) == ["413", "429"]
    assert get["404"]["content"]["application/json"]["schema"] == error_ref
    assert get["429"]["headers"]["Retry-After"]["required"] is True
    assert post["503"]["content"]["application/json"]["schema"] == error_ref
    assert (
        "campaigns.Error" not in doc["components"]["schemas"]
        and "campaigns.Thing" in doc["components"]["schemas"]
    )
