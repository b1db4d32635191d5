"""Money that reached its holder (issue 13): two earlier projects of Amina in Bel-Air, ended.

* "Ping-pong tables in Bel-Air square" (keep-it-all): Montreuil labelled it with an instant 1:1
  match from its participatory-budget pool, Sofia and Lucas paid on localstripe, the campaign
  ended, Amina onboarded her Stripe Connect account (payments' Connect API, then the local
  Stripe's account-link page, as a browser does), the admin approved the payout and the transfer
  on the local Stripe made it paid. The match became due and Montreuil paid it: by the invoice
  payments bills on the city's Stripe customer (its subscription's, from the pledges step), or,
  when the city has none or the invoice stays open, by a bank transfer Claire declares and the
  admin confirms.
* "Free book boxes in Bel-Air" (keep-it-all, labelled by Montreuil): Amina's payout plan pays 60 %
  at the end and 40 % once the boxes are installed; the first tranche is paid, Amina sent the
  milestone's proof, and the second waits for Montreuil's confirmation.

The one shortcut: a campaign runs 7 days at least, so its deadline is moved into the past in
campaigns' datastore (`devstack.deadlines`, the step the end-to-end tests take too) and
campaigns' own scheduler ends it; everything else goes through the gateway. Campaigns may take a
while to decide an outcome (its deadline tick, payments' tally), so the step polls for it.

Re-running finds each campaign by its owner and title and only does what is missing: an ended
campaign is not pledged to or ended again, a payout already approved or paid is not approved
again, a proof already sent is not sent again, a due received is left alone.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pymongo.errors import PyMongoError

from civicfund_client import (
    ApiError,
    CampaignsCampaignOut,
    PaymentsDueOut,
    PaymentsPayoutOut,
    PaymentsPledgeIn,
    PaymentsPledgeOut,
)

from .. import deadlines
from ..stack import Stack
from . import pledges
from .campaigns import _ensure_live
from .cities import SLUG, _pool, _request_label
from .context import Demo, Person

T = TypeVar("T")

# campaigns' datastore, where the deadline is moved: `make up`'s default port unless told
# (tests point it at their stack's, as they point `pledges.STRIPE` at their localstripe).
CAMPAIGNS_MONGO = os.environ.get("CAMPAIGNS_MONGO_URL") or Stack(Path(), Path()).mongo_url("campaigns")
WAIT_S = 180.0  # `make up` ends campaigns on a 30 s tick; then payments' jobs take their turn
ENDED = ("succeeded", "failed", "completed")
GONE = ("canceled", "rejected")

_BEL_AIR = {"municipality": SLUG, "neighbourhood": "Bel-Air", "postcode": "93100", "currency": "EUR",
            "funding_model": "keep_it_all", "duration_days": 14}  # fmt: skip


@dataclass
class Story:
    key: str
    campaign: dict[str, Any]
    backers: list[tuple[str, int, int]]  # (backer, amount, tip) in cents
    grant: dict[str, Any]  # the label Montreuil grants, without the match's pool
    match: dict[str, Any] | None = None  # the match rule; the pool is the labels step's
    plan: list[dict[str, Any]] | None = None  # the payout plan's tranches
    proof: dict[str, Any] | None = None  # the milestone's proof of the second tranche
    owner: str = "amina"
    needs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def project(self) -> dict[str, Any]:
        """The shape the campaigns step creates a live campaign from."""
        return {"key": self.key, "owner": self.owner, "campaign": self.campaign, "needs": self.needs}


PAID_OUT = Story(
    key="ping_pong",
    campaign={
        **_BEL_AIR,
        "title": "Ping-pong tables in Bel-Air square",
        "summary": "Two concrete ping-pong tables under the plane trees, free for everyone.",
        "description": (
            "The square has room for **two outdoor ping-pong tables**. The money buys the tables, "
            "their anchoring and a box of bats and balls the café next door lends out."
        ),
        "category": "sport",
        "address": "Square du Bel-Air, 93100 Montreuil",
        "lat": 48.8657,
        "lon": 2.4551,
        "goal": 20_000,
    },
    backers=[("sofia", 6_000, 300), ("lucas", 4_000, 0)],
    grant={"note": "Des tables de ping-pong gratuites sur la place: la ville double chaque don."},
    match={"condition": "instant", "ratio": 1, "cap_per_project": 10_000},
)
TRANCHES = Story(
    key="book_boxes",
    campaign={
        **_BEL_AIR,
        "title": "Free book boxes in Bel-Air",
        "summary": "Three weatherproof book boxes where neighbours leave and take books.",
        "description": (
            "Three **book boxes** built by the carpentry class of the lycée, installed by the "
            "square, the school and the bus stop. Take a book, leave a book."
        ),
        "category": "culture",
        "lat": 48.8661,
        "lon": 2.4563,
        "goal": 9_000,
    },
    backers=[("sofia", 5_000, 0), ("lucas", 4_000, 200)],
    grant={"note": "Des boîtes à livres dans le quartier: la ville confirme leur installation."},
    plan=[{"percent": 60}, {"percent": 40, "title": "The three book boxes are installed"}],
    proof={"urls": ["https://images.civicfund.localhost/book-boxes-installed.jpg"]},
)
STORIES = [PAID_OUT, TRANCHES]


async def _until(probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = WAIT_S) -> T:
    """`probe()`'s first answer that is not None (the platform works through events)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        answer = await probe()
        if answer is not None:
            return answer
        if loop.time() > deadline:
            raise TimeoutError(f"{what}: not after {timeout:.0f}s")
        await asyncio.sleep(0.5)


