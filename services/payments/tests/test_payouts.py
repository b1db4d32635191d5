"""Payouts with Stripe Connect against the real local Stripe (localstripe with
devstack.localstripe_connect), which signs and delivers its own `account.updated` and
`transfer.*` webhooks to payments; the tests read Stripe's side with the official SDK."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import stripe

from payments import payouts_domain as rules
from servicekit.testing.helpers import eventually, tap

SECRET_KEY = "sk_test_civicfund_tests"


def sdk(base: str) -> stripe.StripeClient:
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": base}, http_client=stripe.HTTPXClient())


def idem() -> dict[str, str]:
    return {"Idempotency-Key": f"idem-{uuid.uuid4().hex}"}


async def campaign(payments: Any, owner: str, model: str = "keep_it_all") -> str:
    campaign_id = f"cmp_{uuid.uuid4().hex}"
    data = payments.campaign_data(campaign_id, owner, "live", model, version=3)
    await payments.publish("campaign.published", campaign_id, data)
    await eventually(lambda: payments.store.campaign(campaign_id), timeout=10)
    return campaign_id


async def paid_pledge(payments: Any, campaign_id: str, amount: int, tip: int) -> dict[str, Any]:
    backer = payments.auth(f"usr_{uuid.uuid4().hex[:8]}")
    body = {"campaign_id": campaign_id, "amount": amount, "currency": "EUR", "tip": tip}
    async with payments.client() as client:
        created = await client.post("/pledges", json=body, headers={**backer, **idem()})
    assert created.status_code == 201, created.text
    paid = await payments.checkout(created.json(), payments.good_card, backer)
    assert paid["status"] == "succeeded", paid
    return paid


async def onboard(payments: Any, holder: dict[str, str]) -> str:
    """The holder's browser on Stripe's hosted onboarding: the local Stripe's page, its button,
    then back to the site's return page."""
    async with payments.client() as client:
        started = await client.post(
            "/payouts/account/onboarding", json={"email": "amina@example.org"}, headers={**holder, **idem()}
        )
        assert started.status_code == 200, started.text
        link = started.json()
        assert link["account"]["status"] == "onboarding" and link["account"]["stripe_account_id"].startswith(
            "acct_"
        )
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(link["url"])
        assert page.status_code == 200 and "Complete onboarding" in page.text
        done = await browser.post(link["url"], data={"decision": "complete"})
        assert done.status_code == 303
        assert done.headers["location"].endswith("/payouts/onboarding/return")
        # A link is single use: opened again, it sends the holder to the refresh page.
        again = await browser.get(link["url"])
        assert again.status_code == 302 and again.headers["location"].endswith("/payouts/onboarding/refresh")
    return str(link["account"]["stripe_account_id"])


async def payouts_of(payments: Any, campaign_id: str, who: dict[str, str]) -> list[dict[str, Any]]:
    async with payments.client() as client:
        r = await client.get(f"/campaigns/{campaign_id}/payouts", headers=who)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def wait_status(payments: Any, campaign_id: str, who: dict[str, str], status: str) -> dict[str, Any]:
    async def reached() -> bool:
        items = await payouts_of(payments, campaign_id, who)
        return bool(items) and items[-1]["status"] == status

    await eventually(reached, timeout=40, interval=0.2)
    return (await payouts_of(payments, campaign_id, who))[-1]


def stripe_fee(amount: int) -> int:
    return 25 + (amount * 150 + 5_000) // 10_000  # the local Stripe's EEA card pricing


