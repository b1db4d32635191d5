"""Municipal roles from official events, city API clients, key rotation (in-process gateway)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt

from servicekit.auth import JwksVerifier
from servicekit.events import new_event
from servicekit.signing import SigningKey
from servicekit.testing.helpers import eventually


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


async def _refreshed_claims(gateway, session: dict) -> tuple[dict, dict]:
    async with gateway.client() as client:
        r = await client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert r.status_code == 200, r.text
        return r.json(), _claims(r.json()["access_token"])


async def test_official_events_put_municipal_roles_in_tokens(gateway, signup) -> None:
    session = await signup()
    user_id = session["user"]["id"]
    t0 = datetime.now(UTC)

    def official(key: str, at: datetime, **data: Any):  # type: ignore[no-untyped-def]
        event = new_event("endorsements", key, user_id, {"user_id": user_id, **data})
        return event.model_copy(update={"time": at})

    await gateway.bus.publish(official("official.appointed", t0, municipality="montreuil", role="reviewer"))
    await gateway.bus.publish(official("official.appointed", t0, municipality="bagnolet", role="manager"))
    state: dict[str, Any] = {"session": session}

    async def has(expected: dict[str, str]) -> bool:
        state["session"], claims = await _refreshed_claims(gateway, state["session"])
        return claims["municipalities"] == expected

    await eventually(lambda: has({"montreuil": "reviewer", "bagnolet": "manager"}))

    # Out of order: a promotion at t0+2, then a removal stamped earlier (t0+1) arrives late.
    await gateway.bus.publish(
        official("official.appointed", t0 + timedelta(seconds=2), municipality="montreuil", role="manager")
    )
    await eventually(lambda: has({"montreuil": "manager", "bagnolet": "manager"}))
    await gateway.bus.publish(
        official("official.removed", t0 + timedelta(seconds=1), municipality="montreuil")
    )
    await gateway.bus.publish(
        official("official.removed", t0 + timedelta(seconds=3), municipality="bagnolet")
    )
    await eventually(lambda: has({"montreuil": "manager"}))


async def test_city_client_credentials_scoped_to_its_city(gateway, signup) -> None:
    manager = await signup()
    await gateway.bus.publish(
        new_event("endorsements", "official.appointed", manager["user"]["id"],
                  {"user_id": manager["user"]["id"], "municipality": "montreuil", "role": "manager"})
    )  # fmt: skip
    state = {"session": manager}

    async def is_manager() -> bool:
        state["session"], claims = await _refreshed_claims(gateway, state["session"])
        return claims["municipalities"].get("montreuil") == "manager"

    await eventually(is_manager)
    bearer = {"Authorization": f"Bearer {state['session']['access_token']}"}
    citizen = await signup()
    async with gateway.client() as client:
        denied = await client.post(
            "/api/v1/auth/clients",
            json={"municipality": "montreuil", "name": "SI"},
            headers={"Authorization": f"Bearer {citizen['access_token']}"},
        )
        assert denied.status_code == 403
        other_city = await client.post(
            "/api/v1/auth/clients", json={"municipality": "paris", "name": "SI"}, headers=bearer
        )
        assert other_city.status_code == 403
        created = await client.post(
            "/api/v1/auth/clients", json={"municipality": "montreuil", "name": "Montreuil SI"}, headers=bearer
        )
        assert created.status_code == 201, created.text
        cli = created.json()
        listed = await client.get(
            "/api/v1/auth/clients", params={"municipality": "montreuil"}, headers=bearer
        )
        assert [c["client_id"] for c in listed.json()["items"]] == [cli["client_id"]]
        assert "client_secret" not in listed.text

        form = {
            "grant_type": "client_credentials",
            "client_id": cli["client_id"],
            "client_secret": cli["client_secret"],
        }
        token = await client.post("/oauth/token", data=form)
        assert token.status_code == 200, token.text
        claims = _claims(token.json()["access_token"])
        assert claims["kind"] == "client" and claims["sub"] == cli["client_id"]
        assert claims["municipalities"] == {"montreuil": "system"} and claims["roles"] == []

        basic = base64.b64encode(f"{cli['client_id']}:{cli['client_secret']}".encode()).decode()
        via_basic = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert via_basic.status_code == 200
        wrong = await client.post("/oauth/token", data={**form, "client_secret": "cs_wrong"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_client"
        bad_grant = await client.post("/oauth/token", data={**form, "grant_type": "password"})
        assert bad_grant.status_code == 400

        rotated = await client.post(f"/api/v1/auth/clients/{cli['client_id']}/rotate-secret", headers=bearer)
        assert rotated.status_code == 200
        new_secret = rotated.json()["client_secret"]
        # Both secrets work during the grace period, so the city can redeploy.
        assert (await client.post("/oauth/token", data=form)).status_code == 200
        assert (
            await client.post("/oauth/token", data={**form, "client_secret": new_secret})
        ).status_code == 200

        revoked = await client.delete(f"/api/v1/auth/clients/{cli['client_id']}", headers=bearer)
        assert revoked.status_code == 204
        assert (
            await client.post("/oauth/token", data={**form, "client_secret": new_secret})
        ).status_code == 401


async def test_key_rotation_keeps_old_tokens_valid(make_gateway, signup, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    async with make_gateway(jwt_keys_dir=str(keys), jwt_active_key="k1") as gw1:
        old = await signup(gw=gw1)
    old_kid = jwt.get_unverified_header(old["access_token"])["kid"]
    # Step 1 of a rotation: the new key file is added next to the old one; step 2: it becomes active.
    (keys / "k2.pem").write_bytes(SigningKey.generate().to_pem())
    async with make_gateway(jwt_keys_dir=str(keys), jwt_active_key="k2") as gw2:
        async with gw2.client() as client:
            published = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
        new = await signup(gw=gw2)
        new_kid = jwt.get_unverified_header(new["access_token"])["kid"]
        assert new_kid != old_kid and published == {old_kid, new_kid}
        # A service verifying against the JWKS accepts both until the old one expires.
        verifier = JwksVerifier(gw2.settings.jwks_url, "civicfund-gateway", "civicfund")
        try:
            assert (await verifier.verify(old["access_token"])).sub == old["user"]["id"]
            assert (await verifier.verify(new["access_token"])).sub == new["user"]["id"]
        finally:
            await verifier.close()
        async with httpx.AsyncClient(base_url=gw2.url) as client:
            me = await client.get(
                "/api/v1/auth/me", headers={"Authorization": f"Bearer {old['access_token']}"}
            )
            assert me.status_code in (200, 404)  # valid token; the account lives in gw1's database
            assert me.status_code != 401
