"""The typed client (libs/civicfund_client) is generated from the current API document, and it
talks to the real stack: a citizen registers, logs in, drafts a campaign and reads it back, and
a refusal arrives as ApiError with the platform error body's fields."""

from __future__ import annotations

import uuid

import pytest

from civicfund_client import ApiError, CampaignsCampaignIn, CivicfundClient
from devstack import client_gen


@pytest.mark.timeout(300)
def test_the_client_is_generated_from_the_current_document() -> None:
    assert client_gen.OUTPUT.read_text() == client_gen.generate(), (
        "the API changed: run .venv/bin/python -m devstack.client_gen"
    )


async def test_the_client_speaks_to_the_real_stack(gateway_url: str) -> None:
    email = f"client-{uuid.uuid4().hex[:10]}@example.localhost"
    async with CivicfundClient(gateway_url) as api:
        user = await api.gateway_register(
            body={"email": email, "password": "correct horse battery", "display_name": "Client Test"}
        )
        tokens = await api.gateway_login(body={"email": email, "password": "correct horse battery"})
        assert tokens["user"]["id"] == user["id"]
        api.token = tokens["access_token"]
        draft: CampaignsCampaignIn = {
            "title": "Benches for the square",
            "municipality": "montreuil",
            "goal": 150_000,
            "funding_model": "keep_it_all",
        }
        created = await api.campaigns_create_campaign(body=draft, idempotency_key=uuid.uuid4().hex)
        assert created["status"] == "draft" and created["owner_id"] == user["id"]
        again = await api.campaigns_get_campaign(created["id"])
        assert again["title"] == "Benches for the square"
        mine = await api.campaigns_list_campaigns(mine=True)
        assert [c["id"] for c in mine["items"]] == [created["id"]]
        with pytest.raises(ApiError) as missing:
            await api.campaigns_get_campaign("cmp_nothing_here")
        assert missing.value.status == 404 and missing.value.request_id
        with pytest.raises(ApiError) as invalid:
            await api.campaigns_create_campaign(body={**draft, "goal": 0})
        assert invalid.value.status == 422 and invalid.value.code == "validation_error"
        assert invalid.value.details[0]["loc"] == ["body", "goal"]
