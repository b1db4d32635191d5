"""Accounts end to end on the in-process gateway: real HTTP, nx-27017 and RabbitMQ."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt

from servicekit.testing.helpers import eventually, tap

PASSWORD = "correct horse battery"


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _events(received: list, key: str, user_id: str) -> list[dict[str, Any]]:
    out = []
    for message in received:
        body = json.loads(message.body)
        if body["type"] == f"org.civicfund.{key}" and body["subject"] == user_id:
            out.append(body["data"])
    return out


async def test_register_verify_login_refresh_reuse_logout(gateway, new_email: Callable[[str], str]) -> None:
    _, received = await tap(gateway.bus, "user.*")
    email = new_email("amina")
    async with gateway.client() as client:
        created = await client.post(
            "/api/v1/auth/register",
            json={
                "email": email.upper(),
                "password": PASSWORD,
                "display_name": "Amina",
                "locale": "fr",
                "postcode": "93100",
            },
        )
        assert created.status_code == 201, created.text
        user = created.json()
        assert user["email"] == email and user["email_verified"] is False
        assert "password" not in json.dumps(user)

        again = await client.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Twin"}
        )
        assert again.status_code == 409 and again.json()["error"]["code"] == "email_taken"

        # The verification link goes out through notifications, as an event.
        await eventually(lambda: _events(received, "user.verification_requested", user["id"]))
        registered = _events(received, "user.registered", user["id"])
        assert registered == [
            {
                "user_id": user["id"],
                "email": email,
                "display_name": "Amina",
                "locale": "fr",
                "postcode": "93100",
            }
        ]
        link = _events(received, "user.verification_requested", user["id"])[0]["verify_url"]
        assert link.startswith("https://civicfund.test/verify-email?token=")
        token = parse_qs(urlparse(link).query)["token"][0]

        verified = await client.post("/api/v1/auth/verify-email", json={"token": token})
        assert verified.status_code == 200 and verified.json()["email_verified"] is True
        reused_link = await client.post("/api/v1/auth/verify-email", json={"token": token})
        assert reused_link.status_code == 400 and reused_link.json()["error"]["code"] == "token_used"
        forged = await client.post("/api/v1/auth/verify-email", json={"token": token[:-3] + "AAA"})
        assert forged.status_code == 400 and forged.json()["error"]["code"] == "invalid_token"

        wrong = await client.post("/api/v1/auth/login", json={"email": email, "password": "not the password"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials"
        login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        first = login.json()
        claims = _claims(first["access_token"])
        assert claims["sub"] == user["id"] and claims["roles"] == ["citizen"] and claims["kind"] == "user"
        assert claims["email_verified"] is True
        assert jwt.get_unverified_header(first["access_token"])["kid"]

        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {first['access_token']}"})
        assert me.status_code == 200 and me.json()["email"] == email

        # Rotation: each refresh token works once and yields a new pair.
        second = (
            await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        ).json()
        assert second["refresh_token"] != first["refresh_token"]
        third = await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert third.status_code == 200
        # Reuse of an old one: the whole family is revoked, including the newest token.
        reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert reuse.status_code == 401 and reuse.json()["error"]["code"] == "refresh_token_reused"
        newest = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": third.json()["refresh_token"]}
        )
        assert newest.status_code == 401

        # Call a service through the gateway with the access token: forwarded untouched.
        fresh = (await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})).json()
        bearer = {"Authorization": f"Bearer {fresh['access_token']}"}
        thing = await client.get("/api/v1/campaigns/things/t1", headers=bearer)
        assert thing.status_code == 200 and thing.json() == {"id": "t1", "name": "a thing"}

        assert (
            await client.post("/api/v1/auth/logout", json={"refresh_token": fresh["refresh_token"]})
        ).status_code == 204
        after = await client.post("/api/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
        assert after.status_code == 401


async def test_bad_registrations_are_clear_4xx(gateway, new_email: Callable[[str], str]) -> None:
    async with gateway.client() as client:
        weak = await client.post(
            "/api/v1/auth/register", json={"email": new_email("w"), "password": "short", "display_name": "W"}
        )
        assert weak.status_code == 422 and weak.json()["error"]["code"] == "weak_password"
        bad_email = await client.post(
            "/api/v1/auth/register", json={"email": "not-an-email", "password": PASSWORD, "display_name": "W"}
        )
        assert bad_email.status_code == 422 and bad_email.json()["error"]["code"] == "invalid_email"
        extra = await client.post(
            "/api/v1/auth/register",
            json={"email": new_email("x"), "password": PASSWORD, "display_name": "X", "roles": ["admin"]},
        )
        assert extra.status_code == 422 and extra.json()["error"]["code"] == "validation_error"
        garbage = await client.post(
            "/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert garbage.status_code == 422


async def test_password_reset_change_and_delete(gateway, new_email: Callable[[str], str], signup) -> None:
    _, received = await tap(gateway.bus, "user.*")
    email = new_email("lucas")
    session = await signup(email)
    user_id = session["user"]["id"]
    async with gateway.client() as client:
        unknown = await client.post("/api/v1/auth/password-reset", json={"email": new_email("nobody")})
        assert unknown.status_code == 202
        asked = await client.post("/api/v1/auth/password-reset", json={"email": email})
        assert asked.status_code == 202
        await eventually(lambda: _events(received, "user.password_reset_requested", user_id))
        link = _events(received, "user.password_reset_requested", user_id)[0]["reset_url"]
        token = parse_qs(urlparse(link).query)["token"][0]
        new_password = "a brand new secret 42"
        done = await client.post(
            "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": new_password}
        )
        assert done.status_code == 204, done.text
        twice = await client.post(
            "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": new_password}
        )
        assert twice.status_code == 400
        # Resetting logs every session out.
        old = await client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert old.status_code == 401
        assert (
            await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        ).status_code == 401
        login = (
            await client.post("/api/v1/auth/login", json={"email": email, "password": new_password})
        ).json()
        assert login["user"]["email_verified"] is True  # following the emailed link proved the address

        bearer = {"Authorization": f"Bearer {login['access_token']}"}
        wrong = await client.post(
            "/api/v1/auth/me/password",
            json={"current_password": "nope nope nope", "new_password": PASSWORD},
            headers=bearer,
        )
        assert wrong.status_code == 403
        changed = await client.post(
            "/api/v1/auth/me/password",
            json={"current_password": new_password, "new_password": PASSWORD},
            headers=bearer,
        )
        assert changed.status_code == 200
        assert (
            await client.post("/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
        ).status_code == 401

        renamed = await client.patch(
            "/api/v1/auth/me", json={"display_name": "Lucas B.", "locale": "fr"}, headers=bearer
        )
        assert renamed.status_code == 200 and renamed.json()["display_name"] == "Lucas B."
        await eventually(lambda: _events(received, "user.updated", user_id))

        refused = await client.request(
            "DELETE", "/api/v1/auth/me", json={"password": "wrong wrong wrong"}, headers=bearer
        )
        assert refused.status_code == 403
        deleted = await client.request(
            "DELETE", "/api/v1/auth/me", json={"password": PASSWORD}, headers=bearer
        )
        assert deleted.status_code == 204
        await eventually(lambda: _events(received, "user.deleted", user_id))
        assert _events(received, "user.deleted", user_id) == [{"user_id": user_id}]
        assert (
            await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        ).status_code == 401
        assert (await client.get("/api/v1/auth/me", headers=bearer)).status_code == 404


async def test_login_is_throttled_per_account(make_gateway, new_email: Callable[[str], str], signup) -> None:
    async with make_gateway(login_failures_per_account="3/15minutes") as gw:
        email = new_email("target")
        await signup(email, gw=gw)
        async with gw.client() as client:
            for _ in range(3):
                r = await client.post(
                    "/api/v1/auth/login", json={"email": email, "password": "guess guess guess"}
                )
                assert r.status_code == 401
            blocked = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
            assert blocked.status_code == 429
            assert blocked.json()["error"]["code"] == "too_many_attempts"
            assert int(blocked.headers["retry-after"]) > 0
            # Another account from the same IP is not locked by this one's failures.
            assert (await signup(gw=gw))["access_token"]


async def test_admins_come_from_settings(gateway, signup) -> None:
    session = await signup("boss@civicfund.localhost")
    assert _claims(session["access_token"])["roles"] == ["citizen", "admin"]
