"""Gifts to a city's pool, the use cases: the pools projection (pool.updated), the pool checkout
offers, the job that charges a gift on the saved card, and a city due settled from the gifts its
pool holds (called by city_dues in its own transaction)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import stripe

from servicekit.auth import Principal
from servicekit.bus import PermanentError
from servicekit.errors import DomainError
from servicekit.logging import get_logger
from servicekit.mongo import Tx, utcnow
from servicekit.mongo import as_utc as when

from .. import domain as payments_domain
from ..domain import IntentState
from ..fallback_domain import GiftPool, offered_pool
from . import domain
from . import store as gifts

if TYPE_CHECKING:  # pledges -> campaigns -> fallback -> here: only the type
    from ..pledges import PledgeBook
    from ..store import Store

log = get_logger(__name__)


def pool_of(doc: dict[str, Any] | None) -> GiftPool | None:
    if doc is None:
        return None
    return GiftPool(
        doc["_id"], doc["municipality"], doc["name"], int(doc["year"]), doc["currency"],
        bool(doc.get("accepts_gifts", False)),
    )  # fmt: skip


# -- the projection (pool.updated, its handler's transaction) -----------------------------------


async def pool_updated(tx: Tx, data: dict[str, Any]) -> None:
    """Keep the newest word on each pool (version grows with every change)."""
    pool_id, version = data.get("pool_id"), data.get("version")
    if not isinstance(pool_id, str) or not isinstance(version, int):
        raise PermanentError("pool.updated without pool_id/version")
    before = await gifts.pool(tx.db, pool_id, tx)
    if before is not None and int(before.get("version", -1)) >= version:
        return
    doc = {"_id": pool_id, "version": version, "updated_at": utcnow(),
           **{k: data[k] for k in ("municipality", "name", "year", "currency", "accepts_gifts")}}  # fmt: skip
    await gifts.save_pool(tx, doc, exists=before is not None)


async def offered(db: Any, municipality: str | None, currency: str) -> GiftPool | None:
    """The pool a backer of a campaign of `municipality` may give to now, if any."""
    if not municipality:
        return None
    pools = [p for p in (pool_of(d) for d in await gifts.pools_of(db, municipality)) if p is not None]
    return offered_pool(pools, municipality, currency, utcnow().year)


async def fallback_options(store: Store, campaign_id: str) -> tuple[bool, GiftPool | None]:
    """Whether a campaign's backers choose a fallback at all (all-or-nothing only) and the
    city pool they may give to; 404 for an unknown campaign."""
    campaign = await store.campaign(campaign_id)
    if campaign is None:
        raise DomainError("campaign_not_found", 404, "no such campaign")
    if campaign.get("funding_model") != "all_or_nothing":
        return False, None
    return True, await offered(store.db, campaign.get("municipality"), str(campaign.get("currency", "")))


async def pool(tx: Tx, pool_id: str) -> GiftPool | None:
    return pool_of(await gifts.pool(tx.db, pool_id, tx))


async def write_gift(tx: Tx, doc: dict[str, Any]) -> None:
    """The gift the outcome's transaction decided (once: its id derives from the pledge)."""
    if await gifts.gift(tx.db, doc["_id"], tx) is None:
        await gifts.insert_gift(tx, doc)


# -- a city due settled from what its pool holds (city_dues' transaction) -----------------------


async def settle_due(
    tx: Tx, pool_id: str | None, due_id: str, campaign_id: str, owed: int, currency: str
) -> int:
    """Take what the due can from the gifts its pool holds; returns the amount settled."""
    if not pool_id or owed <= 0:
        return 0
    held = await gifts.funds(tx.db, pool_id, tx)
    if held is None or held.get("currency") != currency:
        return 0
    part = domain.settled_part(int(held.get("held", 0)), owed)
    if part == 0:
        return 0
    entries = domain.settlement_entries(due_id, campaign_id, part, currency)
    if not await gifts.append_entries(tx, entries, pool_id, utcnow()):
        return 0  # settled before (the entries' ids derive from the due)
    await gifts.set_held(tx, pool_id, held, {"held": int(held["held"]) - part,
                                             "applied": int(held.get("applied", 0)) + part})  # fmt: skip
    return part


# -- charging the gifts ---------------------------------------------------------------------------