# -- before the end: labelled, backed, planned ------------------------------------------------------


async def _label(demo: Demo, story: Story, cid: str) -> None:
    """Montreuil labels the campaign (Yusuf reviews, Claire grants), once."""
    if (await demo.api().endorsements_campaign_labels(cid))["labels"]:
        return
    owner, yusuf = demo.people[story.owner], demo.people["montreuil_reviewer"]
    claire = demo.people["montreuil_manager"]
    label = await _request_label(demo, owner, cid)
    if label is None:  # requested on an earlier run that stopped there
        queue = await demo.api(yusuf).endorsements_review_queue(SLUG)
        label = next(i["label"] for i in queue["items"] if i["campaign"]["id"] == cid and i["label"])
    if label["status"] == "requested":
        label = await demo.api(yusuf).endorsements_start_review(label["id"])
    body: dict[str, Any] = dict(story.grant)
    if story.match is not None:
        pool_id = demo.ids.get("pool.budget_participatif_2027") or await _pool(demo, claire)
        body["match"] = {"pool_id": pool_id, **story.match}
    await demo.api(claire).endorsements_grant_label(
        label["id"], body=body, idempotency_key=f"seed-label-{cid}"
    )


async def _pledge(demo: Demo, backer: Person, campaign: CampaignsCampaignOut, amount: int, tip: int) -> None:
    """Paid on the local Stripe as the checkout page pays (the pledges step's way), with keys of
    this step: a campaign left live by an interrupted run may also get the pledges step's."""
    api, cid = demo.api(backer), campaign["id"]
    body: PaymentsPledgeIn = {"campaign_id": cid, "amount": amount, "currency": campaign["currency"], "tip": tip,
                              "public_name": backer.display_name.split(" ")[0]}  # fmt: skip

    async def created() -> PaymentsPledgeOut | None:
        try:
            return await api.payments_create_pledge(
                body=body, idempotency_key=f"seed-payouts-{backer.key}-{cid}"
            )
        except ApiError as refused:
            if refused.code == "campaign_not_found":  # payments has not heard of it yet
                return None
            raise

    pledge = await _until(created, f"{backer.key}'s pledge to {campaign['title']}", timeout=60)
    if pledge.get("next_action") == "confirm_card_setup":
        await pledges._save_card_in_browser(pledge)
        pledge = await api.payments_confirm_pledge(pledge["id"])
    if pledge["status"] != "succeeded":
        raise RuntimeError(f"{backer.key}'s pledge to {campaign['title']} is {pledge['status']}")


async def _plan(demo: Demo, story: Story, cid: str) -> None:
    if story.plan is None:
        return
    as_owner = demo.api(demo.people[story.owner])
    current = await as_owner.payments_get_payout_plan(cid)
    if len(current["tranches"]) == len(story.plan):
        return
    await as_owner.payments_put_payout_plan(
        cid, body={"tranches": story.plan}, idempotency_key=f"seed-plan-{cid}"
    )


async def _counted(demo: Demo, story: Story, cid: str) -> None:
    """Until campaigns counted every payment and, with an instant match, what the city added:
    the outcome is decided on those totals."""
    raised = sum(amount for _, amount, _ in story.backers)
    matched = min(raised, int(story.match["cap_per_project"])) if story.match else 0

    async def totals() -> bool | None:
        now = (await demo.api().campaigns_get_campaign(cid))["totals"]
        return True if now["raised"] >= raised and now["matched"] >= matched else None

    await _until(totals, f"the payments and the match of {story.campaign['title']} counted", timeout=60)


