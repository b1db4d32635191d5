"""Endorsements in the running platform: a campaign created in the campaigns service reaches
the city's review queue, the city grants its label with land and match funds through the
gateway, campaigns shows the label, and city systems get it on the public exchange."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from devstack.running import RunningStack
from servicekit.bus import Bus
from servicekit.settings import ServiceSettings
from servicekit.signing import SigningKey, access_claims
from servicekit.testing.helpers import eventually, tap
from servicekit.testing.plugin import TestEnv

E = "/api/v1/endorsements"


def _auth(key: SigningKey, sub: str, roles: list[str] | None = None) -> dict[str, str]:
    claims = access_claims(sub, issuer="civicfund-gateway", audience="civicfund", ttl_s=600, roles=roles)
    return {"Authorization": f"Bearer {key.sign(claims)}"}


async def test_city_labels_a_real_campaign_through_the_gateway(
    gateway_url: str, gateway_key: SigningKey, env: TestEnv, stack: RunningStack
) -> None:
    slug = f"e2e-{uuid.uuid4().hex[:8]}"
    admin = _auth(gateway_key, "usr_e2e_admin", ["citizen", "admin"])
    manager_id = f"usr_e2e_{uuid.uuid4().hex[:8]}"
    manager = _auth(gateway_key, manager_id, ["citizen"])
    owner = _auth(gateway_key, f"usr_e2e_{uuid.uuid4().hex[:8]}", ["citizen"])
    bus = Bus(
        ServiceSettings(amqp_url=env.amqp_url, bus_namespace=stack.stack.bus_namespace, service_name="e2e")
    )
    await bus.connect(retry_forever=False)
    try:
        _, public = await tap(bus, f"{slug}.#", exchange="public")
        async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:

            async def ok(method: str, path: str, headers: dict, **kw: object) -> dict:
                r = await client.request(method, path, headers=headers, **kw)
                assert r.status_code in (200, 201), f"{method} {path}: {r.status_code} {r.text}"
                return r.json()

            city = {
                "name": "E2E town",
                "slug": slug,
                "official_code": "99999",
                "country": "FR",
                "postcodes": ["93100"],
            }
            await ok("POST", f"{E}/municipalities", admin, json=city)
            await ok(
                "PUT", f"{E}/municipalities/{slug}/officials/{manager_id}", admin, json={"role": "manager"}
            )
            await ok("POST", f"{E}/municipalities/{slug}/trial", admin, json={"days": 30})
            pool = await ok("POST", f"{E}/municipalities/{slug}/pools", {**manager, "Idempotency-Key": slug},
                            json={"name": "Budget participatif", "year": 2027, "budget": 1_000_000, "currency": "EUR"})  # fmt: skip
            campaign = await ok("POST", "/api/v1/campaigns/campaigns", owner, json={
                "title": "Street workout park", "municipality": slug, "postcode": "93100", "goal": 1_200_000})  # fmt: skip

            # The campaign reaches endorsements through campaign.created, asynchronously.
            label = None
            for _ in range(100):
                r = await client.post(f"{E}/labels", headers=owner, json={"campaign_id": campaign["id"]})
                if r.status_code == 201:
                    label = r.json()
                    break
                assert r.json()["error"]["code"] == "campaign_not_found", r.text
                await asyncio.sleep(0.2)
            assert label is not None and label["status"] == "requested"
            queue = await ok("GET", f"{E}/municipalities/{slug}/review-queue", manager)
            assert queue["items"][0]["campaign"]["id"] == campaign["id"]

            grant = {"support": [{"kind": "land", "description": "Plot of land", "address": "Parc des Guilands",
                                  "value": 1_200_000, "currency": "EUR"}],
                     "match": {"pool_id": pool["id"], "condition": "instant", "ratio": 1, "cap_per_project": 300_000}}  # fmt: skip
            granted = await ok(
                "POST",
                f"{E}/labels/{label['id']}/grant",
                {**manager, "Idempotency-Key": "grant-e2e-1"},
                json=grant,
            )
            assert granted["status"] == "granted" and len(granted["commitment_ids"]) == 1

            async def campaigns_shows_label() -> bool:
                r = await client.get(f"/api/v1/campaigns/campaigns/{campaign['id']}", headers=owner)
                return r.status_code == 200 and any(
                    lb["endorsement_id"] == label["id"] for lb in r.json().get("labels", [])
                )

            await eventually(campaigns_shows_label, timeout=30)
            page = await ok("GET", f"{E}/municipalities/{slug}/page", {})
            assert page["labelled_campaigns"][0]["campaign"]["id"] == campaign["id"]
            assert page["totals"]["in_kind_value"] == {"EUR": 1_200_000}
        await eventually(
            lambda: (
                {f"{slug}.endorsement.granted", f"{slug}.match.committed"} <= {m.routing_key for m in public}
            ),
            timeout=30,
        )
    finally:
        await bus.close()