async def test_keep_it_all_payout_onboarding_approval_transfer_webhooks(
    payments_hearing_localstripe: Any,
) -> None:
    payments = payments_hearing_localstripe
    assert payments.ctx.bus is not None
    _q, seen = await tap(payments.ctx.bus, "payout.*")
    client_sdk = sdk(payments.browser.base)
    owner = f"usr_holder_{uuid.uuid4().hex[:6]}"
    holder, admin = payments.auth(owner), payments.auth("usr_admin", roles=["admin"])
    stranger = payments.auth(f"usr_{uuid.uuid4().hex[:8]}")
    campaign_id = await campaign(payments, owner)
    await paid_pledge(payments, campaign_id, 2_500, 300)
    await paid_pledge(payments, campaign_id, 1_000, 0)

    # Onboarding: Stripe's account.updated (delivered by the local Stripe) makes it ready; the
    # return page's refresh asks Stripe as well.
    account_id = await onboard(payments, holder)

    async def ready() -> bool:
        async with payments.client() as client:
            r = await client.get("/payouts/account", headers=holder)
        return bool(r.json()["status"] == "ready")

    await eventually(ready, timeout=30, interval=0.2)
    async with payments.client() as client:
        refreshed = await client.post("/payouts/account/refresh", headers=holder)
        assert refreshed.json()["status"] == "ready" and refreshed.json()["payouts_enabled"] is True
        assert (await client.get("/payouts/account", headers=stranger)).json()["status"] == "none"

    # The campaign ends: keep-it-all releases what it raised, less Stripe's fees; tips apart.
    ended = payments.campaign_data(campaign_id, owner, "succeeded", "keep_it_all", version=4)
    await payments.publish("campaign.succeeded", campaign_id, ended)
    payout = await wait_status(payments, campaign_id, holder, "pending")
    fees = stripe_fee(2_800) + stripe_fee(1_000)
    assert payout["raised"] == 3_500 and payout["tips"] == 300 and payout["stripe_fees"] == fees
    assert payout["amount"] == 3_500 - fees and payout["sequence"] == 1 and payout["currency"] == "EUR"
    assert payout["transfer_group"] == f"campaign_{campaign_id}"

    async with payments.client() as client:
        # Only the owner and admins see a campaign's payouts; only admins approve.
        assert (await client.get(f"/campaigns/{campaign_id}/payouts", headers=stranger)).status_code == 404
        refused = await client.post(f"/payouts/{payout['id']}/approve", headers={**holder, **idem()})
        assert refused.status_code == 403
        queue = await client.get("/payouts", params={"status": "pending", "limit": 200}, headers=admin)
        assert payout["id"] in [p["id"] for p in queue.json()["items"]]
        assert (await client.get("/payouts", headers=holder)).status_code == 403

        key = idem()
        approved = await client.post(f"/payouts/{payout['id']}/approve", headers={**admin, **key})
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "transferring"
        replay = await client.post(f"/payouts/{payout['id']}/approve", headers={**admin, **key})
        assert replay.status_code == 200 and replay.json()["id"] == payout["id"]
        twice = await client.post(f"/payouts/{payout['id']}/approve", headers={**admin, **idem()})
        assert twice.status_code == 409 and twice.json()["error"]["code"] == "payout_state_conflict"

    # Stripe's transfer.created settles it: paid.
    paid = await wait_status(payments, campaign_id, holder, "paid")
    transfers = (
        await client_sdk.v1.transfers.list_async(params={"transfer_group": f"campaign_{campaign_id}"})
    ).data
    assert [t.id for t in transfers] == [paid["transfer_id"]]
    transfer = transfers[0]
    assert transfer.amount == paid["amount"] and transfer.destination == account_id
    assert transfer.currency == "eur" and transfer.metadata["payout_id"] == payout["id"]
    # The money is in the holder's connected account (read with the Stripe-Account header).
    balance = await client_sdk.v1.balance.retrieve_async(options={"stripe_account": account_id})
    assert balance.available[0].amount == paid["amount"]

    async with payments.client() as client:
        ledger = (await client.get(f"/campaigns/{campaign_id}/ledger", headers=holder)).json()
        mine = (await client.get("/me/payouts", headers=holder)).json()["items"]
    totals = ledger["totals"]
    assert (
        totals["raised"] == 3_500 and totals["stripe_fees"] == fees and totals["paid_out"] == paid["amount"]
    )
    assert totals["payout_owed"] == 0 and totals["platform_fees"] == 300
    assert [p["id"] for p in mine] == [payout["id"]]

    await eventually(lambda: len(seen) >= 3, timeout=30)
    kinds = [(m.routing_key, json.loads(m.body)["data"]["status"]) for m in seen]
    assert kinds[:3] == [
        ("payout.created", "pending"),
        ("payout.approved", "approved"),
        ("payout.paid", "paid"),
    ]

    # Reversed at Stripe: the payout failed; an admin sees it and retries: a new transfer.
    await client_sdk.v1.transfers.reversals.create_async(paid["transfer_id"])
    failed = await wait_status(payments, campaign_id, holder, "failed")
    assert failed["failure_reason"] == "transfer_reversed"
    async with payments.client() as client:
        failures = await client.get("/payouts", params={"status": "failed", "limit": 200}, headers=admin)
        assert payout["id"] in [p["id"] for p in failures.json()["items"]]
        retried = await client.post(f"/payouts/{payout['id']}/retry", headers={**admin, **idem()})
        assert retried.status_code == 200 and retried.json()["attempt"] == 2
    again = await wait_status(payments, campaign_id, holder, "paid")
    assert again["transfer_id"] != paid["transfer_id"] and again["attempt"] == 2
    async with payments.client() as client:
        totals = (await client.get(f"/campaigns/{campaign_id}/ledger", headers=holder)).json()["totals"]
    assert totals["paid_out"] == paid["amount"] and totals["payout_owed"] == 0


