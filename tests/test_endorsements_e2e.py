"""Endorsements in the running platform, through public doors only: the admin registers a city
and appoints its manager through endorsements' API, a citizen's campaign (created and approved
through campaigns' API) reaches the city's review queue, the city grants its label with land and
match funds, campaigns shows the label, city systems get it on the public exchange; then a
backer pays on localstripe and the city's match follows the payment into campaigns' totals."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from devstack.running import RunningStack
from servicekit.bus import Bus
from servicekit.settings import ServiceSettings
from servicekit.testing.helpers import eventually, tap
from servicekit.testing.plugin import TestEnv

E = "/api/v1/endorsements"
C = "/api/v1/campaigns/campaigns"


async def _label_request(client: httpx.AsyncClient, owner, campaign_id: str) -> dict[str, Any]:
    """The owner asks for the label once endorsements heard of the campaign (events are async)."""
    for _ in range(150):
        r = await client.post(f"{E}/labels", headers=owner.headers, json={"campaign_id": campaign_id})
        if r.status_code == 201:
            return r.json()
        assert r.json()["error"]["code"] == "campaign_not_found", r.text
        await asyncio.sleep(0.2)
    raise AssertionError("endorsements never heard of the campaign")


async def _labelled_with_match(platform, make_account) -> tuple[str, Any, Any, dict, dict, list[str]]:
    """A city of its own with a pool; a live campaign there labelled with land and an instant
    1:1 match (cap 3 000 €). Returns (slug, manager, owner, campaign, label, commitment ids)."""
    manager, owner = await make_account(), await make_account()
    slug = await platform.city(manager)
    pool = await platform.call(
        "POST",
        f"{E}/municipalities/{slug}/pools",
        manager,
        201,
        headers={"Idempotency-Key": f"pool-{slug}"},
        json={"name": "Budget participatif", "year": 2027, "budget": 1_000_000, "currency": "EUR"},
    )
    campaign = await platform.live_campaign(
        owner, title="Street workout park", municipality=slug, postcode="93100", goal=1_200_000
    )
    async with platform.client() as client:
        label = await _label_request(client, owner, campaign["id"])
    assert label["status"] == "requested"
    queue = await platform.call("GET", f"{E}/municipalities/{slug}/review-queue", manager)
    assert queue["items"][0]["campaign"]["id"] == campaign["id"]
    grant = {"support": [{"kind": "land", "description": "Plot of land", "address": "Parc des Guilands",
                          "value": 1_200_000, "currency": "EUR"}],
             "match": {"pool_id": pool["id"], "condition": "instant", "ratio": 1, "cap_per_project": 300_000}}  # fmt: skip
    granted = await platform.call(
        "POST",
        f"{E}/labels/{label['id']}/grant",
        manager,
        headers={"Idempotency-Key": f"grant-{slug}"},
        json=grant,
    )
    assert granted["status"] == "granted" and len(granted["commitment_ids"]) == 1
    return slug, manager, owner, campaign, label, granted["commitment_ids"]


async def test_city_labels_a_real_campaign_through_the_gateway(
    platform, make_account, env: TestEnv, stack: RunningStack
) -> None:
    bus = Bus(
        ServiceSettings(amqp_url=env.amqp_url, bus_namespace=stack.stack.bus_namespace, service_name="e2e")
    )
    await bus.connect(retry_forever=False)
    try:
        # A city system's view: everything public on the exchange (its slug comes later).
        _, public = await tap(bus, "#", exchange="public")
        slug, _manager, owner, campaign, label, _ = await _labelled_with_match(platform, make_account)

        async def campaigns_shows_label() -> bool:
            detail = await platform.call("GET", f"{C}/{campaign['id']}", owner)
            return any(lb["label_id"] == label["id"] for lb in detail.get("labels", []))

        await eventually(campaigns_shows_label, timeout=30)
        page = await platform.call("GET", f"{E}/municipalities/{slug}/page", None)
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


async def test_a_payment_is_matched_by_the_city_into_campaigns_totals(platform, make_account) -> None:
    """payment.succeeded (payments, from a card paid on localstripe) -> endorsements applies the
    city's instant 1:1 match (match.applied) -> campaigns counts it as `matched` beside `raised`."""
    _slug, _manager, _owner, campaign, _label, _ = await _labelled_with_match(platform, make_account)
    backer = await make_account()

    async def promised() -> bool:
        totals = (await platform.call("GET", f"{C}/{campaign['id']}", None))["totals"]
        return totals["match_promised"] >= 300_000

    await eventually(promised, timeout=30)
    paid = await platform.pledge(backer, campaign, 4_200)
    assert paid["status"] == "succeeded", paid
    latest: dict[str, Any] = {}

    async def matched() -> bool:
        nonlocal latest
        latest = (await platform.call("GET", f"{C}/{campaign['id']}", None))["totals"]
        return latest["matched"] == 4_200

    try:
        await eventually(matched, timeout=30)
    except AssertionError:
        raise AssertionError(f"the match never reached campaigns' totals: {latest}") from None
    assert latest["raised"] == 4_200 and latest["backers_count"] == 1
    assert latest["funded"] == 8_400
    # Payments' ledger journals both: the backer's charge and the city's match.

    async def journalled() -> bool:
        ledger = await platform.call(
            "GET", f"/api/v1/payments/campaigns/{campaign['id']}/ledger", platform.admin
        )
        return ledger["totals"]["raised"] == 4_200 and ledger["totals"]["matched"] == 4_200

    await eventually(journalled, timeout=30)
