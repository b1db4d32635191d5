"""Pledging above `unverified_pledge_max_amount` needs a verified email address (the gateway's
`email_verified` claim); smaller pledges do not."""

from __future__ import annotations

import uuid
from typing import Any

from servicekit.testing.helpers import eventually


async def live_campaign(payments: Any, owner: str) -> str:
    campaign_id = f"cmp_{uuid.uuid4().hex}"
    data = payments.campaign_data(campaign_id, owner, "live", "keep_it_all", version=3)
    await payments.publish("campaign.published", campaign_id, data)
    await eventually(lambda: payments.store.campaign(campaign_id), timeout=10)
    return campaign_id


async def test_a_large_pledge_needs_a_verified_email(payments: Any) -> None:
    campaign_id = await live_campaign(payments, "usr_owner_verif")
    backer = f"usr_{uuid.uuid4().hex[:8]}"
    body = {"campaign_id": campaign_id, "amount": 10_001, "currency": "EUR"}

    async def pledge(amount: int, verified: bool) -> Any:
        headers = {**payments.auth(backer, email_verified=verified), "Idempotency-Key": uuid.uuid4().hex}
        async with payments.client() as client:
            return await client.post("/pledges", json={**body, "amount": amount}, headers=headers)

    refused = await pledge(10_001, verified=False)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "email_not_verified"
    assert (await pledge(10_000, verified=False)).status_code == 201  # up to the limit: fine
    assert (await pledge(10_001, verified=True)).status_code == 201
