"""A city's dues, the use cases: match.* events move them (promised -> due), the invoicing
worker bills a due on the city's Stripe customer and charges it, the invoice's webhook or an
admin's confirmation of a declared bank transfer makes it received. A due from a pool holding residents' gifts is settled from them first (pool_gifts/).
Every step writes its state and its ledger entry in one transaction; a step repeated (a redelivery, a retried request, a
webhook after the worker saw the payment) changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import stripe

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.logging import get_logger
from servicekit.mongo import Tx, utcnow

from .. import matches, payouts
from ..pledges import PledgeBook
from ..pool_gifts import usecases as pool_gifts
from ..store import Store
from . import domain
from . import store as dues
from .store import Doc

log = get_logger(__name__)


def _now_fields() -> Doc:
    now = utcnow()
    return {"updated_at": now, "updated_ms": int(now.timestamp() * 1000)}


def _base(d: dict[str, Any]) -> Doc:
    return {
        "_id": d["commitment_id"],
        "commitment_id": d["commitment_id"],
        "campaign_id": d["campaign_id"],
        "municipality": d["municipality"],
        "currency": d["currency"],
        "promised": int(d.get("max_amount") or 0),
        "amount": 0,
        "method": None,
        "invoice_id": None,
    }


async def _upsert(tx: Tx, d: dict[str, Any], status: str, fields: Doc) -> bool:
    """Move the due to `status` if that is forward (domain.forward); True when it moved."""
    doc = await dues.get(tx, tx.db, d["commitment_id"])
    if doc is None:
        await dues.insert(tx, {**_base(d), **fields, "status": status, **_now_fields()})
        return True
    if not domain.forward(doc["status"], status):
        return False
    return await dues.move(tx, doc["_id"], doc["status"], {**fields, "status": status, **_now_fields()})


# -- match.* events (the handler's transaction) ---------------------------------------------------


async def committed(tx: Tx, d: dict[str, Any]) -> None:
    await _upsert(tx, d, "promised", {"promised": int(d["max_amount"])})


async def canceled(tx: Tx, d: dict[str, Any]) -> None:
    """A commitment that gave nothing is withdrawn; one that gave something becomes due
    (match.due, which may come before or after this)."""
    if int(d.get("amount") or 0) == 0:
        await _upsert(tx, d, "canceled", {"reason": str(d.get("reason") or "")[:500]})


async def due(tx: Tx, d: dict[str, Any]) -> None:
    """The city owes `amount` for good: ledger `match_due`; first settled from the residents'
    gifts its pool holds (pool_gifts/), the rest billed on its Stripe customer if it has one (the
    invoicing worker), else paid by bank transfer."""
    amount = int(d["amount"])
    store = Store.of(tx)
    customer = await store.customer(f"municipality:{d['municipality']}")
    method = "invoice" if customer is not None else "bank_transfer"
    if not await _upsert(tx, d, "due", {"amount": amount, "method": method, "due_at": utcnow()}):
        return
    entry = domain.due_entry(d["commitment_id"], d["campaign_id"], amount, d["currency"])
    await store.append_ledger(tx, [entry], utcnow())
    settled = await pool_gifts.settle_due(
        tx, d.get("pool_id"), d["commitment_id"], d["campaign_id"], amount, d["currency"]
    )
    if settled:
        await dues.set_fields(
            tx, d["commitment_id"], {"settled_from_gifts": settled, "pool_id": d.get("pool_id")}
        )
        # Paid, from the gifts: released like a city's own payment (a campaign already ended
        # has its payout check due again).
        await payouts.match_received(tx, d["campaign_id"])
    if settled >= amount:
        # Nothing left to collect from the city: received, from what residents gave its pool.
        fields = {"status": "received", "method": "residents_gifts", "received_at": utcnow(),
                  "received_ref": "residents_gifts", **_now_fields()}  # fmt: skip
        await dues.move(tx, d["commitment_id"], "due", fields)
        return
    if method == "invoice":
        await dues.add_invoicing(tx, d["commitment_id"])


async def award_selected(tx: Tx, d: dict[str, Any]) -> None:
    """A call for projects' award (call.proposal_selected) is due like a match from the moment
    the proposal is selected: the call's budget already set the money aside (no pool here)."""
    campaign_id = d.get("campaign_id")
    if not isinstance(campaign_id, str) or int(d.get("award") or 0) <= 0:
        return  # nothing to collect (a jury's zero award, or a proposal without its campaign yet)
    data = {"commitment_id": f"award_{d['proposal_id']}", "campaign_id": campaign_id,
            "municipality": d["municipality"], "currency": d["currency"],
            "max_amount": int(d["award"]), "amount": int(d["award"])}  # fmt: skip
    await due(tx, data)
    await matches.awarded(tx, data["commitment_id"], campaign_id, data["amount"], data["currency"])


