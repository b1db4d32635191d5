"""Backers' pledges, the use cases: create (Idempotency-Key), confirm after Stripe.js, try
another card, read one's own; and recording what Stripe says an intent's status is (the
browser's confirm, webhooks, the sweeper and the charger all land in `apply_setup_intent` /
`record_payment_intent`). The checkout itself is described in the README.

Stripe calls happen outside transactions; each result is then recorded in one transaction
together with its ledger entries and events, through the rules in domain.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import stripe
from pymongo.errors import DuplicateKeyError

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.idempotency import Idempotency
from servicekit.logging import get_logger
from servicekit.mongo import Mongo, Tx, epoch_ms, utcnow
from servicekit.mongo import as_utc as when

from . import domain, fallback, tally_domain
from . import payouts_domain as payout_rules
from .campaigns import arrived_late, follow_ended_campaign, turn_away_late
from .domain import IntentState
from .metrics import AMOUNT_PAID, PAYMENTS, PLEDGES
from .receipts_store import ReceiptStore
from .settings import Settings
from .store import Doc, Store
from .stripe_api import StripeApi

log = get_logger(__name__)


def stripe_unavailable(exc: stripe.StripeError) -> DomainError:
    return DomainError(
        "payment_provider_error", 502, f"Stripe did not accept the request: {exc.user_message or exc}"
    )


def setup_open(pledge: Doc) -> bool:
    """Whether the pledge's SetupIntent still waits for a card. Pledges written before the flag
    existed had an open one exactly while pending with a setup intent."""
    if "setup_open" in pledge:
        return bool(pledge["setup_open"])
    return pledge.get("intent_kind") == "setup_intent" and pledge["status"] in (
        domain.CREATING,
        domain.PENDING,
    )


class PledgeBook:
    def __init__(
        self, settings: Settings, mongo: Mongo, store: Store, stripe_api: StripeApi, idempotency: Idempotency
    ) -> None:
        self.settings = settings
        self.mongo = mongo
        self.store = store
        self.stripe = stripe_api
        self.idempotency = idempotency
        # Serialises charging a saved card per pledge inside one process: the browser's confirm
        # and a webhook may race, and localstripe ignores Stripe idempotency keys.
        self._locks: dict[str, list[Any]] = {}  # pledge id -> [lock, holders + waiters]

    # -- reads ----------------------------------------------------------------------------------

    async def own(self, pledge_id: str, principal: Principal) -> Doc:
        doc = await self.store.pledge(pledge_id)
        # Someone else's pledge answers like a missing one: ids are not an oracle.
        if doc is None or (doc["backer_id"] != principal.sub and not principal.is_admin):
            raise DomainError("not_found", 404, "pledge not found")
        return doc

    async def of_backer(self, principal: Principal, limit: int, offset: int) -> list[Doc]:
        return await self.store.pledges_of_backer(principal.sub, limit, offset)

    # -- checkout -------------------------------------------------------------------------------

    async def create(self, principal: Principal, body: dict[str, Any], key: str) -> Doc:
        """A pledge with its SetupIntent; the same key and body answer the first answer again."""
        limit = self.settings.unverified_pledge_max_amount
        if not principal.email_verified and int(body["amount"]) > limit:
            raise DomainError(
                "email_not_verified",
                403,
                f"verify your email address to pledge more than {limit} (minor units)",
            )
        claim = await self.idempotency.begin(f"pledges.create|{principal.sub}", key, body)
        if claim.stored is not None:
            return claim.stored.value
        try:
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
                raise DomainError(exc.code, status, str(exc)) from exc
            assert campaign is not None
            # Still live while campaigns waits for the tally, but its deadline passed.
            if tally_domain.closed_to_pledges(campaign, epoch_ms()):
                raise DomainError(
                    "campaign_not_live", 409, "the campaign's deadline passed: it takes no new pledge"
                )
            if body.get("tip", 0) > self.settings.tip_max_amount:
                raise DomainError(
                    "tip_out_of_range", 422, f"tip must be at most {self.settings.tip_max_amount}"
                )
            choice = await fallback.checked_choice(self.store, campaign, body, utcnow())
            pledge_id = domain.pledge_id_for(principal.sub, key)
            metadata = {
                "pledge_id": pledge_id,
                "campaign_id": body["campaign_id"],
                "backer_id": principal.sub,
            }
            try:
                customer = await self.ensure_customer(f"user:{principal.sub}", {"user_id": principal.sub})
                si = await self.stripe.create_setup_intent(customer, metadata, f"pledge-{pledge_id}-setup")
            except stripe.StripeError as exc:
                log.warning("stripe_intent_failed", pledge_id=pledge_id, error=str(exc))
                raise stripe_unavailable(exc) from exc
            pledge = domain.new_pledge(
                pledge_id,
                principal.sub,
                body,
                campaign["funding_model"],
                customer,
                si.id,
                si.client_secret or "",
                utcnow(),
            )
            pledge["fallback"] = choice

            async def write(tx: Tx) -> Doc:
                existing = await self.store.pledge(pledge_id, tx)
                if existing is None:  # else a holder whose lease ran out wrote it meanwhile
                    await self.store.insert_pledge(tx, pledge)
                answer = existing or pledge
                await claim.complete_in(tx, answer)
                return answer

            pledge = await self.mongo.transact(write)
        except BaseException:
            await claim.release()  # nothing was written: the client may retry with the same key
            raise
        PLEDGES.labels(pledge["funding_model"]).inc()
        return pledge

    async def confirm(self, pledge_id: str, principal: Principal) -> Doc:
        """After Stripe.js saved the card (or completed 3-D Secure)."""
        return await self.refresh(await self.own(pledge_id, principal))

    async def retry(self, pledge_id: str, principal: Principal, key: str) -> Doc:
        """Another card: a new SetupIntent for the browser (then `confirm` charges it, or saves it
        for an all-or-nothing checkout)."""
        pledge = await self.own(pledge_id, principal)
        if pledge["backer_id"] != principal.sub:
            raise DomainError("forbidden", 403, "only the backer can retry their payment")
        claim = await self.idempotency.begin(f"pledges.retry|{principal.sub}", key, {"pledge_id": pledge_id})
        if claim.stored is not None:
            return claim.stored.value
        try:
            fresh = await self._new_setup_intent(pledge)

            async def write(tx: Tx) -> Doc | None:
                moved = await self.store.move_pledge(tx, pledge_id, [pledge["status"]], **fresh)
                if moved is not None:
                    await claim.complete_in(tx, moved)
                return moved

            updated = await self.mongo.transact(write)
            if updated is None:
                raise DomainError("conflict", 409, "the pledge changed meanwhile; try again")
        except BaseException:
            await claim.release()
            raise
        return updated

    async def _new_setup_intent(self, pledge: Doc) -> dict[str, Any]:
        """The Stripe part of a retry; returns the pledge's move (`to_status` and fields)."""
        now = utcnow()
        until = when(pledge.get("retry_until"))
        campaign = await self.store.campaign(pledge["campaign_id"])
        if not domain.retry_allowed(
            pledge["status"], campaign.get("status") if campaign else None, until, now
        ):
            raise DomainError(
                "not_retryable",
                409,
                "only a checkout of a live campaign, or a failed charge still in its grace period, can be retried",
            )
        fields: dict[str, Any] = {}
        attempt = int(pledge.get("attempts", 0)) + 1
        try:
            if pledge["status"] == domain.REQUIRES_ACTION and pledge.get("payment_intent_id"):
                # The abandoned 3-D Secure payment must not be completed later behind our back.
                await self.stripe.cancel_payment_intent(pledge["payment_intent_id"])
                fields["last_failed_intent"] = pledge["payment_intent_id"]
            si = await self.stripe.create_setup_intent(
                pledge["customer_id"], _metadata(pledge), f"pledge-{pledge['_id']}-setup-{attempt}"
            )
        except stripe.StripeError as exc:
            raise stripe_unavailable(exc) from exc
        return {
            "to_status": domain.status_for_retry(pledge["status"], until),
            "attempts": attempt,
            "intent_kind": "setup_intent",
            "intent_id": si.id,
            "setup_intent_id": si.id,
            "client_secret": si.client_secret,
            "setup_intents": [*pledge.get("setup_intents", []), si.id],
            "setup_open": True,
            **fields,
        }

    async def ensure_customer(self, owner_key: str, metadata: dict[str, str], **extra: Any) -> str:
        """One Stripe customer per backer (or per city): looked up, else created once."""
        doc = await self.store.customer(owner_key)
        if doc is not None:
            return doc["stripe_customer_id"]
        customer_id = await self.stripe.create_customer(metadata, f"customer-{owner_key}", **extra)

        async def write(tx: Tx) -> None:
            await self.store.insert_customer(tx, owner_key, customer_id)

        try:
            await self.mongo.transact(write)
            return customer_id
        except DuplicateKeyError:
            doc = await self.store.customer(owner_key)
            assert doc is not None
            return doc["stripe_customer_id"]

    # -- recording Stripe's truth ---------------------------------------------------------------

    async def refresh(self, pledge: Doc) -> Doc:
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
                await self.mongo.transact(lambda tx: self.store.touch_pledge(tx, pledge["_id"]))
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

    async def charge_saved_card(self, pledge_id: str) -> None:
        """Pay with the card the backer just saved, while they are on the page. The Stripe
        idempotency key names the SetupIntent, so confirming again (or a webhook racing the
        browser) returns the same PaymentIntent instead of charging twice."""
        async with self._pledge_lock(pledge_id):
            pledge = await self.store.pledge(pledge_id)
            assert pledge is not None
            if (
                not setup_open(pledge)
                or not pledge.get("payment_method")
                or pledge["status"]
                not in (domain.CREATING, domain.PENDING, domain.FAILED, domain.CHARGE_FAILED)
                or domain.grace_expired(pledge["status"], when(pledge.get("retry_until")), utcnow())
            ):
                return
            key = f"pledge-{pledge_id}-pay-{pledge['setup_intent_id']}"
            state = await self.stripe.charge_saved_card(
                pledge["amount"] + pledge.get("tip", 0),
                pledge["currency"],
                pledge["customer_id"],
                pledge["payment_method"],
                _metadata(pledge),
                key,
                off_session=False,
            )
            if not state.id:
                state = IntentState(domain.unnamed_intent_id(key), state.status, state.error)
            await self.record_payment_intent(pledge_id, state, new_intent=True)

    async def record_setup_intent(
        self, pledge_id: str, intent: IntentState, payment_method: str | None
    ) -> domain.SetupStep | None:
        """Apply an open SetupIntent's status. Returns "charge" when the saved card is to be
        charged now (outside this transaction: it is a Stripe call)."""

        async def write(tx: Tx) -> domain.SetupStep | None:
            pledge = await self.store.pledge(pledge_id, tx)
            if pledge is None or pledge.get("setup_intent_id") != intent.id or not setup_open(pledge):
                return None
            step = domain.after_saved_card(pledge["status"], pledge["funding_model"], intent)
            if step == "authorize" and not payment_method:
                step = None
            if step is None:
                await self.store.touch_pledge(tx, pledge_id)
                return None
            if step == "fail":
                await self.store.move_pledge(
                    tx,
                    pledge_id,
                    [pledge["status"]],
                    domain.status_after_failed_setup(pledge["status"]),
                    setup_open=False,
                    failure_reason=intent.error or f"setup_intent_{intent.status}",
                )
                return step
            if step == "charge":
                await self.store.set_pledge(tx, pledge_id, payment_method=payment_method)
                return step
            moved = await self.store.move_pledge(
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
            tx.emit("pledge.authorized", pledge_id, domain.event_data(pledge))
            if await arrived_late(tx, self.store, moved):
                await turn_away_late(tx, self.store, moved)  # pledge.released: campaigns sees both
                return step
            await follow_ended_campaign(tx, self.store, moved)
            return step

        return await self.mongo.transact(write)

    async def record_payment_intent(
        self, pledge_id: str, intent: IntentState, new_intent: bool = False
    ) -> str | None:
        """Apply a PaymentIntent's status to its pledge; returns the new status if it changed.
        `new_intent`: the intent was just created by us (a charge of a saved card) and becomes
        the pledge's current one in the same transaction."""
        paid: list[Any] = []  # (currency, total) once committed, for the business counter

        async def write(tx: Tx) -> str | None:
            pledge = await self.store.pledge(pledge_id, tx)
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
                await self.store.set_pledge(tx, pledge_id, **current)
                pledge = {**pledge, **current}
            known = intent.id in intents or domain.is_unnamed(intent.id)
            nxt = (
                domain.status_after_payment_intent(
                    pledge["status"], pledge["funding_model"], intent, pledge.get("last_failed_intent")
                )
                if known
                else None
            )
            if nxt is None:
                await self.store.touch_pledge(tx, pledge_id)
                return None
            if nxt == domain.SUCCEEDED:
                moved = await self._record_paid(tx, pledge, intent)
                if moved is not None:
                    paid[:] = [pledge["currency"], pledge["amount"] + pledge.get("tip", 0)]
                return nxt if moved is not None else None
            if nxt == domain.REQUIRES_ACTION:
                moved = await self.store.move_pledge(tx, pledge_id, [pledge["status"]], nxt)
                return nxt if moved is not None else None
            return nxt if await self._record_failed(tx, pledge, intent, nxt) else None

        status = await self.mongo.transact(write)
        if status is not None:
            PAYMENTS.labels(status).inc()
            if status == domain.SUCCEEDED and paid:
                AMOUNT_PAID.labels(paid[0]).inc(paid[1])
            log.info("pledge_payment_recorded", pledge_id=pledge_id, status=status, intent=intent.id)
        return status

    async def _record_paid(self, tx: Tx, pledge: Doc, intent: IntentState) -> Doc | None:
        now = utcnow()
        payment_id = domain.payment_id_of(pledge["_id"])
        moved = await self.store.move_pledge(
            tx,
            pledge["_id"],
            [pledge["status"]],
            domain.SUCCEEDED,
            payment_intent_id=intent.id,
            payment_id=payment_id,
            paid_at=now,
        )
        if moved is None:
            return None
        entries = domain.charge_entries(
            pledge["campaign_id"],
            pledge["_id"],
            pledge["amount"],
            pledge.get("tip", 0),
            pledge["currency"],
            intent.id,
        )
        await self.store.append_ledger(tx, entries, now)
        late = await arrived_late(tx, self.store, moved)
        tx.emit(
            "payment.succeeded",
            pledge["_id"],
            domain.event_data(
                pledge, payment_id=payment_id, payment_intent_id=intent.id, after_deadline=late or None
            ),
        )
        if late:
            await turn_away_late(tx, self.store, moved)  # refunded: campaigns leaves it out of the tally
            return moved
        await follow_ended_campaign(tx, self.store, moved)
        return moved

    async def _record_failed(self, tx: Tx, pledge: Doc, intent: IntentState, nxt: str) -> bool:
        now = utcnow()
        until: datetime | None = None
        if nxt == domain.CHARGE_FAILED:
            # The grace period runs from the first failure; a failed retry does not extend it.
            until = when(pledge.get("retry_until")) or domain.retry_until(
                now, self.settings.charge_grace_period_s
            )
        moved = await self.store.move_pledge(
            tx,
            pledge["_id"],
            [pledge["status"]],
            nxt,
            last_failed_intent=intent.id,
            failure_reason=intent.error or intent.status,
            failed_at=now,
            **({"retry_until": until} if until else {}),
        )
        if moved is None:
            return False
        tx.emit(
            "payment.failed",
            pledge["_id"],
            domain.event_data(
                pledge,
                payment_id=domain.payment_id_of(pledge["_id"]),
                payment_intent_id=None if domain.is_unnamed(intent.id) else intent.id,
                reason=intent.error or intent.status,
                retry_until=until.isoformat() if until else None,
            ),
        )
        return True

    async def record_refund(self, pledge_id: str, refund_id: str, refund_amount: int, final: bool) -> bool:
        """Journal one refund (once per refund id) and emit payment.refunded."""

        async def write(tx: Tx) -> bool:
            pledge = await self.store.pledge(pledge_id, tx)
            if pledge is None or pledge["status"] not in domain.PAID:
                return False
            refundable = sum(e["amount"] for e in await self.store.project_entries_of(tx, pledge_id))
            # A refund seen again after a later one would split differently (new entry ids):
            # once any entry of it is journaled, it is.
            journaled = await self.store.entries_of_ref(tx, "refund", refund_id)
            new = (
                []
                if journaled
                else await self.store.append_ledger(
                    tx,
                    domain.refund_entries(
                        pledge["campaign_id"],
                        pledge_id,
                        refund_id,
                        refund_amount,
                        refundable,
                        pledge["currency"],
                    ),
                    utcnow(),
                )
            )
            if final:
                await self.store.move_pledge(
                    tx,
                    pledge_id,
                    [domain.SUCCEEDED, domain.REFUND_DUE, domain.REFUNDING],
                    domain.REFUNDED,
                    refunded_at=utcnow(),
                )
            if not new:
                return False
            # A gift given back is no longer deductible: its tax receipt, if any, is cancelled.
            await ReceiptStore(tx.db).void_receipt(tx, pledge_id, "refunded")
            data = domain.event_data(
                pledge,
                payment_id=pledge.get("payment_id"),
                payment_intent_id=pledge.get("payment_intent_id"),
                refund_id=refund_id,
                reason=pledge.get("refund_reason"),
            )
            data.update(
                amount=-sum(e.amount for e in new if e.account == "project"),
                tip=-sum(e.amount for e in new if e.account == "platform"),
            )
            tx.emit("payment.refunded", pledge_id, data)
            await _cut_pending_payouts(tx, self.store, pledge["campaign_id"])
            return True

        return await self.mongo.transact(write)

    async def record_refunds_of(self, pledge: Doc) -> None:
        """Re-fetch every refund of the pledge's payment (dashboard refunds reach us this way)."""
        intent_id = pledge.get("payment_intent_id")
        if not intent_id or pledge["status"] not in domain.PAID:
            return
        total = 0
        for refund_id, amount in await self.stripe.refunds_of(intent_id):
            total += amount
            final = total >= pledge["amount"] + pledge.get("tip", 0)
            await self.record_refund(pledge["_id"], refund_id, amount, final)


async def _cut_pending_payouts(tx: Tx, store: Store, campaign_id: str) -> None:
    """A refund of a campaign whose payouts were computed already, in the refund's own
    transaction whoever made it (an admin, the Stripe dashboard): its pending payouts give back
    what the project no longer holds (payouts_domain.refund_cuts), so the holder is not paid
    money returned to a backer. Before the payouts are computed, the end's payout counts it."""
    payouts = await store.payouts_of_campaign(campaign_id, tx)
    if not payouts:
        return
    entries = await store.ledger(campaign_id, tx)
    release = payout_rules.release(entries, payout_rules.ledger_fees(entries), payouts)
    for payout_id, cut in payout_rules.refund_cuts(release, payouts).items():
        await store.set_payout(tx, payout_id, payout_rules.PENDING, **cut, updated_at=utcnow())


def _metadata(pledge: Doc) -> dict[str, str]:
    return {
        "pledge_id": pledge["_id"],
        "campaign_id": pledge["campaign_id"],
        "backer_id": pledge["backer_id"],
    }