class PoolGifts:
    def __init__(self, book: PledgeBook) -> None:
        self.book = book
        self.settings = book.settings
        self.mongo = book.mongo
        self.db = book.mongo.db
        self.stripe = book.stripe

    def jobs(self) -> dict[str, Any]:
        """The periodic job, by name (app.py runs it with the charger's)."""
        return {"pool-gifts": self.charge_due}

    def _stuck(self, gift: dict[str, Any]) -> bool:
        claimed = when(gift.get("claimed_at"))
        return claimed is None or utcnow() - claimed > timedelta(seconds=self.settings.stuck_claim_after_s)

    async def charge_due(self) -> None:
        for gift in await gifts.gifts_in(self.db, [domain.DUE, domain.CHARGING], limit=200):
            if gift["status"] == domain.CHARGING and not self._stuck(gift):
                continue
            try:
                await self.charge(gift)
            except Exception:
                log.exception("pool_gift_crashed", gift_id=gift["_id"])

    async def _move(self, gift: dict[str, Any], from_status: str, fields: dict[str, Any]) -> bool:
        async def write(tx: Tx) -> bool:
            return await gifts.move_gift(tx, gift["_id"], from_status, {**fields, "updated_at": utcnow()})

        return await self.mongo.transact(write)

    async def charge(self, gift: dict[str, Any]) -> None:
        """Charge the saved card off-session, like the charger's charge of a succeeded campaign,
        with a key derived from the pledge: a worker dying mid-charge gets Stripe's first answer."""
        if not await self._move(gift, gift["status"], {"status": domain.CHARGING, "claimed_at": utcnow()}):
            return  # another worker has it
        key = f"pledge-{gift['pledge_id']}-pool-gift"
        # Not `pledge_id`: the webhooks would look for a pledge intent there; this one is the gift's.
        metadata = {"gift_of_pledge": gift["pledge_id"], "pool_id": gift["pool_id"],
                    "municipality": gift["municipality"], "backer_id": gift["backer_id"]}  # fmt: skip
        try:
            state = await self.stripe.charge_saved_card(
                int(gift["amount"]), gift["currency"], gift["customer_id"], gift["payment_method"],
                metadata, key, off_session=True,
            )  # fmt: skip
            if state.status == "requires_action":
                await self.stripe.cancel_payment_intent(state.id)
                state = IntentState(state.id, "canceled", "authentication_required")
        except stripe.StripeError as exc:
            log.warning("pool_gift_error", gift_id=gift["_id"], error=str(exc))
            await self._move(gift, domain.CHARGING, {"status": domain.DUE})
            return
        if state.status == "succeeded":
            await self.given(gift, state.id)
        elif payments_domain.payment_failed(state) or state.status == "requires_payment_method":
            await self.failed(gift, state)
        else:
            # Processing: left charging; once the claim is stale the same key returns its state.
            log.info("pool_gift_pending", gift_id=gift["_id"], intent_status=state.status)

    async def given(self, gift: dict[str, Any], payment_intent_id: str) -> None:
        """One transaction: the gift given, its ledger entry, the pool's gifts held and the event."""

        async def write(tx: Tx) -> None:
            fields = {"status": domain.GIVEN, "payment_intent_id": payment_intent_id, "given_at": utcnow(),
                      "updated_at": utcnow()}  # fmt: skip
            if not await gifts.move_gift(tx, gift["_id"], domain.CHARGING, fields):
                return
            await gifts.append_entries(
                tx, [domain.gift_entry(gift, payment_intent_id)], gift["pool_id"], utcnow()
            )
            held = await gifts.funds(tx.db, gift["pool_id"], tx)
            await gifts.set_held(tx, gift["pool_id"], held, {
                "municipality": gift["municipality"], "currency": gift["currency"],
                "pool_name": gift.get("pool_name"),
                "held": int((held or {}).get("held", 0)) + int(gift["amount"]),
                "received": int((held or {}).get("received", 0)) + int(gift["amount"]),
            })  # fmt: skip
            await self.book.store.set_pledge(tx, gift["pledge_id"], gift_status="given")
            tx.emit("pool.gift_received", gift["_id"], domain.gift_event(gift, payment_intent_id))

        await self.mongo.transact(write)

    async def failed(self, gift: dict[str, Any], state: IntentState) -> None:
        """A declined card: no gift; the pledge stays released, as with a refund choice."""

        async def write(tx: Tx) -> None:
            fields = {"status": domain.FAILED, "failure_reason": state.error or state.status,
                      "payment_intent_id": state.id or None, "updated_at": utcnow()}  # fmt: skip
            if await gifts.move_gift(tx, gift["_id"], domain.CHARGING, fields):
                await self.book.store.set_pledge(tx, gift["pledge_id"], gift_status="failed")

        await self.mongo.transact(write)

    # -- reading ----------------------------------------------------------------------------------

    async def held_by(self, principal: Principal, municipality: str) -> list[dict[str, Any]]:
        """Each pool's gifts held for the city (its officials, admins)."""
        if not (principal.is_admin or principal.is_official_of(municipality)):
            raise DomainError(
                "forbidden", 403, f"only officials of {municipality} and admins see its pools' gifts"
            )
        return await gifts.funds_of(self.db, municipality)