# -- collection -----------------------------------------------------------------------------------


class CityDues:
    def __init__(self, book: PledgeBook) -> None:
        self.book = book
        self.stripe = book.stripe
        self.mongo = book.mongo
        self.db = book.mongo.db
        self.idempotency = book.idempotency
        self.queue = dues.invoicing_queue(book.mongo)

    async def run(self, stop: asyncio.Event, poll_s: float) -> None:
        await self.queue.run(self.invoice, stop, poll_s=poll_s)

    async def invoice(self, item: Doc) -> None:
        """Bill one due on the city's customer and charge its default card (raises: retried).
        A declined card leaves the invoice open: the city may still pay by bank transfer."""
        doc = await dues.get(None, self.db, item["_id"])
        if doc is None or doc["status"] != "due":
            return
        invoice_id = doc.get("invoice_id")
        if invoice_id is None:
            customer = await self.book.store.customer(f"municipality:{doc['municipality']}")
            if customer is None:
                return
            invoice_id = await self.stripe.invoice_city_due(
                customer["stripe_customer_id"],
                domain.to_collect(doc),
                doc["currency"],
                f"Civicfund match funding, campaign {doc['campaign_id']}",
                {
                    "city_due_id": doc["_id"],
                    "municipality": doc["municipality"],
                    "campaign_id": doc["campaign_id"],
                },
                key=f"city-due-{doc['_id']}",
            )

            async def keep(tx: Tx) -> None:
                await dues.set_fields(tx, doc["_id"], {"invoice_id": invoice_id, **_now_fields()})

            await self.mongo.transact(keep)
        invoice = await self.stripe.pay_invoice(invoice_id)
        if invoice.get("status") == "paid":
            await self.received(doc["_id"], f"invoice:{invoice_id}", None)
        else:
            log.info(
                "city_due_invoice_open", due_id=doc["_id"], invoice=invoice_id, status=invoice.get("status")
            )

    async def invoice_changed(self, invoice_id: str, due_id: str) -> bool:
        """invoice.* webhooks: the invoice as Stripe has it now; paid -> received."""
        doc = await dues.get(None, self.db, due_id)
        if doc is None or doc.get("invoice_id") not in (None, invoice_id):
            return False
        invoice = await self.stripe.invoice(invoice_id)
        if invoice.get("status") == "paid" and (invoice.get("metadata") or {}).get("city_due_id") == due_id:
            await self.received(due_id, f"invoice:{invoice_id}", None)
        return True

    async def received(self, due_id: str, ref: str, by: str | None) -> Doc:
        async def write(tx: Tx) -> Doc:
            return await self._received_in(tx, due_id, ref, by)

        return await self.mongo.transact(write)

    async def _received_in(self, tx: Tx, due_id: str, ref: str, by: str | None, strict: bool = False) -> Doc:
        """Received (once). `strict`: an admin's new request on a due already received is a 409."""
        doc = await dues.get(tx, tx.db, due_id)
        if doc is None:
            raise DomainError("due_not_found", 404, "no such city due")
        if doc["status"] == "received" and not strict:
            return doc
        try:
            domain.check_confirm(doc["status"])
        except domain.DueRefused as exc:
            raise DomainError(exc.code, 409, str(exc)) from exc
        fields = {"status": "received", "received_at": utcnow(), "received_ref": ref, "confirmed_by": by,
                  **_now_fields()}  # fmt: skip
        if await dues.move(tx, due_id, doc["status"], fields):
            entry = domain.received_entry(
                due_id, doc["campaign_id"], domain.to_collect(doc), doc["currency"], ref
            )
            await Store.of(tx).append_ledger(tx, [entry], utcnow())
            await payouts.match_received(tx, doc["campaign_id"])
        return {**doc, **fields}

    # -- HTTP -------------------------------------------------------------------------------------

    async def _due_for(self, due_id: str) -> Doc:
        doc = await dues.get(None, self.db, due_id)
        if doc is None:
            raise DomainError("due_not_found", 404, "no such city due")
        return doc

    async def declare_transfer(self, principal: Principal, due_id: str, reference: str, key: str) -> Doc:
        """A manager of the city says the transfer left its bank (an admin confirms receipt)."""
        doc = await self._due_for(due_id)
        if not principal.is_official_of(doc["municipality"], "manager"):
            raise DomainError(
                "forbidden", 403, f"only a manager of {doc['municipality']} declares its transfers"
            )

        async def declare(tx: Tx) -> Doc:
            current = await dues.get(tx, tx.db, due_id) or doc
            try:
                domain.check_declare(current["status"])
            except domain.DueRefused as exc:
                raise DomainError(exc.code, 409, str(exc)) from exc
            fields = {"status": "transfer_declared", "method": "bank_transfer", "transfer_reference": reference,
                      "declared_by": principal.sub, "declared_at": utcnow(), **_now_fields()}  # fmt: skip
            await dues.move(tx, due_id, current["status"], fields)
            return {**current, **fields}

        return await self._once(
            f"city-due-declare|{principal.sub}", key, {"due": due_id, "ref": reference}, declare
        )

    async def confirm_transfer(self, principal: Principal, due_id: str, key: str) -> Doc:
        """An admin saw the money on the platform's bank account: received; an open invoice for
        the same due is voided so the city is not charged twice."""
        if not principal.is_admin:
            raise DomainError("forbidden", 403, "only admins confirm a transfer received")
        doc = await self._due_for(due_id)
        if doc["status"] == "due":
            raise DomainError(
                "transfer_not_declared", 409, "the city has not declared a transfer for this due"
            )

        async def confirm(tx: Tx) -> Doc:
            ref = f"transfer:{doc.get('transfer_reference') or ''}"
            return await self._received_in(tx, due_id, ref, principal.sub, strict=True)

        out = await self._once(f"city-due-confirm|{principal.sub}", key, {"due": due_id}, confirm)
        if out.get("invoice_id"):
            try:
                await self.stripe.void_invoice_if_open(str(out["invoice_id"]))
            except stripe.StripeError as exc:
                log.warning("city_due_invoice_not_voided", due_id=due_id, error=str(exc))
        return out

    async def _once(self, scope: str, key: str, request: Any, action: Any) -> Doc:
        async def work(tx: Tx) -> Doc:
            result = await self.idempotency.run(
                tx, scope=scope, key=key, request=request, action=lambda: action(tx), encode=_encode
            )
            return result if isinstance(result, dict) else result.value

        return await self.mongo.transact(work)

    async def of_municipality(self, principal: Principal, slug: str) -> list[Doc]:
        if not (principal.is_admin or principal.is_official_of(slug)):
            raise DomainError("forbidden", 403, f"only officials of {slug} and admins see its dues")
        return await dues.of_municipality(self.db, slug)

    async def declared(self, principal: Principal, limit: int) -> list[Doc]:
        if not principal.is_admin:
            raise DomainError("forbidden", 403, "only admins list the transfers to confirm")
        return await dues.with_status(self.db, "transfer_declared", limit)

    async def of_campaign(self, campaign_id: str) -> list[Doc]:
        return await dues.of_campaign(self.db, campaign_id)

    async def campaign_titles(self, docs: list[Doc]) -> dict[str, str]:
        out: dict[str, str] = {}
        for cid in {d["campaign_id"] for d in docs}:
            campaign = await self.book.store.campaign(cid)
            if campaign is not None and campaign.get("title"):
                out[cid] = str(campaign["title"])
        return out


def _encode(doc: Doc) -> Doc:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in doc.items()}
