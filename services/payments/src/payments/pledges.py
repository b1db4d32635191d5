"""Pledges against Stripe: create (with the backer's Idempotency-Key), record what Stripe says
an intent's status is (browser confirm, webhook, sweeper all land here), retry after a failed
off-session charge, and record refunds.

Stripe calls happen outside transactions; each result is then recorded in one transaction
together with its ledger entries and events, through the rules in domain.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import stripe
from pymongo.errors import DuplicateKeyError

from servicekit.auth import Principal
from servicekit.errors import ApiError
from servicekit.logging import get_logger
from servicekit.mongo import Mongo, Tx, utcnow
from servicekit.mongo import as_utc as when

from . import domain
from .domain import IntentState
from .metrics import AMOUNT_PAID, PAYMENTS, PLEDGES
from .settings import Settings
from .store import Store, checked_now, pledge_event_data
from .stripe_api import StripeApi

log = get_logger(__name__)


def fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def stripe_unavailable(exc: stripe.StripeError) -> ApiError:
    return ApiError(
        502, "payment_provider_error", f"Stripe did not accept the request: {exc.user_message or exc}"
    )


class PledgeBook:
    def __init__(self, settings: Settings, mongo: Mongo, store: Store, stripe_api: StripeApi) -> None:
        self.settings = settings
        self.mongo = mongo
        self.store = store
        self.stripe = stripe_api
        # Serialises intent creation per pledge inside one process: localstripe ignores
        # idempotency keys, so two concurrent replays must not both create an intent.
        self._locks: dict[str, list[Any]] = {}  # pledge id -> [lock, holders + waiters]

    # -- creating -------------------------------------------------------------------------------

    async def create(
        self, principal: Principal, body: dict[str, Any], key: str
    ) -> tuple[dict[str, Any], bool]:
        """Returns (pledge, created_now). The same key and body return the same pledge."""
        idem_id = f"pledge|{principal.sub}|{key}"
        print_ = fingerprint(body)
        existing = await self.store.idempotent(idem_id)
        if existing is None:
            campaign = await self.store.campaign(body["campaign_id"])
            view = (
                domain.CampaignView(campaign["status"], campaign["currency"], campaign["funding_model"])
                if campaign
                else None
            )
            try:
                domain.check_pledge(
                    view,
                    body["currency"],
                    body["amount"],
                    self.settings.pledge_min_amount,
                    self.settings.pledge_max_amount,
                )
            except domain.PledgeRejected as exc:
                status = {"campaign_not_found": 404, "amount_out_of_range": 422}.get(exc.code, 409)
                raise ApiError(status, exc.code, str(exc)) from exc
            assert campaign is not None
            if body.get("tip", 0) > self.settings.tip_max_amount:
                raise ApiError(422, "tip_out_of_range", f"tip must be at most {self.settings.tip_max_amount}")
            now = utcnow()
            pledge = {
                "_id": f"plg_{uuid.uuid4().hex}",
                "campaign_id": body["campaign_id"],
                "backer_id": principal.sub,
                "amount": body["amount"],
                "tip": body.get("tip", 0),
                "currency": body["currency"],
                "anonymous": bool(body.get("anonymous", False)),
                "funding_model": campaign["funding_model"],
                "status": domain.CREATING,
                "intents": [],
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
                **checked_now(),
            }
            if body.get("public_name"):
                pledge["public_name"] = body["public_name"]

            async def write(tx: Tx) -> None:
                await tx.db.idempotency.insert_one(
                    {"_id": idem_id, "pledge_id": pledge["_id"], "fingerprint": print_, "created_at": now},
                    session=tx.session,
                )
                await tx.db.pledges.insert_one(pledge, session=tx.session)

            try:
                await self.mongo.transact(write)
                PLEDGES.labels(pledge["funding_model"]).inc()
                return await self.ensure_intent(pledge["_id"]), True
            except DuplicateKeyError:
                existing = await self.store.idempotent(idem_id)  # a concurrent replay won
                if existing is None:
                    raise
        if existing["fingerprint"] != print_:
            raise ApiError(
                409, "idempotency_key_reused", "this Idempotency-Key was used for a different request"
            )
        return await self.ensure_intent(existing["pledge_id"]), False

    async def ensure_customer(self, owner_key: str, metadata: dict[str, str], **extra: Any) -> str:
        """One Stripe customer per backer (or per city): looked up, else created once."""
        doc = await self.store.customer(owner_key)
        if doc is not None:
            return doc["stripe_customer_id"]
        customer_id = await self.stripe.create_customer(metadata, f"customer-{owner_key}", **extra)

        async def write(tx: Tx) -> None:
            await tx.db.customers.insert_one(
                {"_id": owner_key, "stripe_customer_id": customer_id, "created_at": utcnow()},
                session=tx.session,
            )

        try:
            await self.mongo.transact(write)
            return customer_id
        except DuplicateKeyError:
            doc = await self.store.customer(owner_key)
            assert doc is not None
            return doc["stripe_customer_id"]

    @contextlib.asynccontextmanager
    async def _pledge_lock(self, pledge_id: str) -> AsyncIterator[None]:
        entry = self._locks.setdefault(pledge_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._locks.pop(pledge_id, None)

    async def ensure_intent(self, pledge_id: str) -> dict[str, Any]:
        async with self._pledge_lock(pledge_id):
            pledge = await self.store.pledge(pledge_id)
            assert pledge is not None
            if pledge["status"] != domain.CREATING or pledge.get("intent_id"):
                return pledge
            return await self._create_intent(pledge)

    @staticmethod
    def _metadata(pledge: dict[str, Any]) -> dict[str, str]:
        return {
            "pledge_id": pledge["_id"],
            "campaign_id": pledge["campaign_id"],
            "backer_id": pledge["backer_id"],
        }

    async def _create_intent(self, pledge: dict[str, Any]) -> dict[str, Any]:
        """Both funding models start by saving the card (see the README's checkout)."""
        try:
            customer = await self.ensure_customer(
                f"user:{pledge['backer_id']}", {"user_id": pledge["backer_id"]}
            )
            si = await self.stripe.create_setup_intent(
                customer, self._metadata(pledge), f"pledge-{pledge['_id']}-setup"
            )
        except stripe.StripeError as exc:
            log.warning("stripe_intent_failed", pledge_id=pledge["_id"], error=str(exc))
            raise stripe_unavailable(exc) from exc

        async def write(tx: Tx) -> dict[str, Any] | None:
            return await Store.move_pledge(
                tx,
                pledge["_id"],
                [domain.CREATING],
                domain.PENDING,
                customer_id=customer,
                intent_id=si.id,
                client_secret=si.client_secret,
                intent_kind="setup_intent",
                setup_intent_id=si.id,
                setup_intents=[si.id],
                setup_open=True,
            )

        updated = await self.mongo.transact(write)
        if updated is None:  # the campaign ended meanwhile, or another replica created one
            updated = await self.store.pledge(pledge["_id"])
        assert updated is not None
        return updated

    # -- recording Stripe's truth ---------------------------------------------------------------

    async def refresh(self, pledge: dict[str, Any]) -> dict[str, Any]:
        """Re-fetch the pledge's current intent from Stripe and record its real status; a card
        just saved for a payment is charged now (on-session)."""
        try:
            if setup_open(pledge) and pledge.get("setup_intent_id"):
                state, payment_method = await self.stripe.setup_intent(pledge["setup_intent_id"])
                await self.apply_setup_intent(pledge["_id"], state, payment_method)
            elif pledge.get("payment_intent_id"):
                await self.record_payment_intent(
                    pledge["_id"], await self.stripe.payment_intent(pledge["payment_intent_id"])
                )
            else:
                await self.touch(pledge["_id"])
        except stripe.StripeError as exc:
            raise stripe_unavailable(exc) from exc
        fresh = await self.store.pledge(pledge["_id"])
        assert fresh is not None
        return fresh

    async def apply_setup_intent(
        self, pledge_id: str, intent: IntentState, payment_method: str | None
    ) -> None:
        """A SetupIntent's real status (browser confirm, webhook, sweeper): authorise, fail, or
        charge the saved card."""
        if await self.record_setup_intent(pledge_id, intent, payment_method) == "charge":
            await self.charge_saved_card(pledge_id)

    async def charge_saved_card(self, pledge_id: str) -> None:
        """Pay with the card the backer just saved, while they are on the page. The Stripe
        idempotency key names the SetupIntent, so confirming again (or a webhook racing the
        browser) returns the same PaymentIntent instead of charging twice."""
        async with self._pledge_lock(pledge_id):
            pledge = await self.store.pledge(pledge_id)
            assert pledge is not None
            now = utcnow()
            if (
                not setup_open(pledge)
                or not pledge.get("payment_method")
                or pledge["status"]
                not in (domain.CREATING, domain.PENDING, domain.FAILED, domain.CHARGE_FAILED)
                or domain.grace_expired(pledge["status"], when(pledge.get("retry_until")), now)
            ):
                return
            key = f"pledge-{pledge_id}-pay-{pledge['setup_intent_id']}"
            state = await self.stripe.charge_saved_card(
                pledge["amount"] + pledge.get("tip", 0),
                pledge["currency"],
                pledge["customer_id"],
                pledge["payment_method"],
                self._metadata(pledge),
                key,
                off_session=False,
            )
            if not state.id:
                state = IntentState(domain.unnamed_intent_id(key), state.status, state.error)
            await self.record_payment_intent(pledge_id, state, new_intent=True)

    async def touch(self, pledge_id: str) -> None:
        async def write(tx: Tx) -> None:
            await tx.db.pledges.update_one({"_id": pledge_id}, {"$set": checked_now()}, session=tx.session)

        await self.mongo.transact(write)

    async def record_payment_intent(
        self, pledge_id: str, intent: IntentState, new_intent: bool = False
    ) -> str | None:
        """Apply a PaymentIntent's status to its pledge; returns the new status if it changed.
        `new_intent`: the intent was just created by us (an off-session charge) and becomes the
        pledge's current one in the same transaction."""
        paid: list[Any] = []  # (currency, total) once committed, for the business counter

        async def write(tx: Tx) -> str | None:
            pledge = await tx.db.pledges.find_one({"_id": pledge_id}, session=tx.session)
            if pledge is None:
                return None
            intents = pledge.get("intents", [])
            if new_intent:
                # Our own new intent becomes the pledge's current one; the saved card is used.
                current: dict[str, Any] = {
                    "setup_open": False,
                    "intent_kind": "payment_intent",
                    "client_secret": intent.client_secret,
                }
                if not domain.is_unnamed(intent.id) and intent.id not in intents:
                    intents = [*intents, intent.id]
                    current.update(intents=intents, payment_intent_id=intent.id, intent_id=intent.id)
                await tx.db.pledges.update_one({"_id": pledge_id}, {"$set": current}, session=tx.session)
                pledge = {**pledge, **current}
            known = intent.id in intents or domain.is_unnamed(intent.id)
            nxt = (
                domain.status_after_payment_intent(
                    pledge["status"], pledge["funding_model"], intent, pledge.get("last_failed_intent")
                )
                if known
                else None
            )
            now = utcnow()
            if nxt is None:
                await tx.db.pledges.update_one(
                    {"_id": pledge_id}, {"$set": checked_now()}, session=tx.session
                )
                return None
            if nxt == domain.SUCCEEDED:
                payment_id = f"pay_{pledge_id.removeprefix('plg_')}"
                moved = await Store.move_pledge(
                    tx,
                    pledge_id,
                    [pledge["status"]],
                    nxt,
                    payment_intent_id=intent.id,
                    payment_id=payment_id,
                    paid_at=now,
                )
                if moved is None:
                    return None
                paid[:] = [pledge["currency"], pledge["amount"] + pledge.get("tip", 0)]
                await Store.append_ledger(
                    tx,
                    domain.charge_entries(
                        pledge["campaign_id"],
                        pledge_id,
                        pledge["amount"],
                        pledge.get("tip", 0),
                        pledge["currency"],
                        intent.id,
                    ),
                    now,
                )
                tx.emit(
                    "payment.succeeded",
                    pledge_id,
                    pledge_event_data(pledge, payment_id=payment_id, payment_intent_id=intent.id),
                )
                await self._apply_ended_campaign(tx, moved)
                return nxt
            if nxt == domain.REQUIRES_ACTION:
                moved = await Store.move_pledge(tx, pledge_id, [pledge["status"]], nxt)
                return nxt if moved is not None else None
            until: datetime | None = None
            if nxt == domain.CHARGE_FAILED:
                # The grace period runs from the first failure; a failed retry does not extend it.
                until = when(pledge.get("retry_until")) or domain.retry_until(
                    now, self.settings.charge_grace_period_s
                )
            moved = await Store.move_pledge(
                tx,
                pledge_id,
                [pledge["status"]],
                nxt,
                last_failed_intent=intent.id,
                failure_reason=intent.error or intent.status,
                failed_at=now,
                **({"retry_until": until} if until else {}),
            )
            if moved is None:
                return None
            tx.emit(
                "payment.failed",
                pledge_id,
                pledge_event_data(
                    pledge,
                    payment_id=f"pay_{pledge_id.removeprefix('plg_')}",
                    payment_intent_id=None if domain.is_unnamed(intent.id) else intent.id,
                    reason=intent.error or intent.status,
                    retry_until=until.isoformat() if until else None,
                ),
            )
            return nxt

        status = await self.mongo.transact(write)
        if status is not None:
            PAYMENTS.labels(status).inc()
            if status == domain.SUCCEEDED and paid:
                AMOUNT_PAID.labels(paid[0]).inc(paid[1])
            log.info("pledge_payment_recorded", pledge_id=pledge_id, status=status, intent=intent.id)
        return status

    @staticmethod
    async def _apply_ended_campaign(tx: Tx, pledge: dict[str, Any]) -> None:
        """A card saved or a payment made after the campaign's outcome was handled (the backer
        was slow, or the event overtook Stripe): the outcome applies to this pledge too."""
        campaign = await tx.db.campaigns.find_one({"_id": pledge["campaign_id"]}, session=tx.session)
        outcome = campaign.get("status") if campaign else None
        if outcome not in ("succeeded", "failed", "canceled"):
            return
        nxt = domain.status_after_campaign_outcome(outcome, pledge["funding_model"], pledge["status"])
        if nxt is None:
            return
        reason = f"campaign {outcome}"
        if await Store.move_pledge(tx, pledge["_id"], [pledge["status"]], nxt, refund_reason=reason) is None:
            return
        if nxt == domain.RELEASED:
            tx.emit("pledge.released", pledge["_id"], pledge_event_data(pledge, reason=reason))

    async def record_setup_intent(
        self, pledge_id: str, intent: IntentState, payment_method: str | None
    ) -> domain.SetupStep | None:
        """Apply an open SetupIntent's status. Returns "charge" when the saved card is to be
        charged now (outside this transaction: it is a Stripe call)."""

        async def write(tx: Tx) -> domain.SetupStep | None:
            pledge = await tx.db.pledges.find_one({"_id": pledge_id}, session=tx.session)
            if pledge is None or pledge.get("setup_intent_id") != intent.id or not setup_open(pledge):
                return None
            step = domain.after_saved_card(pledge["status"], pledge["funding_model"], intent)
            if step == "authorize" and not payment_method:
                step = None
            if step is None:
                await tx.db.pledges.update_one(
                    {"_id": pledge_id}, {"$set": checked_now()}, session=tx.session
                )
                return None
            if step == "fail":
                await Store.move_pledge(
                    tx,
                    pledge_id,
                    [pledge["status"]],
                    domain.status_after_failed_setup(pledge["status"]),
                    setup_open=False,
                    failure_reason=intent.error or f"setup_intent_{intent.status}",
                )
                return step
            if step == "charge":
                await tx.db.pledges.update_one(
                    {"_id": pledge_id}, {"$set": {"payment_method": payment_method}}, session=tx.session
                )
                return step
            moved = await Store.move_pledge(
                tx,
                pledge_id,
                [pledge["status"]],
                domain.AUTHORIZED,
                payment_method=payment_method,
                authorized_at=utcnow(),
                setup_open=False,
            )
            if moved is None:
                return None
            tx.emit("pledge.authorized", pledge_id, pledge_event_data(pledge))
            await self._apply_ended_campaign(tx, moved)
            return step

        return await self.mongo.transact(write)

    async def record_refund(self, pledge_id: str, refund_id: str, refund_amount: int, final: bool) -> bool:
        """Journal one refund (once per refund id) and emit payment.refunded."""

        async def write(tx: Tx) -> bool:
            pledge = await tx.db.pledges.find_one({"_id": pledge_id}, session=tx.session)
            if pledge is None or pledge["status"] not in domain.PAID:
                return False
            entries = await tx.db.ledger.find(
                {"pledge_id": pledge_id, "account": "project"}, session=tx.session
            ).to_list()
            refundable = sum(e["amount"] for e in entries)
            new = await Store.append_ledger(
                tx,
                domain.refund_entries(
                    pledge["campaign_id"], pledge_id, refund_id, refund_amount, refundable, pledge["currency"]
                ),
                utcnow(),
            )
            if final:
                await Store.move_pledge(
                    tx,
                    pledge_id,
                    [domain.SUCCEEDED, domain.REFUND_DUE, domain.REFUNDING],
                    domain.REFUNDED,
                    refunded_at=utcnow(),
                )
            if not new:
                return False
            project = -sum(e.amount for e in new if e.account == "project")
            platform = -sum(e.amount for e in new if e.account == "platform")
            data = pledge_event_data(
                pledge,
                payment_id=pledge.get("payment_id"),
                payment_intent_id=pledge.get("payment_intent_id"),
                refund_id=refund_id,
                reason=pledge.get("refund_reason"),
            )
            data.update({"amount": project, "tip": platform})
            tx.emit("payment.refunded", pledge_id, data)
            return True

        return await self.mongo.transact(write)

    async def record_refunds_of(self, pledge: dict[str, Any]) -> None:
        """Re-fetch every refund of the pledge's payment (dashboard refunds reach us this way)."""
        intent_id = pledge.get("payment_intent_id")
        if not intent_id or pledge["status"] not in domain.PAID:
            return
        refunds = await self.stripe.refunds_of(intent_id)
        total = 0
        for refund_id, amount in refunds:
            total += amount
            final = total >= pledge["amount"] + pledge.get("tip", 0)
            await self.record_refund(pledge["_id"], refund_id, amount, final)

    # -- retry after a failed off-session charge -------------------------------------------------

    async def retry(self, pledge: dict[str, Any], key: str) -> dict[str, Any]:
        """Another card: a new SetupIntent for the browser (then POST .../confirm charges it, or
        for an all-or-nothing checkout saves it)."""
        idem_id = f"retry|{pledge['_id']}|{key}"
        if await self.store.idempotent(idem_id) is not None:
            return pledge
        now = utcnow()
        until = when(pledge.get("retry_until"))
        campaign = await self.store.campaign(pledge["campaign_id"])
        if not domain.retry_allowed(
            pledge["status"], campaign.get("status") if campaign else None, until, now
        ):
            raise ApiError(
                409,
                "not_retryable",
                "only a checkout of a live campaign, or a failed charge still in its grace period, can be retried",
            )
        extra: dict[str, Any] = {}
        attempt = int(pledge.get("attempts", 0)) + 1
        try:
            if pledge["status"] == domain.REQUIRES_ACTION and pledge.get("payment_intent_id"):
                # The abandoned 3-D Secure payment must not be completed later behind our back.
                await self.stripe.cancel_payment_intent(pledge["payment_intent_id"])
                extra["last_failed_intent"] = pledge["payment_intent_id"]
            si = await self.stripe.create_setup_intent(
                pledge["customer_id"], self._metadata(pledge), f"pledge-{pledge['_id']}-setup-{attempt}"
            )
        except stripe.StripeError as exc:
            raise stripe_unavailable(exc) from exc

        async def write(tx: Tx) -> dict[str, Any] | None:
            await tx.db.idempotency.insert_one(
                {"_id": idem_id, "pledge_id": pledge["_id"], "fingerprint": "", "created_at": now},
                session=tx.session,
            )
            return await Store.move_pledge(
                tx,
                pledge["_id"],
                [pledge["status"]],
                domain.status_for_retry(pledge["status"], until),
                attempts=attempt,
                intent_kind="setup_intent",
                intent_id=si.id,
                setup_intent_id=si.id,
                client_secret=si.client_secret,
                setup_intents=[*pledge.get("setup_intents", []), si.id],
                setup_open=True,
                **extra,
            )

        try:
            updated = await self.mongo.transact(write)
        except DuplicateKeyError:
            updated = None
        fresh = updated or await self.store.pledge(pledge["_id"])
        assert fresh is not None
        return fresh


def setup_open(pledge: dict[str, Any]) -> bool:
    """Whether the pledge's SetupIntent still waits for a card. Pledges written before the flag
    existed had an open one exactly while pending with a setup intent."""
    if "setup_open" in pledge:
        return bool(pledge["setup_open"])
    return pledge.get("intent_kind") == "setup_intent" and pledge["status"] in (
        domain.CREATING,
        domain.PENDING,
    )
