"""Account deletion reaches every service, through public doors only: a backer who paid and
follows a campaign deletes their account at the gateway; payments keeps the payment in the
ledger and deletes their Stripe customer on localstripe, campaigns keeps the money in the totals
and forgets the follow. Then the owner deletes theirs: the live campaign waits for the admin,
who keeps it running."""

from __future__ import annotations

from typing import Any

import httpx

from servicekit.testing.helpers import eventually

C = "/api/v1/campaigns"


async def _delete(platform, account) -> None:
    async with platform.client() as client:
        gone = await client.request(
            "DELETE", "/api/v1/auth/me", json={"password": account.password}, headers=account.headers
        )
        assert gone.status_code == 204, gone.text
        login = await client.post(
            "/api/v1/auth/login", json={"email": account.email, "password": account.password}
        )
        assert login.status_code == 401, login.text


async def test_deleting_accounts_reaches_campaigns_and_payments(platform, make_account) -> None:
    owner, backer = await make_account(), await make_account()
    campaign = await platform.live_campaign(owner, title="Shared tool library", goal=100_000)
    cid = campaign["id"]
    paid = await platform.pledge(backer, campaign, 2_000)
    assert paid["status"] == "succeeded", paid
    await platform.call("PUT", f"{C}/campaigns/{cid}/follow", backer)
    async with httpx.AsyncClient(
        base_url=platform.stripe_base, auth=("sk_test_civicfund_local", "")
    ) as stripe:
        listed = (await stripe.get("/v1/customers", params={"limit": 100})).json()["data"]
    customers = [c["id"] for c in listed if (c.get("metadata") or {}).get("user_id") == backer.user_id]
    assert len(customers) == 1, listed

    async def counted() -> dict[str, Any]:
        return await platform.call("GET", f"{C}/campaigns/{cid}", None)

    await eventually(lambda: _is(counted, backers_count=1, followers_count=1), timeout=30)

    await _delete(platform, backer)

    async def stripe_forgot() -> bool:
        async with httpx.AsyncClient(
            base_url=platform.stripe_base, auth=("sk_test_civicfund_local", "")
        ) as stripe:
            return (await stripe.get(f"/v1/customers/{customers[0]}")).status_code == 404

    await eventually(stripe_forgot, timeout=30)
    await eventually(lambda: _is(counted, backers_count=1, followers_count=0), timeout=30)
    detail = await counted()
    assert detail["totals"]["raised"] == 2_000
    ledger = await platform.call("GET", f"/api/v1/payments/campaigns/{cid}/ledger", platform.admin)
    assert [(e["pledge_id"], e["kind"], e["amount"]) for e in ledger["entries"]] == [
        (paid["id"], "charge", 2_000)
    ]
    pledge = await platform.call("GET", f"/api/v1/payments/pledges/{paid['id']}", platform.admin)
    assert pledge["status"] == "succeeded"

    await _delete(platform, owner)

    async def waiting() -> bool:
        listed = await platform.call("GET", f"{C}/owner-decisions", platform.admin)
        return any(c["id"] == cid for c in listed["items"])

    await eventually(waiting, timeout=30)
    shown = await counted()
    assert shown["owner_deleted"] is True and shown["pending_decision"] == "owner_deleted"
    kept = await platform.call(
        "POST", f"{C}/campaigns/{cid}/owner-decision", platform.admin, json={"decision": "keep"}
    )
    assert (kept["status"], kept["pending_decision"]) == ("live", None)


async def _is(read, **expected: int) -> bool:
    found = await read()
    return all(found.get(k, found.get("totals", {}).get(k)) == v for k, v in expected.items())
