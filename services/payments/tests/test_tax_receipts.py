"""Tax receipts over real HTTP, nx-27017 and localstripe: only for a paid pledge to a holder an
admin recorded as eligible, the tip excluded, numbered in sequence per association and year,
issued once, void once refunded, as PDF with the amount in words; and the yearly summary."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from payments import receipts_domain as rules
from payments.pledges import PledgeBook
from servicekit.testing.helpers import eventually

ASSOCIATION = {
    "eligible": True, "legal_name": "Association Bel-Air Sport", "registration": "W931234567",
    "address": "3 rue des Lilas, 93100 Montreuil", "object": "Promouvoir le sport de plein air à Bel-Air",
}  # fmt: skip
DONOR = {"name": "Sofia Martin", "address": "12 rue de Paris", "postcode": "93100", "city": "Montreuil"}


async def _paid_pledge(payments: Any, campaign_id: str, backer: str, amount: int, tip: int = 0) -> str:
    body = {"campaign_id": campaign_id, "amount": amount, "currency": "EUR", "tip": tip}
    key = {"Idempotency-Key": f"idem-{uuid.uuid4().hex}"}
    async with payments.client() as client:
        r = await client.post(
            "/pledges", json=body, headers={**payments.auth(backer, email_verified=True), **key}
        )
        assert r.status_code == 201, r.text
    confirmed = await payments.checkout(r.json(), payments.good_card, payments.auth(backer))
    assert confirmed["status"] == "succeeded", confirmed
    return confirmed["id"]


async def _campaign(payments: Any, owner: str) -> str:
    campaign_id = f"cmp_{uuid.uuid4().hex}"
    data = payments.campaign_data(campaign_id, owner, "live", "keep_it_all", version=3)
    await payments.publish("campaign.published", campaign_id, data)
    await eventually(lambda: payments.store.campaign(campaign_id), timeout=10)
    return campaign_id


async def test_receipts_for_an_eligible_association_only_numbered_once_void_when_refunded(
    payments: Any,
) -> None:
    holder, other_holder = f"usr_{uuid.uuid4().hex[:8]}", f"usr_{uuid.uuid4().hex[:8]}"
    backer, stranger = f"usr_{uuid.uuid4().hex[:8]}", f"usr_{uuid.uuid4().hex[:8]}"
    admin = payments.auth("usr_admin", roles=["citizen", "admin"])
    eligible_campaign = await _campaign(payments, holder)
    plain_campaign = await _campaign(payments, other_holder)
    first = await _paid_pledge(payments, eligible_campaign, backer, 12_345, tip=500)
    second = await _paid_pledge(payments, eligible_campaign, backer, 2_000)
    plain = await _paid_pledge(payments, plain_campaign, backer, 1_000)

    async with payments.client() as client:
        # Before an admin records the holder: no receipt.
        r = await client.get(f"/pledges/{first}/tax-receipt", headers=payments.auth(backer))
        assert r.status_code == 200 and r.json()["available"] is False
        assert r.json()["refusal"] == "holder_not_eligible"
        r = await client.put(f"/holders/{holder}/tax-status", json=ASSOCIATION, headers=payments.auth(holder))
        assert r.status_code == 403  # only admins record a tax status
        r = await client.put(
            f"/holders/{holder}/tax-status", json={**ASSOCIATION, "registration": "!"}, headers=admin
        )
        assert r.status_code == 422
        r = await client.put(f"/holders/{holder}/tax-status", json=ASSOCIATION, headers=admin)
        assert r.status_code == 200, r.text
        assert (
            await client.get(f"/holders/{holder}/tax-status", headers=payments.auth(holder))
        ).status_code == 200
        r = await client.put(
            f"/holders/{other_holder}/tax-status", json={**ASSOCIATION, "eligible": False}, headers=admin
        )
        assert r.status_code == 200

        r = await client.get(f"/pledges/{first}/tax-receipt", headers=payments.auth(backer))
        assert r.json()["available"] is True and r.json()["receipt"] is None
        r = await client.post(f"/pledges/{first}/tax-receipt", json=DONOR, headers=payments.auth(stranger))
        assert r.status_code == 404  # someone else's pledge does not exist for them
        r = await client.post(
            f"/pledges/{first}/tax-receipt", json={**DONOR, "name": ""}, headers=payments.auth(backer)
        )
        assert r.status_code == 422
        r = await client.post(f"/pledges/{first}/tax-receipt", json=DONOR, headers=payments.auth(backer))
        assert r.status_code == 201, r.text
        receipt = r.json()
        year = datetime.now(UTC).year
        assert receipt["amount"] == 12_345  # the tip is not a gift to the association
        assert receipt["number"] == f"{year}-000001" and receipt["status"] == "issued"
        again = await client.post(
            f"/pledges/{first}/tax-receipt", json={**DONOR, "name": "X Y"}, headers=payments.auth(backer)
        )
        assert again.status_code == 200 and again.json()["number"] == receipt["number"]
        assert again.json()["donor_name"] == "Sofia Martin"
        r = await client.post(f"/pledges/{second}/tax-receipt", json=DONOR, headers=payments.auth(backer))
        assert r.status_code == 201 and r.json()["number"] == f"{year}-000002"
        r = await client.post(f"/pledges/{plain}/tax-receipt", json=DONOR, headers=payments.auth(backer))
        assert r.status_code == 409 and r.json()["error"]["code"] == "holder_not_eligible"

        pdf = await client.get(f"/pledges/{first}/tax-receipt.pdf", headers=payments.auth(backer))
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 1500
        assert (
            await client.get(f"/pledges/{first}/tax-receipt.pdf", headers=payments.auth(stranger))
        ).status_code == 404

        summary = await client.get(f"/me/tax-receipts/{year}", headers=payments.auth(backer))
        assert summary.status_code == 200
        assert summary.json()["total"] == 14_345 and summary.json()["by_association"] == {
            "Association Bel-Air Sport": 14_345
        }
        pdf = await client.get(f"/me/tax-receipts/{year}/summary.pdf", headers=payments.auth(backer))
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert (await client.get("/me/tax-receipts/1999", headers=payments.auth(backer))).status_code == 422

    # A refund cancels the receipt (the gift is no longer deductible); the number is not reused.
    # (The refund is journaled as the webhook of an admin's refund would; refunds after success
    # get their own route with issue 13's refunds.)
    book = payments.ctx.get(PledgeBook)
    assert await book.record_refund(second, f"re_{uuid.uuid4().hex[:12]}", 2_000, final=True)
    async with payments.client() as client:
        r = await client.get(f"/pledges/{second}/tax-receipt", headers=payments.auth(backer))
        assert r.json()["receipt"]["status"] == "void"
        summary = await client.get(f"/me/tax-receipts/{year}", headers=payments.auth(backer))
        assert summary.json()["total"] == 12_345


def test_amounts_in_words_and_figures_as_a_french_receipt_writes_them() -> None:
    assert rules.amount_in_words(12_345) == "cent vingt-trois euros et quarante-cinq centimes"
    assert rules.amount_in_words(100) == "un euro"
    assert rules.amount_in_words(2_000_001) == "vingt mille euros et un centime"
    assert rules.amount_in_figures(1_234_567) == "12 345,67 EUR"
    assert rules.receipt_number(2027, 42) == "2027-000042"
