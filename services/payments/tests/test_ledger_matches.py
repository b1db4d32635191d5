"""Match funding in the ledger, from endorsements' events put on the bus: counted once per
application even when redelivered, and a cancellation arriving before its commitment waits."""

from __future__ import annotations

from typing import Any

from servicekit.testing.helpers import eventually


async def test_match_events_fill_the_ledger_once(payments: Any) -> None:
    campaign_id = "cmp_matched"
    await payments.publish(
        "campaign.published",
        campaign_id,
        payments.campaign_data(campaign_id, "usr_owner_match", "live", "keep_it_all", version=2),
    )
    common = {
        "commitment_id": "com_1",
        "campaign_id": campaign_id,
        "municipality": "montreuil",
        "currency": "EUR",
    }
    # Out of order: the cancellation comes first and is retried until the commitment is known.
    await payments.publish("match.canceled", "com_1", {**common, "amount": 1_500, "reason": "call closed"})
    await payments.publish(
        "match.committed",
        "com_1",
        {**common, "rule": {"condition": "instant", "ratio": 1}, "max_amount": 10_000},
    )
    applied = {**common, "application_id": "app_1", "amount": 1_500, "payment_id": "pay_x"}
    await payments.publish("match.applied", "app_1", applied)
    await payments.publish("match.applied", "app_1", applied)  # redelivered under a new event id

    owner = payments.auth("usr_owner_match")

    async def totals() -> dict[str, int]:
        async with payments.client() as client:
            response = await client.get(f"/campaigns/{campaign_id}/ledger", headers=owner)
            return response.json()["totals"] if response.status_code == 200 else {}

    async def settled() -> bool:
        t = await totals()
        return t.get("matched") == 1_500 and t.get("match_committed_open") == 1_500

    await eventually(settled, timeout=20)
    t = await totals()
    assert t["raised"] == 0 and t["payout_owed"] == 0
    entries = await payments.store.ledger(campaign_id)
    assert sorted(e["kind"] for e in entries) == ["match_applied", "match_canceled", "match_committed"]


async def test_a_call_award_counts_in_the_ledgers_matched_once(payments: Any) -> None:
    """campaigns counts a call's award in `matched` from its selection: so does the ledger
    (match_awarded, once however often the selection is delivered), and the reconciliation with
    Stripe, which compares backers' money only, still agrees."""
    campaign_id, proposal = "cmp_awarded", "prop_awarded"
    await payments.publish(
        "campaign.published",
        campaign_id,
        payments.campaign_data(campaign_id, "usr_owner_award", "live", "keep_it_all", version=2),
    )
    selected = {"call_id": "call_1", "proposal_id": proposal, "municipality": "montreuil",
                "campaign_id": campaign_id, "proposer_id": "usr_owner_award", "title": "Trees",
                "award": 8_000, "currency": "EUR"}  # fmt: skip
    await payments.publish("call.proposal_selected", proposal, selected)
    await payments.publish("call.proposal_selected", proposal, selected)  # redelivered
    owner, admin = payments.auth("usr_owner_award"), payments.auth("usr_admin", roles=["admin"])

    async def totals() -> dict[str, int]:
        async with payments.client() as client:
            response = await client.get(f"/campaigns/{campaign_id}/ledger", headers=owner)
            return response.json()["totals"] if response.status_code == 200 else {}

    async def counted() -> bool:
        t = await totals()
        return t.get("matched") == 8_000 and t.get("match_owed_by_city") == 8_000

    await eventually(counted, timeout=20)
    kinds = sorted(e["kind"] for e in await payments.store.ledger(campaign_id))
    assert kinds == ["match_awarded", "match_due"]
    # Owed by the city, not received: nothing of it is owed to the holder yet.
    assert (await totals())["payout_owed"] == 0
    async with payments.client() as client:
        report = await client.get(f"/campaigns/{campaign_id}/reconciliation", headers=admin)
    assert report.status_code == 200 and report.json()["ok"] is True, report.text
