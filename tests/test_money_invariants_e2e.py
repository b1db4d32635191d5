"""The money invariants, over the running platform and its local Stripe (issue 13).

One scenario through public doors: people log in at the gateway, campaigns are drafted,
submitted and approved through campaigns' API, two cities are registered and their managers
appointed through endorsements, backers pay on localstripe, holders onboard Connect through
payments' API and the local Stripe's page, admins approve payouts and refund through payments'
API, and a bank disputes a charge through the local Stripe's test route
(devstack.localstripe_disputes). The one shortcut: `stack.end_campaign_now` moves a deadline
into the past (a campaign runs 7 days at least).

Campaigns:
* `goal`: keep-it-all in city A (which subscribed: it pays by invoice), labelled with an
  on_goal_reached 1:1 match; its payout in two tranches (the holder proves the second
  milestone, city A confirms it).
* `aon`: all-or-nothing in city B (trial only: it pays by a declared, confirmed transfer),
  labelled with an instant 1:1 match, charged at success, completed by its owner.
* `award`: launched by city A's call for projects (jury), its proposal awarded 50 €.
* `troubled`: keep-it-all, unlabelled: a dispute the bank decides against us before the end,
  and an admin's refund of one pledge after the campaign succeeded.

Then, for every campaign, from the ledger (the entries, not its totals), payments' and
campaigns' APIs and Stripe (the official SDK on localstripe):
* charged - refunded = paid out + held + fees, where `held` is what the platform keeps for the
  project (its payouts not transferred yet, and what a lost dispute took back), tips apart;
* match due = received + outstanding, per commitment and per city;
* every total shown (campaigns' totals, payments' ledger totals and payouts) re-derived from the
  entries, and the entries agree with Stripe's objects;
* the reconciliation against Stripe reports no difference.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stripe

# The scenario is long (about 150 s here under load, plus the stack's start when it runs first).
pytestmark = pytest.mark.timeout(600)

C = "/api/v1/campaigns/campaigns"
E = "/api/v1/endorsements"
P = "/api/v1/payments"
STRIPE_SECRET = "sk_test_civicfund_local"
MATCH_PAID_KINDS = ("match_received", "match_settled_from_gifts")  # the city account's payments


def _idem(prefix: str = "inv") -> dict[str, str]:
    return {"Idempotency-Key": f"{prefix}-{uuid.uuid4().hex}"}


async def _until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.3)


async def _few_at_once(coros: list[Awaitable[Any]], at_once: int = 3) -> list[Any]:
    """Run `coros` a few at a time (registering hashes a password: CPU-bound on the gateway)."""
    gate = asyncio.Semaphore(at_once)

    async def one(coro: Awaitable[Any]) -> Any:
        async with gate:
            return await coro

    return list(await asyncio.gather(*(one(c) for c in coros)))


async def _retry_until_known(
    platform: Any, method: str, path: str, who: Any, code: str, expect: int = 201, **kw: Any
) -> Any:
    """A call that answers `code` until the service heard of the thing (an event away)."""
    deadline = time.monotonic() + 45
    async with platform.client() as client:
        while True:
            r = await client.request(method, path, headers={**who.headers, **kw.pop("headers", {})}, **kw)
            if r.status_code == expect:
                return r.json()
            assert r.json()["error"]["code"] == code and time.monotonic() < deadline, r.text
            await asyncio.sleep(0.3)


async def _subscribe(platform: Any, manager: Any, slug: str) -> None:
    """The city saves its card (the console's card setup on localstripe) and subscribes."""
    setup = await _retry_until_known(
        platform, "POST", f"{P}/subscriptions/card-setups", manager, "municipality_not_found",
        json={"municipality": slug}, headers={"Idempotency-Key": f"card-{slug}"},
    )  # fmt: skip
    await platform.save_card(setup["client_secret"])
    await platform.call(
        "POST", f"{P}/subscriptions", manager, 201, headers={"Idempotency-Key": f"sub-{slug}"},
        json={"municipality": slug, "plan": "monthly", "setup_intent": setup["setup_intent"]},
    )  # fmt: skip


async def _label_with_match(
    platform: Any, owner: Any, manager: Any, slug: str, campaign: dict[str, Any], match: dict[str, Any]
) -> str:
    """The owner asks city `slug` for its label; its manager grants it with a match from a pool."""
    pool = await platform.call(
        "POST", f"{E}/municipalities/{slug}/pools", manager, 201, headers=_idem("pool"),
        json={"name": "Budget participatif", "year": 2027, "budget": 100_000, "currency": "EUR"},
    )  # fmt: skip
    label = await _retry_until_known(
        platform, "POST", f"{E}/labels", owner, "campaign_not_found", json={"campaign_id": campaign["id"]}
    )
    granted = await platform.call(
        "POST", f"{E}/labels/{label['id']}/grant", manager, headers=_idem("grant"),
        json={"match": {"pool_id": pool["id"], **match}},
    )  # fmt: skip
    (commitment,) = granted["commitment_ids"]
    return str(commitment)


async def _onboard(platform: Any, holder: Any) -> str:
    started = await platform.call("POST", f"{P}/payouts/account/onboarding", holder, headers=_idem(), json={})
    async with httpx.AsyncClient(timeout=30) as browser:
        done = await browser.post(started["url"], data={"decision": "complete"})
    assert done.status_code == 303, done.text
    account = await platform.call("POST", f"{P}/payouts/account/refresh", holder)
    assert account["status"] == "ready", account
    return str(account["stripe_account_id"])


async def _payouts(platform: Any, holder: Any, campaign_id: str, count: int) -> list[dict[str, Any]]:
    seen: list[Any] = []

    async def listed() -> list[dict[str, Any]] | None:
        items = (await platform.call("GET", f"{P}/campaigns/{campaign_id}/payouts", holder))["items"]
        seen[:] = items
        return sorted(items, key=lambda p: p["sequence"])[:count] if len(items) >= count else None

    try:
        return list(await _until(listed, f"{count} payouts of {campaign_id}", timeout=120))
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the payouts: {seen}") from None


async def _payout_paid(platform: Any, holder: Any, payout_id: str) -> dict[str, Any]:
    async def paid() -> dict[str, Any] | None:
        payout = await platform.call("GET", f"{P}/payouts/{payout_id}", holder)
        return payout if payout["status"] == "paid" else None

    return dict(await _until(paid, f"payout {payout_id} paid", timeout=60))


async def _status(platform: Any, campaign_id: str, *statuses: str) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        campaign = await platform.call("GET", f"{C}/{campaign_id}", None)
        return campaign if campaign["status"] in statuses else None

    return dict(await _until(reached, f"{campaign_id} {statuses}", timeout=120))


async def _settle(platform: Any, holder: Any, campaign_id: str) -> None:
    """An admin approves each pending payout of the campaign until every one is paid and the
    ledger owes the holder nothing (a match received later is one more payout)."""
    admin = platform.admin

    async def settled() -> bool:
        items = (await platform.call("GET", f"{P}/campaigns/{campaign_id}/payouts", holder))["items"]
        async with platform.client() as client:
            for payout in items:
                if payout["status"] == "pending" and payout.get("hold_reason") is None:
                    r = await client.post(
                        f"{P}/payouts/{payout['id']}/approve", headers={**admin.headers, **_idem()}
                    )
                    assert r.status_code in (200, 409), r.text
        owed = (await platform.call("GET", f"{P}/campaigns/{campaign_id}/ledger", admin))["totals"][
            "payout_owed"
        ]
        return bool(items) and owed == 0 and all(p["status"] == "paid" for p in items)

    with contextlib.suppress(AssertionError):  # what is left unpaid is named by the invariants
        await _until(settled, f"{campaign_id} paid out", timeout=90)


async def _dues(platform: Any, manager: Any, slug: str) -> list[dict[str, Any]]:
    return list(
        (await platform.call("GET", f"{P}/city-dues", manager, params={"municipality": slug}))["items"]
    )


def _sum(entries: list[dict[str, Any]], account: str, *kinds: str) -> int:
    return sum(e["amount"] for e in entries if e["account"] == account and (not kinds or e["kind"] in kinds))


async def _charge_of(sdk: stripe.StripeClient, payment_intent_id: str) -> Any:
    intent = await sdk.v1.payment_intents.retrieve_async(payment_intent_id)
    charge = intent.latest_charge
    return await sdk.v1.charges.retrieve_async(charge if isinstance(charge, str) else charge.id)


async def _stripe_side(sdk: stripe.StripeClient, entries: list[dict[str, Any]]) -> dict[str, int]:
    """What Stripe's own objects say about the payments the ledger names: each PaymentIntent's
    amount, its charge's processing fee (balance transaction), refunds and disputes."""
    out = {"charged": 0, "fees": 0, "refunded": 0, "disputed_lost": 0}
    for pi_id in sorted({e["stripe_ref"] for e in entries if e["kind"] == "charge"}):
        intent = await sdk.v1.payment_intents.retrieve_async(pi_id)
        assert intent.status == "succeeded", intent
        out["charged"] += intent.amount
        charge = await _charge_of(sdk, pi_id)
        txn = await sdk.v1.balance_transactions.retrieve_async(str(charge.balance_transaction))
        out["fees"] += txn.fee
        refunds = await sdk.v1.refunds.list_async({"payment_intent": pi_id, "limit": 100})
        out["refunded"] += sum(r.amount for r in refunds.data if r.status == "succeeded")
        disputes = await sdk.v1.disputes.list_async({"payment_intent": pi_id, "limit": 100})
        out["disputed_lost"] += sum(d.amount for d in disputes.data if d.status == "lost")
    return out


async def test_the_money_invariants_hold_over_every_campaign(
    platform: Any, make_account: Any, stack: Any
) -> None:
    started = time.monotonic()

    def lap(what: str) -> None:  # where the run's time goes (shown with -s)
        print(f"{time.monotonic() - started:6.1f}s {what}", flush=True)

    admin = platform.admin
    sdk = stripe.StripeClient(
        STRIPE_SECRET, base_addresses={"api": platform.stripe_base}, http_client=stripe.HTTPXClient()
    )
    manager_a, manager_b, *people = await _few_at_once([make_account() for _ in range(16)])
    owners = dict(zip(("goal", "aon", "troubled", "award"), people[:4], strict=True))
    backers = iter(people[4:])
    city_a, city_b = await asyncio.gather(platform.city(manager_a), platform.city(manager_b))
    await _subscribe(platform, manager_a, city_a)  # city B only has its trial: no card on file

    lap("cities")
    # -- goal: keep-it-all, city A's on_goal_reached match, a payout in two tranches ----------
    goal = await platform.live_campaign(
        owners["goal"], title="Tool library", municipality=city_a, postcode="93100", goal=10_000,
        funding_model="keep_it_all",
    )  # fmt: skip
    goal_match = await _label_with_match(
        platform, owners["goal"], manager_a, city_a, goal,
        {"condition": "on_goal_reached", "ratio": 1, "cap_per_project": 6_000},
    )  # fmt: skip
    await platform.call(
        "PUT", f"{P}/campaigns/{goal['id']}/payout-plan", owners["goal"], headers=_idem(),
        json={"tranches": [{"percent": 60}, {"percent": 40, "title": "Workshop opened"}]},
    )  # fmt: skip

    lap("goal labelled")
    # -- aon: all-or-nothing, city B's instant match -------------------------------------------
    aon = await platform.live_campaign(
        owners["aon"], title="Bike repair corner", municipality=city_b, postcode="93100", goal=8_000,
        funding_model="all_or_nothing",
    )  # fmt: skip
    aon_match = await _label_with_match(
        platform, owners["aon"], manager_b, city_b, aon,
        {"condition": "instant", "ratio": 1, "cap_per_project": 3_000, "cap_per_contribution": 2_000},
    )  # fmt: skip

    lap("aon labelled")
    # -- troubled: keep-it-all, a dispute, a refund after success --------------------------------
    troubled = await platform.live_campaign(
        owners["troubled"], title="Street piano", goal=3_000, funding_model="keep_it_all"
    )

    lap("award")
    # -- award: city A's call for projects, a proposal awarded by the jury
    now = datetime.now(UTC)
    call = await platform.call(
        "POST", f"{E}/municipalities/{city_a}/calls", manager_a, 201,
        json={"title": "Places pour tous", "budget": 50_000, "max_award": 10_000, "currency": "EUR",
              "submission_opens_at": (now - timedelta(days=1)).isoformat(),
              "submission_closes_at": (now + timedelta(days=10)).isoformat(), "selection_mode": "jury"},
    )  # fmt: skip
    proposer = owners["award"]
    proposal = await platform.call(
        "POST", f"{E}/calls/{call['id']}/proposals", proposer, 201,
        json={"title": "Benches on the square", "summary": "Six benches and shade for the square.",
              "requested_amount": 5_000, "goal": 9_000, "postcode": "93100"},
    )  # fmt: skip
    closes = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    await platform.call(
        "POST", f"{E}/calls/{call['id']}/schedule", manager_a, json={"submission_closes_at": closes}
    )
    selection = await platform.call(
        "POST", f"{E}/calls/{call['id']}/selection", manager_a, headers=_idem("select"),
        json={"winners": [{"proposal_id": proposal["id"], "award": 5_000}]},
    )  # fmt: skip
    assert [w["award"] for w in selection["winners"]] == [5_000]
    award_campaign_id = (await platform.call("GET", f"{E}/calls/{call['id']}/proposals", None))["items"][0][
        "campaign_id"
    ]
    award = await _status(platform, award_campaign_id, "live")

    lap("backers pay")
    # -- backers pay
    pledges: dict[str, list[dict[str, Any]]] = {}
    plan = {
        "goal": [(6_000, 300), (4_500, 0)],
        "aon": [(2_500, 200), (4_000, 0), (2_000, 0)],
        "troubled": [(3_000, 0), (2_500, 100), (1_500, 0)],
        "award": [(3_000, 0), (1_200, 150)],
    }
    campaigns = {"goal": goal, "aon": aon, "troubled": troubled, "award": award}
    for name, amounts in plan.items():
        pledges[name] = list(
            await _few_at_once(
                [platform.pledge(next(backers), campaigns[name], amount, tip=tip) for amount, tip in amounts]
            )
        )
        want = "authorized" if name == "aon" else "succeeded"
        assert [p["status"] for p in pledges[name]] == [want] * len(amounts), pledges[name]
    lap("paid")
    await _few_at_once([_onboard(platform, owner) for owner in owners.values()])

    # The bank disputes the troubled campaign's first charge and decides against us.
    async with httpx.AsyncClient(
        base_url=platform.stripe_base, timeout=10, auth=(STRIPE_SECRET, "")
    ) as local:
        disputed_pledge = pledges["troubled"][0]
        ledger = await platform.call("GET", f"{P}/campaigns/{troubled['id']}/ledger", admin)
        (pi_id,) = {e["stripe_ref"] for e in ledger["entries"] if e["pledge_id"] == disputed_pledge["id"]}
        charge = await _charge_of(sdk, pi_id)
        opened = await local.post(f"/_test/charges/{charge.id}/dispute", data={"reason": "fraudulent"})
        assert opened.status_code == 200, opened.text

        async def withdrawn() -> bool:
            entries = (await platform.call("GET", f"{P}/campaigns/{troubled['id']}/ledger", admin))["entries"]
            return any(e["kind"] == "dispute_withdrawn" for e in entries)

        await _until(withdrawn, "the dispute's money withdrawn in the ledger")
        lost = await local.post(f"/_test/disputes/{opened.json()['id']}/close", data={"outcome": "lost"})
        assert lost.status_code == 200 and lost.json()["status"] == "lost", lost.text

    async def dispute_closed() -> bool:
        items = (await platform.call("GET", f"{P}/disputes", admin, params={"status": "all"}))["items"]
        return any(d.get("status") == "lost" and d.get("pledge_id") == disputed_pledge["id"] for d in items)

    await _until(dispute_closed, "the lost dispute recorded")

    lap("the deadlines pass")
    # -- the deadlines pass
    for campaign in campaigns.values():
        await stack.end_campaign_now(campaign["id"])
    for name in campaigns:
        await _status(platform, campaigns[name]["id"], "succeeded")

    lap("ended")
    # Its payout waiting for an admin, an admin refunds 1 000 of one pledge of the troubled
    # campaign (succeeded): the project's share.
    await _payouts(platform, owners["troubled"], troubled["id"], 1)
    refunded_pledge = pledges["troubled"][1]
    await platform.call(
        "POST", f"{P}/pledges/{refunded_pledge['id']}/refund", admin, headers=_idem("refund"),
        json={"amount": 1_000, "reason": "The backer gave twice by mistake"},
    )  # fmt: skip

    # The all-or-nothing campaign is charged, then its owner completes it (its match is due then).
    async def charged() -> bool:
        ledger = await platform.call("GET", f"{P}/campaigns/{aon['id']}/ledger", admin)
        return sum(1 for e in ledger["entries"] if e["kind"] == "charge") == 3

    await _until(charged, "the all-or-nothing pledges charged")
    await _until(lambda: _match_given(platform, aon["id"], 3_000), "the instant match applied to the charges")
    await platform.call(
        "POST", f"{C}/{aon['id']}/complete", owners["aon"], json={"report": "The corner is open"}
    )

    lap("the cities pay what they owe")

    # -- the cities pay what they owe
    async def invoiced_received() -> bool:
        dues = await _dues(platform, manager_a, city_a)
        return len(dues) == 2 and all(d["status"] == "received" for d in dues)

    await _until(invoiced_received, "city A's match and award received by invoice", timeout=120)

    async def transfer_due() -> list[dict[str, Any]] | None:
        dues = await _dues(platform, manager_b, city_b)
        return dues if [d["status"] for d in dues] == ["due"] else None

    (due_b,) = await _until(transfer_due, "city B's match due")
    assert due_b["id"] == aon_match and due_b["method"] == "bank_transfer"
    await platform.call(
        "POST", f"{P}/city-dues/{aon_match}/transfer-declaration", manager_b, headers=_idem(),
        json={"reference": "VIR-INV-0001"},
    )  # fmt: skip
    await platform.call("POST", f"{P}/city-dues/{aon_match}/transfer-confirmation", admin, headers=_idem())

    lap("payouts")
    # -- payouts: the two tranches (proof, city A confirms), then everything owed is paid out
    first, second = await _payouts(platform, owners["goal"], goal["id"], 2)
    assert (first["sequence"], second["sequence"]) == (1, 2)
    await platform.call(
        "POST", f"{P}/payouts/{second['id']}/milestone-proof", owners["goal"], headers=_idem(),
        json={"urls": ["https://example.org/workshop-opened"]},
    )  # fmt: skip
    confirmed = await platform.call("POST", f"{P}/payouts/{second['id']}/confirm", manager_a, headers=_idem())
    assert confirmed["status"] == "released", confirmed
    await asyncio.gather(*(_settle(platform, owners[n], c["id"]) for n, c in campaigns.items()))

    lap("the invariants")
    # -- the invariants: every breach is listed (then asserted together), so one run names all
    breaches: list[str] = []

    def check(ok: bool, what: str, *seen: Any) -> None:
        if not ok:
            breaches.append(f"{what}: {seen}")

    ledgers: dict[str, list[dict[str, Any]]] = {}
    for name, campaign in campaigns.items():
        cid = campaign["id"]
        ledger = await platform.call("GET", f"{P}/campaigns/{cid}/ledger", admin)
        entries, totals = ledger["entries"], ledger["totals"]
        ledgers[cid] = entries
        # The accounts (tips apart, on `platform`):
        charged_ = _sum(entries, "project", "charge")  # the backers' money taken for the project
        refunded = -_sum(entries, "project", "refund")  # given back to backers
        withdrawn = -_sum(entries, "project", "dispute_withdrawn", "dispute_reinstated")  # by banks
        fees = -_sum(entries, "stripe_fees")  # Stripe's processing fees
        paid_out = -_sum(entries, "payouts")  # transferred to the holder
        match_paid = -_sum(entries, "city", *MATCH_PAID_KINDS)  # what cities paid (the holder's)
        tips = _sum(entries, "platform")
        payouts = (await platform.call("GET", f"{P}/campaigns/{cid}/payouts", owners[name]))["items"]
        # Held: what the platform keeps for the project (payouts not transferred yet) and what a
        # bank took back by a dispute still open or lost.
        held = sum(p["amount"] for p in payouts if p["status"] != "paid") + withdrawn
        check(
            charged_ - refunded + match_paid == paid_out + held + fees,
            f"{name}: charged - refunded + match paid != paid out + held + fees",
            charged_, refunded, match_paid, paid_out, held, fees,
        )  # fmt: skip
        check(
            sum(p["amount"] for p in payouts if p["status"] == "paid") == paid_out,
            f"{name}: payouts paid != ledger transfers", payouts, paid_out,
        )  # fmt: skip

        # Payments' totals and payouts, re-derived from the entries.
        raised = _sum(entries, "project")
        shown_totals = (totals["charged"], totals["refunded"], totals["disputed"], totals["raised"])
        check(shown_totals == (charged_, refunded, withdrawn, raised), f"{name}: ledger totals", totals)
        check(
            (totals["stripe_fees"], totals["paid_out"], totals["platform_fees"]) == (fees, paid_out, tips),
            f"{name}: ledger fee/payout/tip totals", totals,
        )  # fmt: skip
        check(
            totals["payout_owed"] == raised - fees + match_paid - paid_out == 0,
            f"{name}: payout owed", totals, raised, fees, match_paid, paid_out,
        )  # fmt: skip
        check(
            sum(p["amount"] for p in payouts) == raised - fees + match_paid,
            f"{name}: payouts != raised - fees + match paid", payouts, raised, fees, match_paid,
        )  # fmt: skip
        for p in payouts:
            check(p["raised"] - p["stripe_fees"] + p["match"] == p["amount"], f"{name}: payout parts", p)
        check(sum(p["raised"] for p in payouts) == raised, f"{name}: payouts' raised", payouts, raised)
        check(sum(p["stripe_fees"] for p in payouts) == fees, f"{name}: payouts' fees", payouts, fees)
        check(sum(p["match"] for p in payouts) == match_paid, f"{name}: payouts' match", payouts, match_paid)
        check(payouts[0]["tips"] == tips, f"{name}: payout's tips", payouts, tips)

        # Stripe's side: the intents, their fees, refunds and disputes; the transfers.
        theirs = await _stripe_side(sdk, entries)
        ours = {
            "charged": charged_ + _sum(entries, "platform", "platform_fee"),
            "fees": fees,
            "refunded": refunded - _sum(entries, "platform", "refund"),
            "disputed_lost": withdrawn - _sum(entries, "platform", "dispute_withdrawn", "dispute_reinstated"),
        }
        check(theirs == ours, f"{name}: Stripe's objects != the ledger", theirs, ours)
        transfers = await sdk.v1.transfers.list_async({"transfer_group": f"campaign_{cid}", "limit": 100})
        net = sum(t.amount - t.amount_reversed for t in transfers.data)
        check(net == paid_out, f"{name}: Stripe's transfers != paid out", net, paid_out)
        report = await platform.call("GET", f"{P}/campaigns/{cid}/reconciliation", admin)
        check(report["ok"] and report["differences"] == [], f"{name}: reconciliation", report)

        # What the campaign page shows (payments' city matches, campaigns' totals).
        matches = (await platform.call("GET", f"{P}/campaigns/{cid}/city-matches", None))["items"]
        due = _sum(entries, "city", "match_due")
        outstanding = _sum(entries, "city")
        check(due == match_paid + outstanding, f"{name}: match due != received + outstanding", entries)
        check(
            (totals["match_owed_by_city"], totals["match_received"]) == (outstanding, match_paid),
            f"{name}: ledger match totals", totals,
        )  # fmt: skip
        check(
            (sum(m["due"] for m in matches), sum(m["received"] for m in matches)) == (outstanding, match_paid),
            f"{name}: city matches shown", matches, outstanding, match_paid,
        )  # fmt: skip
        shown = (await platform.call("GET", f"{C}/{cid}", None))["totals"]
        # A lost dispute reaches campaigns as a refund (payment.refunded, reason dispute_lost).
        check(
            shown["raised"] == raised, f"{name}: campaigns' raised != the ledger's", shown, raised, withdrawn
        )
        check(shown["matched"] == _sum(entries, "match"), f"{name}: campaigns' matched", shown, totals)

    # Per commitment and per city: the dues lists against the ledger's lines.
    expected = {city_a: {goal_match, f"award_{proposal['id']}"}, city_b: {aon_match}}
    for manager, slug in ((manager_a, city_a), (manager_b, city_b)):
        dues = await _dues(platform, manager, slug)
        check({d["id"] for d in dues} == expected[slug], f"{slug}: its dues", dues)
        city = {"due": 0, "received": 0, "outstanding": 0}
        for d in dues:
            lines = [
                e for e in ledgers.get(d["campaign_id"], []) if e["account"] == "city" and d["id"] in e["id"]
            ]
            owed = sum(e["amount"] for e in lines if e["kind"] == "match_due")
            paid = -sum(e["amount"] for e in lines if e["kind"] in MATCH_PAID_KINDS)
            given = sum(
                e["amount"]
                for e in ledgers.get(d["campaign_id"], [])
                if e["account"] == "match" and e["stripe_ref"].split("|")[0] == d["id"]
            )
            check(owed == d["amount"] == given > 0, f"{d['id']}: due != given != its line", d, lines, given)
            open_ = d["amount"] if d["status"] in ("due", "transfer_declared") else 0
            received = d["amount"] if d["status"] == "received" else 0
            check(
                owed == paid + open_ and paid == received,
                f"{d['id']}: due != received + outstanding",
                d,
                lines,
            )
            city["due"] += owed
            city["received"] += received
            city["outstanding"] += open_
        check(
            city["due"] == city["received"] + city["outstanding"],
            f"{slug}: due != received + outstanding",
            city,
        )
        check(city["outstanding"] == 0, f"{slug}: still owes", city)
    lap("done")
    assert not breaches, "\n".join(breaches)


async def _match_given(platform: Any, campaign_id: str, amount: int) -> bool:
    ledger = await platform.call("GET", f"{P}/campaigns/{campaign_id}/ledger", platform.admin)
    return _sum(ledger["entries"], "match") == amount