async def test_an_approved_payout_waits_for_the_holders_account(payments_hearing_localstripe: Any) -> None:
    """Approved before the holder onboarded: nothing is asked of Stripe until account.updated
    says the account can receive transfers; then it is transferred and paid."""
    payments = payments_hearing_localstripe
    client_sdk = sdk(payments.browser.base)
    owner = f"usr_late_{uuid.uuid4().hex[:6]}"
    holder, admin = payments.auth(owner), payments.auth("usr_admin", roles=["admin"])
    campaign_id = await campaign(payments, owner)
    await paid_pledge(payments, campaign_id, 4_000, 0)
    ended = payments.campaign_data(campaign_id, owner, "failed", "keep_it_all", version=4)
    await payments.publish("campaign.failed", campaign_id, ended)  # keep-it-all keeps it anyway
    payout = await wait_status(payments, campaign_id, holder, "pending")
    async with payments.client() as client:
        approved = await client.post(f"/payouts/{payout['id']}/approve", headers={**admin, **idem()})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    group = {"transfer_group": f"campaign_{campaign_id}"}
    assert (await client_sdk.v1.transfers.list_async(params=group)).data == []

    await onboard(payments, holder)
    paid = await wait_status(payments, campaign_id, holder, "paid")
    assert paid["amount"] == 4_000 - stripe_fee(4_000)
    assert [t.id for t in (await client_sdk.v1.transfers.list_async(params=group)).data] == [
        paid["transfer_id"]
    ]


async def test_all_or_nothing_pays_out_only_after_its_charges_settle(
    payments_hearing_localstripe: Any,
) -> None:
    payments = payments_hearing_localstripe
    owner = f"usr_aon_{uuid.uuid4().hex[:6]}"
    holder = payments.auth(owner)
    campaign_id = await campaign(payments, owner, "all_or_nothing")
    backer = payments.auth(f"usr_{uuid.uuid4().hex[:8]}")
    body = {"campaign_id": campaign_id, "amount": 6_000, "currency": "EUR"}
    async with payments.client() as client:
        created = await client.post("/pledges", json=body, headers={**backer, **idem()})
    authorized = await payments.checkout(created.json(), payments.good_card, backer)
    assert authorized["status"] == "authorized"
    ended = payments.campaign_data(campaign_id, owner, "succeeded", "all_or_nothing", version=4)
    await payments.publish("campaign.succeeded", campaign_id, ended)

    async def charged() -> bool:
        pledge = await payments.store.pledge(authorized["id"])
        return bool(pledge and pledge["status"] == "succeeded")

    await eventually(charged, timeout=40, interval=0.2)
    payout = await wait_status(payments, campaign_id, holder, "pending")
    assert payout["raised"] == 6_000 and payout["amount"] == 6_000 - stripe_fee(6_000)


