"""Payouts, the use cases: a holder's connected account (Stripe Connect Express: onboarding
through an account link, its state re-fetched from Stripe), the payouts of campaigns whose end
releases money, an admin's approval, the transfer, and what Stripe's `account.updated` and
`transfer.*` webhooks do to them. Rules: payouts_domain.py.

Stripe calls happen outside transactions; a payout is claimed (`approved -> transferring`) in a
transaction before its transfer is asked of Stripe with an idempotency key derived from the
payout and its attempt, so a crash, a second replica or a retried request never transfers twice.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import stripe

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.logging import get_logger
from servicekit.mongo import Tx, utcnow

from . import domain, tranches
from . import payouts_domain as rules
from . import tranches_domain as tranche_rules
from .pledges import PledgeBook, stripe_unavailable
from .store import Doc, Store

log = get_logger(__name__)


def _now_ms() -> int:
    return int(time.time() * 1000)


async def campaign_ended(tx: Tx, campaign_id: str) -> None:
    """Run by the campaign.* handler after the projection took the event (same transaction):
    when the campaign's projected state (its highest version: a late, contradicting outcome
    changes nothing) releases money, remember to look at it until its charges settle. The
    check itself runs in the payouts job (it asks Stripe for fees)."""
    store = Store.of(tx)
    campaign = await store.campaign(campaign_id, tx)
    if campaign is not None and campaign.get("status") == "canceled":
        await _cancel_unpaid(tx, store, campaign_id)
        return
    if campaign is None or not rules.releases_money(
        str(campaign.get("funding_model")), str(campaign.get("status"))
    ):
        return
    check = await store.payout_check(campaign_id, tx)
    if check is not None and check.get("status") == "due":
        return  # a redelivery, or `completed` after `succeeded`: already waiting
    if check is not None and check.get("outcome") == campaign["status"]:
        return  # this outcome was looked at already
    await store.save_payout_check(
        tx,
        campaign_id,
        {
            "status": "due",
            "due_ms": _now_ms(),
            "owner_id": campaign.get("owner_id"),
            "funding_model": campaign["funding_model"],
            "currency": campaign.get("currency") or "EUR",
            "outcome": campaign["status"],
            "updated_at": utcnow(),
        },
    )


async def match_received(tx: Tx, campaign_id: str) -> None:
    """Run where a city's payment of its match is recorded (city_dues, same transaction): a
    campaign whose end was already looked at has its payout check due again, so the payouts
    job releases the match as the campaign's next payout (same rules as at its end: charges
    settled, holds, the tranche plan). Before the end, the end's payout will count it."""
    store = Store.of(tx)
    check = await store.payout_check(campaign_id, tx)
    if check is None or check.get("status") == "due":
        return  # not ended yet (or not releasing money), or already waiting to be looked at
    campaign = await store.campaign(campaign_id, tx)
    if campaign is None or not rules.releases_money(
        str(campaign.get("funding_model")), str(campaign.get("status"))
    ):
        return  # canceled since: its backers are refunded, nothing is paid out
    await store.save_payout_check(
        tx, campaign_id, {"status": "due", "due_ms": _now_ms(), "updated_at": utcnow()}
    )


async def permits_changed(tx: Tx, campaign_id: str) -> None:
    """Run by the campaign.* handler after the projection took the event (same transaction):
    the campaign's pending payouts wait while a permit it needs is not granted (`hold_reason`),
    and may be approved again once the campaign's latest event says none is pending."""
    store = Store.of(tx)
    hold = rules.hold_reason(await store.campaign(campaign_id, tx))
    for payout in await store.pending_payouts_of_campaign(tx, campaign_id):
        if payout.get("hold_reason") != hold:
            await store.set_payout(tx, payout["_id"], rules.PENDING, hold_reason=hold, updated_at=utcnow())


async def _cancel_unpaid(tx: Tx, store: Store, campaign_id: str) -> None:
    """A canceled campaign refunds its backers: a payout that has not left fails (a redelivery
    finds nothing left to move). One already transferring or paid is left to Stripe's answer
    and to the admins (see the README)."""
    for payout in await store.payouts_of_campaign(campaign_id, tx):
        to = rules.next_state(payout["status"], "cancel")
        if to is None:
            continue
        moved = await store.move_payout(
            tx, payout["_id"], payout["status"], to, failure_reason="campaign_canceled"
        )
        if moved is not None:
            tx.emit("payout.failed", moved["_id"], rules.event_data(moved))