async def _ended(demo: Demo, cid: str) -> str:
    async def outcome() -> str | None:
        status = (await demo.api().campaigns_get_campaign(cid))["status"]
        return status if status in ENDED else None

    return await _until(outcome, f"campaign {cid} ended")


# -- after the end: the holder is paid, the city pays its match -------------------------------------


async def _onboarded(demo: Demo, owner: Person) -> None:
    """The holder's connected account, onboarded on the local Stripe's page as a browser does."""
    api = demo.api(owner)
    if (await api.payments_my_account())["status"] == "ready":
        return
    # A fresh link each time, as each click on the site asks for: an account link expires
    # (payments creates the account itself once).
    started = await api.payments_start_onboarding(
        body={"email": owner.email}, idempotency_key=uuid.uuid4().hex
    )
    async with httpx.AsyncClient(timeout=30) as browser:
        page = await browser.get(started["url"])
        if page.status_code == 200:
            await browser.post(started["url"], data={"decision": "complete"})
    account = await api.payments_refresh_account()
    if account["status"] != "ready":
        raise RuntimeError(f"{owner.email}'s payout account is {account['status']} after onboarding")


async def _payouts(demo: Demo, story: Story, cid: str, count: int) -> list[PaymentsPayoutOut]:
    as_owner = demo.api(demo.people[story.owner])

    async def made() -> list[PaymentsPayoutOut] | None:
        items = (await as_owner.payments_campaign_payouts(cid))["items"]
        return items if len(items) >= count else None

    return await _until(made, f"the payouts of {story.campaign['title']}")


async def _paid(demo: Demo, story: Story, cid: str, payout: PaymentsPayoutOut) -> PaymentsPayoutOut:
    """The admin approves a pending payout; the local Stripe's transfer makes it paid."""
    if payout["status"] == "pending":
        await demo.api(demo.people["admin"]).payments_approve_payout(
            payout["id"], idempotency_key=f"seed-approve-{payout['id']}"
        )
    as_owner = demo.api(demo.people[story.owner])

    async def settled() -> PaymentsPayoutOut | None:
        now = await as_owner.payments_get_payout(payout["id"])
        if now["status"] == "failed":
            raise RuntimeError(f"payout {payout['id']} failed: {now.get('failure_reason')}")
        return now if now["status"] == "paid" else None

    return await _until(settled, f"payout {payout['id']} paid", timeout=60)


async def _all_paid(demo: Demo, story: Story, cid: str, match: int) -> list[PaymentsPayoutOut]:
    """Every payout of the campaign approved by the admin and paid. Where payments passes a
    city's match on to the holder once the city paid it (payouts then carry `match`), that is
    a further payout, or part of the first when the city paid before the end was looked at:
    settled once the paid payouts carry all of it."""
    as_owner, as_admin = demo.api(demo.people[story.owner]), demo.api(demo.people["admin"])

    async def settled() -> list[PaymentsPayoutOut] | None:
        items = (await as_owner.payments_campaign_payouts(cid))["items"]
        for payout in items:
            if payout["status"] == "failed":
                raise RuntimeError(f"payout {payout['id']} failed: {payout.get('failure_reason')}")
            if payout["status"] == "pending" and not payout.get("hold_reason"):
                await as_admin.payments_approve_payout(
                    payout["id"], idempotency_key=f"seed-approve-{payout['id']}"
                )
        wanted = match if items and "match" in items[0] else 0
        carried = sum(int(p.get("match") or 0) for p in items)
        return items if items and carried >= wanted and all(p["status"] == "paid" for p in items) else None

    return await _until(settled, f"the payouts of {story.campaign['title']} paid")


async def _proved(demo: Demo, story: Story, payout: PaymentsPayoutOut) -> str:
    """The holder proves the second tranche's milestone: Montreuil is asked to confirm it."""
    as_owner = demo.api(demo.people[story.owner])
    waiting = [m for m in (await as_owner.payments_open_milestones(payout["campaign_id"]))["items"]
               if m["payout"]["id"] == payout["id"]]  # fmt: skip
    status = waiting[0]["status"] if waiting else "awaiting_proof"
    if status == "awaiting_proof" and story.proof is not None:
        proved = await as_owner.payments_prove_milestone(
            payout["id"], body=story.proof, idempotency_key=f"seed-proof-{payout['id']}"
        )
        status = proved["status"]
    return status