async def test_a_payout_waits_while_a_permit_the_project_needs_is_not_granted(
    payments_hearing_localstripe: Any,
) -> None:
    """campaigns says `permits_pending: true` in its campaign.* events while a required permit
    is not granted: the payout is created but stays pending (hold `permit_pending`) and an admin
    cannot approve it; the campaign's next event saying false releases it."""
    payments = payments_hearing_localstripe
    owner = f"usr_permit_{uuid.uuid4().hex[:6]}"
    holder, admin = payments.auth(owner), payments.auth("usr_admin", roles=["admin"])
    campaign_id = f"cmp_{uuid.uuid4().hex}"
    live = {
        **payments.campaign_data(campaign_id, owner, "live", "keep_it_all", version=3),
        "permits_pending": True,
    }
    await payments.publish("campaign.published", campaign_id, live)
    await eventually(lambda: payments.store.campaign(campaign_id), timeout=10)
    await paid_pledge(payments, campaign_id, 3_000, 0)
    ended = {
        **payments.campaign_data(campaign_id, owner, "succeeded", "keep_it_all", version=4),
        "permits_pending": True,
    }
    await payments.publish("campaign.succeeded", campaign_id, ended)
    payout = await wait_status(payments, campaign_id, holder, "pending")
    assert payout["hold_reason"] == "permit_pending" and payout["amount"] == 3_000 - stripe_fee(3_000)
    async with payments.client() as client:
        held = await client.post(f"/payouts/{payout['id']}/approve", headers={**admin, **idem()})
    assert held.status_code == 409 and held.json()["error"]["code"] == "permit_pending"

    # An older event (version 2) saying false changes nothing: only the latest counts.
    stale = {
        **payments.campaign_data(campaign_id, owner, "live", "keep_it_all", version=2),
        "permits_pending": False,
    }
    await payments.publish("campaign.edited", campaign_id, stale)
    granted = {
        **payments.campaign_data(campaign_id, owner, "succeeded", "keep_it_all", version=5),
        "permits_pending": False,
    }
    await payments.publish("campaign.edited", campaign_id, granted)

    async def released() -> bool:
        return (await payouts_of(payments, campaign_id, holder))[-1]["hold_reason"] is None

    await eventually(released, timeout=20, interval=0.2)
    async with payments.client() as client:
        approved = await client.post(f"/payouts/{payout['id']}/approve", headers={**admin, **idem()})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["hold_reason"] is None


async def test_a_canceled_campaigns_unpaid_payout_fails(payments_hearing_localstripe: Any) -> None:
    """Canceled after it ended (its backers are refunded): the payout that had not left fails
    with `campaign_canceled`, and nothing is transferred."""
    payments = payments_hearing_localstripe
    client_sdk = sdk(payments.browser.base)
    owner = f"usr_cancel_{uuid.uuid4().hex[:6]}"
    holder = payments.auth(owner)
    campaign_id = await campaign(payments, owner)
    await paid_pledge(payments, campaign_id, 2_000, 0)
    ended = payments.campaign_data(campaign_id, owner, "succeeded", "keep_it_all", version=4)
    await payments.publish("campaign.succeeded", campaign_id, ended)
    await wait_status(payments, campaign_id, holder, "pending")
    canceled = payments.campaign_data(campaign_id, owner, "canceled", "keep_it_all", version=5)
    await payments.publish("campaign.canceled", campaign_id, canceled)
    failed = await wait_status(payments, campaign_id, holder, "failed")
    assert failed["failure_reason"] == "campaign_canceled"
    group = {"transfer_group": f"campaign_{campaign_id}"}
    assert (await client_sdk.v1.transfers.list_async(params=group)).data == []