class Payouts:
    def __init__(self, book: PledgeBook) -> None:
        self.book = book
        self.settings = book.settings
        self.store = book.store
        self.mongo = book.mongo
        self.stripe = book.stripe
        self.idempotency = book.idempotency

    # -- connected accounts ---------------------------------------------------------------------

    async def account(self, principal: Principal) -> Doc | None:
        return await self.store.connected_account(principal.sub)

    async def start_onboarding(self, principal: Principal, email: str | None, key: str) -> tuple[Doc, str]:
        """The holder's Express account (created once) and a fresh onboarding link to it."""
        claim = await self.idempotency.begin(f"payouts.onboarding|{principal.sub}", key, {"email": email})
        if claim.stored is not None:
            return claim.stored.value["account"], claim.stored.value["url"]
        try:
            doc = await self.store.connected_account(principal.sub)
            try:
                if doc is None:
                    account_id = await self.stripe.create_connected_account(
                        principal.sub, email, f"connect-account-{principal.sub}"
                    )
                    doc = await self._record_new_account(principal.sub, account_id)
                base = self.settings.public_base_url.rstrip("/")
                url = await self.stripe.onboarding_link(
                    doc["stripe_account_id"],
                    refresh_url=base + self.settings.connect_refresh_path,
                    return_url=base + self.settings.connect_return_path,
                )
            except stripe.StripeError as exc:
                raise stripe_unavailable(exc) from exc
            await claim.complete({"account": doc, "url": url})
        except BaseException:
            await claim.release()
            raise
        return doc, url

    async def _record_new_account(self, user_id: str, account_id: str) -> Doc:
        fields = rules.account_fields(await self.stripe.connected_account(account_id))
        now = utcnow()
        doc = {
            "_id": user_id,
            "stripe_account_id": account_id,
            **fields,
            "created_at": now,
            "updated_at": now,
        }

        async def write(tx: Tx) -> Doc:
            existing = await self.store.connected_account(user_id, tx)
            if existing is not None:  # a concurrent request (same Stripe idempotency key) won
                return existing
            return await self.store.insert_connected_account(tx, doc)

        return await self.mongo.transact(write)

    async def refresh_account(self, principal: Principal) -> Doc:
        """The return page: Stripe's word on the account, never the browser's."""
        doc = await self.store.connected_account(principal.sub)
        if doc is None:
            raise DomainError("not_found", 404, "no payout account yet: start onboarding first")
        try:
            return await self._refresh(doc)
        except stripe.StripeError as exc:
            raise stripe_unavailable(exc) from exc

    async def account_updated(self, stripe_account_id: str) -> bool:
        """Stripe's `account.updated`: re-fetch and record; an account that became ready lets
        the holder's approved payouts go."""
        doc = await self.store.connected_account_by_stripe(stripe_account_id)
        if doc is None:
            return False
        await self._refresh(doc)
        return True

    async def _refresh(self, doc: Doc) -> Doc:
        fields = rules.account_fields(await self.stripe.connected_account(doc["stripe_account_id"]))

        async def write(tx: Tx) -> None:
            await self.store.set_connected_account(tx, doc["_id"], {**fields, "updated_at": utcnow()})

        await self.mongo.transact(write)
        if fields["status"] == rules.READY:
            await self.transfer_approved_of(doc["_id"])
        return {**doc, **fields}

    # -- reading payouts ------------------------------------------------------------------------

    async def of_campaign(self, campaign_id: str, principal: Principal) -> list[Doc]:
        campaign = await self.store.campaign(campaign_id)
        if campaign is None or (not principal.is_admin and campaign.get("owner_id") != principal.sub):
            raise DomainError("not_found", 404, "campaign not found")
        return await self.store.payouts_of_campaign(campaign_id)

    async def mine(self, principal: Principal, limit: int) -> list[Doc]:
        return await self.store.payouts_of_owner(principal.sub, limit)

    async def listing(self, status: str, limit: int) -> list[Doc]:
        return await self.store.payouts_in(status, limit)

    async def one(self, payout_id: str, principal: Principal) -> Doc:
        doc = await self.store.payout(payout_id)
        if doc is None or (not principal.is_admin and doc["owner_id"] != principal.sub):
            raise DomainError("not_found", 404, "payout not found")
        return doc

    # -- campaigns with money to release (the payouts job) --------------------------------------

    async def check_due(self) -> None:
        for check in await self.store.due_payout_checks(_now_ms()):
            try:
                await self.check_campaign(check)
            except stripe.StripeError as exc:  # Stripe away: looked at again later
                log.warning("payout_check_failed", campaign_id=check["_id"], error=str(exc))

    async def check_campaign(self, check: Doc) -> Doc | None:
        """Create the campaign's next payout once its charges have settled; None while they
        have not (looked at again after PAYOUT_RECHECK_S) or when nothing is left to release."""
        campaign_id = check["_id"]
        pledges = await self.store.pledges_of_campaign(campaign_id)
        if not rules.charges_settled(check["funding_model"], [p["status"] for p in pledges]):
            await self._reschedule(campaign_id)
            return None
        await self._record_fees(campaign_id, check["currency"])
        entries = await self.store.ledger(campaign_id)

        async def write(tx: Tx) -> Doc | None:
            hold = rules.hold_reason(await self.store.campaign(campaign_id, tx))
            payouts = await self.store.payouts_of_campaign(campaign_id, tx)
            release = rules.release(entries, rules.ledger_fees(entries), payouts)
            await self.store.save_payout_check(tx, campaign_id, {"status": "done", "updated_at": utcnow()})
            if release.amount <= 0:
                return None
            now = utcnow()
            sequence = len(payouts) + 1
            doc = {
                "_id": rules.payout_id(campaign_id, sequence),
                "campaign_id": campaign_id,
                "owner_id": check["owner_id"],
                "sequence": sequence,
                "amount": release.amount,
                "currency": check["currency"],
                "raised": release.new_raised,
                "stripe_fees": release.fees,
                "tips": release.tips,
                "match": release.new_match,
                "status": rules.PENDING,
                "hold_reason": hold,
                "attempt": 1,
                "transfer_group": rules.transfer_group(campaign_id),
                "created_at": now,
                "created_ms": int(now.timestamp() * 1000),
                "updated_at": now,
                "updated_ms": int(now.timestamp() * 1000),
            }
            # The holder's payout plan (tranches.py) may split it: one payout per tranche.
            docs = await tranches.split_release(tx, doc)
            for one in docs:
                await self.store.insert_payout(tx, one)
                tx.emit("payout.created", one["_id"], rules.event_data(one))
            return docs[0]

        return await self.mongo.transact(write)

    async def _reschedule(self, campaign_id: str) -> None:
        async def write(tx: Tx) -> None:
            due = _now_ms() + int(self.settings.payout_recheck_s * 1000)
            await self.store.save_payout_check(tx, campaign_id, {"due_ms": due, "updated_at": utcnow()})

        await self.mongo.transact(write)

    async def _record_fees(self, campaign_id: str, currency: str) -> None:
        """Stripe's fee of each charge not yet in the ledger (the ledger is the cache: a fee
        entry's id derives from the PaymentIntent)."""
        entries = await self.store.ledger(campaign_id)
        known = {e["stripe_ref"] for e in entries if e["account"] == "stripe_fees"}
        new: list[domain.LedgerEntry] = []
        for e in entries:
            if e["account"] == "project" and e["kind"] == "charge" and e["stripe_ref"] not in known:
                fee = await self.stripe.charge_fee(e["stripe_ref"])
                if fee:
                    new.append(
                        domain.LedgerEntry(
                            f"stripe_fee:{e['stripe_ref']}", campaign_id, e["pledge_id"], "stripe_fees",
                            "stripe_fee", -fee, currency, e["stripe_ref"],
                        )
                    )  # fmt: skip
        if new:

            async def write(tx: Tx) -> None:
                await self.store.append_ledger(tx, new, utcnow())

            await self.mongo.transact(write)

    # -- admins ---------------------------------------------------------------------------------

    async def _admin_move(self, payout_id: str, admin: Principal, action: str, key: str) -> Doc:
        claim = await self.idempotency.begin(f"payouts.{action}|{admin.sub}", key, {"payout_id": payout_id})
        if claim.stored is not None:
            return claim.stored.value
        try:
            doc = await self.store.payout(payout_id)
            if doc is None:
                raise DomainError("not_found", 404, "payout not found")
            try:
                to = rules.require(doc["status"], action)
            except rules.PayoutRefused as exc:
                raise DomainError(exc.code, 409, str(exc)) from exc
            if doc.get("hold_reason"):
                reason = str(doc["hold_reason"])
                raise DomainError(reason, 409, rules.HOLD_MESSAGES.get(reason, "the payout is held"))
            if action == "approve" and tranche_rules.blocks_approval(doc):
                message = "this tranche waits for its milestone to be released"
                raise DomainError(tranche_rules.MILESTONE_PENDING, 409, message)
            if action == "approve" and tranche_rules.waits_for_plan(
                doc, await self.store.payouts_of_campaign(doc["campaign_id"])
            ):
                message = "this match payout waits for the payout plan's last milestone to be released"
                raise DomainError(tranche_rules.MILESTONE_PENDING, 409, message)
            extra: dict[str, Any] = {f"{action}d_by" if action == "approve" else "retried_by": admin.sub}
            if action == "retry":
                extra.update(attempt=doc.get("attempt", 1) + 1, failure_reason=None, transfer_id=None)

            async def write(tx: Tx) -> Doc:
                moved = await self.store.move_payout(tx, payout_id, doc["status"], to, **extra)
                if moved is None:
                    raise DomainError("conflict", 409, "the payout changed meanwhile; reload it")
                tx.emit("payout.approved", payout_id, rules.event_data(moved))
                await claim.complete_in(tx, moved)
                return moved

            moved = await self.mongo.transact(write)
        except BaseException:
            await claim.release()
            raise
        return await self.transfer(moved) or moved

    async def approve(self, payout_id: str, admin: Principal, key: str) -> Doc:
        """An admin releases the money: transferred now if the holder can receive it, else as
        soon as their account is ready (account.updated)."""
        return await self._admin_move(payout_id, admin, "approve", key)

    async def retry(self, payout_id: str, admin: Principal, key: str) -> Doc:
        """A failed payout approved again: a new attempt, a new transfer."""
        return await self._admin_move(payout_id, admin, "retry", key)

    # -- the transfer ---------------------------------------------------------------------------

    async def transfer_approved_of(self, owner_id: str) -> None:
        async def read(tx: Tx) -> list[Doc]:
            return await self.store.approved_payouts_of(tx, owner_id)

        for payout in await self.mongo.transact(read):
            await self.transfer(payout)

    async def transfer(self, payout: Doc) -> Doc | None:
        """approved -> transferring, then ask Stripe. None when it is not this caller's to do
        (not approved, or the holder's account cannot receive money yet)."""
        if payout["status"] != rules.APPROVED:
            return None
        campaign = await self.store.campaign(payout["campaign_id"])
        if campaign is not None and campaign.get("status") == "canceled":
            return None  # the campaign.* handler fails it (_cancel_unpaid)
        if rules.hold_reason(await self.store.campaign(payout["campaign_id"])) is not None:
            return None  # a permit declared, or a dispute opened, after the approval: held
        account = await self.store.connected_account(payout["owner_id"])
        if account is None or account.get("status") != rules.READY:
            return None

        async def claim(tx: Tx) -> Doc | None:
            return await self.store.move_payout(
                tx, payout["_id"], rules.APPROVED, rules.TRANSFERRING,
                stripe_account_id=account["stripe_account_id"], transfer_asked_at=utcnow(),
            )  # fmt: skip

        claimed = await self.mongo.transact(claim)
        if claimed is None:
            return None
        return await self._ask_stripe(claimed)

    async def _ask_stripe(self, payout: Doc) -> Doc:
        metadata = {
            "payout_id": payout["_id"],
            "campaign_id": payout["campaign_id"],
            "sequence": str(payout["sequence"]),
            "attempt": str(payout.get("attempt", 1)),
        }
        try:
            transfer = await self.stripe.create_transfer(
                payout["amount"], payout["currency"], payout["stripe_account_id"],
                payout["transfer_group"], metadata, rules.transfer_key(payout),
            )  # fmt: skip
        except stripe.InvalidRequestError as exc:
            # Stripe refused it (no transfers capability, insufficient balance): final for
            # this attempt; an admin sees why and may retry.
            reason = str((exc.error.code if exc.error else None) or exc.user_message or "transfer_refused")
            return await self._settle(payout["_id"], "transfer_failed", failure_reason=reason)
        except stripe.StripeError as exc:
            # Not answered: the sweeper asks again with the same idempotency key.
            log.warning("payout_transfer_unanswered", payout_id=payout["_id"], error=str(exc))
            return payout

        async def keep(tx: Tx) -> None:
            await self.store.set_payout(tx, payout["_id"], rules.TRANSFERRING, transfer_id=transfer["id"])

        await self.mongo.transact(keep)
        return {**payout, "transfer_id": transfer["id"]}

    async def _settle(self, payout_id: str, action: str, **fields: Any) -> Doc:
        """A Stripe outcome applied to the payout; a no-op when it no longer applies."""

        async def write(tx: Tx) -> Doc | None:
            doc = await self.store.payout(payout_id, tx)
            if doc is None:
                return None
            to = rules.next_state(doc["status"], action)
            if to is None:
                return doc
            moved = await self.store.move_payout(tx, payout_id, doc["status"], to, **fields)
            if moved is None:
                return doc
            transfer_id = moved.get("transfer_id")
            if to == rules.PAID and transfer_id:
                entry = domain.LedgerEntry(
                    f"payout:{transfer_id}", moved["campaign_id"], "", "payouts", "transfer",
                    -moved["amount"], moved["currency"], transfer_id,
                )  # fmt: skip
                await self.store.append_ledger(tx, [entry], utcnow())
            if doc["status"] == rules.PAID and to == rules.FAILED and transfer_id:
                entry = domain.LedgerEntry(
                    f"payout_reversal:{transfer_id}", moved["campaign_id"], "", "payouts",
                    "transfer_reversal", moved["amount"], moved["currency"], transfer_id,
                )  # fmt: skip
                await self.store.append_ledger(tx, [entry], utcnow())
            tx.emit(rules.EVENT_OF_STATE[to], payout_id, rules.event_data(moved))
            return moved

        result = await self.mongo.transact(write)
        if result is None:
            raise DomainError("not_found", 404, "payout not found")
        return result

    async def transfer_changed(self, obj: dict[str, Any]) -> bool:
        """Stripe's `transfer.created` / `transfer.updated` / `transfer.reversed`: re-fetch the
        transfer and apply what it says."""
        payout_id = (obj.get("metadata") or {}).get("payout_id")
        payout = await self.store.payout(payout_id) if isinstance(payout_id, str) else None
        if payout is None and isinstance(obj.get("id"), str):
            payout = await self.store.payout_with_transfer(obj["id"])
        if payout is None:
            return False
        transfer = await self.stripe.transfer(obj["id"])
        if (transfer.get("metadata") or {}).get("attempt", "1") != str(payout.get("attempt", 1)):
            return False  # an earlier attempt's transfer (reversed, then retried by an admin)
        action = rules.transfer_action(transfer)
        fields: dict[str, Any] = {"transfer_id": transfer["id"]}
        if action == "transfer_reversed":
            fields["failure_reason"] = "transfer_reversed"
        elif payout.get("transfer_id") not in (None, transfer["id"]):
            return False  # an earlier attempt's transfer: not this payout's current one
        await self._settle(payout["_id"], action, **fields)
        return True

    async def sweep(self) -> None:
        """Transfers asked of Stripe whose webhook did not come: ask again (same key) or
        re-fetch the transfer."""
        before = _now_ms() - int(self.settings.payout_sweep_after_s * 1000)
        for payout in await self.store.payouts_in(rules.TRANSFERRING, 50, updated_before_ms=before):
            try:
                if payout.get("transfer_id"):
                    await self.transfer_changed(
                        {"id": payout["transfer_id"], "metadata": {"payout_id": payout["_id"]}}
                    )
                else:
                    await self._ask_stripe(payout)
            except stripe.StripeError as exc:
                log.warning("payout_sweep_failed", payout_id=payout["_id"], error=str(exc))

    def jobs(self) -> dict[str, Callable[[], Awaitable[None]]]:
        return {"payout-checks": self.check_due, "payout-sweep": self.sweep}

    async def run_once(self) -> None:
        for job in self.jobs().values():
            await job()