async def _city_paid(demo: Demo, cid: str) -> PaymentsDueOut:
    """The match, due once the campaign ended, received: by the invoice payments bills and the
    local Stripe charges, else by Claire's declared transfer the admin confirms."""
    claire, admin = demo.people["montreuil_manager"], demo.people["admin"]

    async def due() -> PaymentsDueOut | None:
        dues = (await demo.api(claire).payments_list_dues(municipality=SLUG))["items"]
        mine = [d for d in dues if d["campaign_id"] == cid and d["status"] != "promised"]
        return mine[0] if mine else None

    owed = await _until(due, f"Montreuil's match on {cid} due")
    if owed["status"] == "due" and owed["method"] == "invoice":

        async def received() -> PaymentsDueOut | None:
            now = await due()
            return now if now is not None and now["status"] == "received" else None

        try:
            owed = await _until(received, "the invoiced match received", timeout=60)
        except TimeoutError:
            owed = await due() or owed  # the invoice stayed open: the city pays by transfer
    if owed["status"] == "due":
        owed = await demo.api(claire).payments_declare_transfer(
            owed["id"],
            body={"reference": "VIR-MONTREUIL-2027-0042"},
            idempotency_key=f"seed-declare-{owed['id']}",
        )
    if owed["status"] == "transfer_declared":
        owed = await demo.api(admin).payments_confirm_transfer(
            owed["id"], idempotency_key=f"seed-confirm-{owed['id']}"
        )
    return owed


# -- the step -------------------------------------------------------------------------------------


async def _before_end(demo: Demo, story: Story) -> tuple[str, bool]:
    """The campaign's id, and whether this run moves its deadline (False: it already ended)."""
    campaign = await _ensure_live(demo, story.project)
    cid = campaign["id"]
    demo.ids[f"campaign.{story.key}"] = cid
    if campaign["status"] in ENDED:
        return cid, False
    if campaign["status"] != "live":
        raise RuntimeError(f"{story.campaign['title']} is {campaign['status']}")
    await _label(demo, story, cid)
    if story.match is not None:  # an instant match gives only to payments made after it
        await _until(
            lambda: _promised(demo, cid), f"the match on {story.campaign['title']} committed", timeout=60
        )
    for key, amount, tip in story.backers:
        await _pledge(demo, demo.people[key], campaign, amount, tip)
    await _plan(demo, story, cid)
    await _counted(demo, story, cid)
    return cid, True


async def _promised(demo: Demo, cid: str) -> bool | None:
    labels = (await demo.api().endorsements_campaign_labels(cid))["labels"]
    return True if labels and labels[0].get("commitment_ids") else None


async def _run(demo: Demo) -> str:
    owner = demo.people[PAID_OUT.owner]
    campaigns = [await _before_end(demo, story) for story in STORIES]
    for cid, to_end in campaigns:
        if to_end:
            await deadlines.end_campaign_now(CAMPAIGNS_MONGO, demo.var / "run" / "locks", cid)
    outcomes = [await _ended(demo, cid) for cid, _ in campaigns]
    await _onboarded(demo, owner)

    (paid_out, _), (tranched, _) = campaigns
    due = await _city_paid(demo, paid_out)
    demo.ids["city_due.ping_pong"] = f"{due['id']} {due['status']} ({due['method']})"
    paid = await _all_paid(demo, PAID_OUT, paid_out, int(due["amount"]))
    demo.ids["payouts.ping_pong"] = ", ".join(f"{p['id']} {p['status']}" for p in paid)

    first, second = (await _payouts(demo, TRANCHES, tranched, 2))[:2]
    first = await _paid(demo, TRANCHES, tranched, first)
    milestone = await _proved(demo, TRANCHES, second)
    demo.ids["payout.book_boxes.1"] = f"{first['id']} {first['status']}"
    demo.ids["payout.book_boxes.2"] = f"{second['id']} {milestone}"
    return (
        f"payouts: '{PAID_OUT.campaign['title']}' {outcomes[0]}, {sum(p['amount'] for p in paid) / 100:.2f} EUR "
        f"paid in {len(paid)} payout(s) to "
        f"{owner.display_name}, Montreuil's match {due['amount'] / 100:.2f} EUR {due['status']} "
        f"({due['method']}); '{TRANCHES.campaign['title']}' tranche 1 {first['status']}, tranche 2 {milestone}"
    )


async def run(demo: Demo) -> None:
    try:
        line = await _run(demo)
    except (ApiError, RuntimeError, TimeoutError, OSError, PyMongoError) as failed:
        line = f"payouts: not finished ({type(failed).__name__}: {failed})"
        demo.notes.append(line)
    print(f"    {line}", flush=True)