async def test_a_city_match_received_after_the_payout_is_paid_out_by_a_second_payout(
    payments_hearing_localstripe: Any,
) -> None:
    """The city's match is due when the campaign ends, and paid by bank transfer after the
    campaign's payout was paid: its confirmation makes a second payout of the match alone,
    approved and transferred like the first (its own transfer, its own idempotency key)."""
    payments = payments_hearing_localstripe
    client_sdk = sdk(payments.browser.base)
    owner = f"usr_matched_{uuid.uuid4().hex[:6]}"
    holder, admin = payments.auth(owner), payments.auth("usr_admin", roles=["citizen", "admin"])
    slug = f"ville-{uuid.uuid4().hex[:8]}"
    manager = payments.auth(f"usr_mgr_{uuid.uuid4().hex[:6]}", municipalities={slug: "manager"})
    campaign_id = await campaign(payments, owner)
    await paid_pledge(payments, campaign_id, 5_000, 200)
    # The match reaches the platform's bank account, not its Stripe balance: here the balance
    # also holds another campaign's money, as a platform's shared balance does (in production
    # ops top it up from the bank; README "How match money moves").
    await paid_pledge(payments, await campaign(payments, f"usr_other_{uuid.uuid4().hex[:6]}"), 8_000, 0)
    account_id = await onboard(payments, holder)

    async def ready() -> bool:
        async with payments.client() as client:
            return bool((await client.get("/payouts/account", headers=holder)).json()["status"] == "ready")

    await eventually(ready, timeout=30, interval=0.2)

    due_id = f"mc_{uuid.uuid4().hex[:8]}"
    match = {"commitment_id": due_id, "campaign_id": campaign_id, "municipality": slug, "pool_id": "pool_1",
             "currency": "EUR", "rule": {"condition": "instant", "ratio": 1}, "max_amount": 6_000}  # fmt: skip
    await payments.publish("match.committed", due_id, match)
    await payments.publish("match.released", due_id, {**match, "amount": 5_000})
    ended = payments.campaign_data(campaign_id, owner, "succeeded", "keep_it_all", version=4)
    await payments.publish("campaign.succeeded", campaign_id, ended)
    await payments.publish("match.due", due_id, {**match, "amount": 5_000})

    # Due, not received: the first payout is the backers' money alone.
    first = await wait_status(payments, campaign_id, holder, "pending")
    fee = stripe_fee(5_200)
    assert (first["raised"], first["stripe_fees"], first["tips"], first["match"]) == (5_000, fee, 200, 0)
    assert first["amount"] == 5_000 - fee and first["sequence"] == 1
    async with payments.client() as client:
        approved = await client.post(f"/payouts/{first['id']}/approve", headers={**admin, **idem()})
        assert approved.status_code == 200, approved.text
    first = await wait_status(payments, campaign_id, holder, "paid")

    # The city declares its bank transfer, an admin confirms it received: a second payout.
    async with payments.client() as client:
        declared = await client.post(
            f"/city-dues/{due_id}/transfer-declaration", json={"reference": "VIR-2027-0107"},
            headers={**manager, **idem()},
        )  # fmt: skip
        assert declared.status_code == 200, declared.text
        confirmed = await client.post(
            f"/city-dues/{due_id}/transfer-confirmation", headers={**admin, **idem()}
        )
        assert confirmed.status_code == 200 and confirmed.json()["status"] == "received", confirmed.text

    async def second_created() -> bool:
        return len(await payouts_of(payments, campaign_id, holder)) == 2

    await eventually(second_created, timeout=30, interval=0.2)
    second = (await payouts_of(payments, campaign_id, holder))[1]
    assert second["sequence"] == 2 and second["status"] == "pending" and second["id"] != first["id"]
    assert (second["amount"], second["match"], second["raised"], second["stripe_fees"]) == (
        5_000,
        5_000,
        0,
        0,
    )
    assert second["follows_plan"] is False

    async with payments.client() as client:
        approved = await client.post(f"/payouts/{second['id']}/approve", headers={**admin, **idem()})
        assert approved.status_code == 200 and approved.json()["status"] == "transferring", approved.text
    second = await wait_status(payments, campaign_id, holder, "paid")
    group = {"transfer_group": f"campaign_{campaign_id}"}
    transfers = {t.id: t for t in (await client_sdk.v1.transfers.list_async(params=group)).data}
    assert set(transfers) == {first["transfer_id"], second["transfer_id"]}  # a new transfer, not a replay
    assert transfers[second["transfer_id"]].amount == 5_000
    assert transfers[second["transfer_id"]].metadata["payout_id"] == second["id"]
    assert transfers[second["transfer_id"]].metadata["sequence"] == "2"
    keys = {rules.transfer_key(await payments.store.payout(p["id"])) for p in (first, second)}
    assert keys == {f"payout-{first['id']}-transfer-1", f"payout-{second['id']}-transfer-1"}
    balance = await client_sdk.v1.balance.retrieve_async(options={"stripe_account": account_id})
    assert balance.available[0].amount == first["amount"] + 5_000

    async with payments.client() as client:
        totals = (await client.get(f"/campaigns/{campaign_id}/ledger", headers=holder)).json()["totals"]
    assert totals["matched"] == 5_000 and totals["match_received"] == 5_000
    assert totals["paid_out"] == first["amount"] + 5_000 and totals["payout_owed"] == 0
    # Looked at again, nothing is left to release: no third payout.
    check = await payments.store.payout_check(campaign_id)
    assert check is not None and check["status"] == "done"
    assert len(await payouts_of(payments, campaign_id, holder)) == 2
