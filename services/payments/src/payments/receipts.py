"""Donation receipts: an admin records a holder's tax status; a backer asks for the receipt of a
paid pledge (giving the name and address it must carry) and downloads it, and the year's
summary. The rules are in receipts_domain.py; the PDF in receipt_pdf.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.mongo import Tx, as_utc, utcnow

from . import receipts_domain as rules
from .pledges import PledgeBook
from .receipts_store import Doc, ReceiptStore


@dataclass(frozen=True)
class HolderStatus:
    user_id: str
    eligible: bool
    legal_name: str
    registration: str
    address: str
    object: str
    legal_basis: str


def _refused(exc: rules.ReceiptRefused) -> DomainError:
    return DomainError(exc.code, exc.status, str(exc))


def _instants(doc: Doc) -> Doc:
    """nx-27017 reads a stored datetime back as text: the PDF and the answers want instants."""
    return {**doc, "paid_at": as_utc(doc["paid_at"]), "issued_at": as_utc(doc["issued_at"])}


class Receipts:
    def __init__(self, book: PledgeBook) -> None:
        self.book = book
        self.pledges = book.store
        self.store = ReceiptStore(book.store.db)

    # -- holders (admins) --------------------------------------------------------------------

    async def set_holder(self, principal: Principal, status: HolderStatus) -> Doc:
        doc = {
            "_id": status.user_id, "eligible": status.eligible, "legal_name": status.legal_name,
            "registration": status.registration, "address": status.address, "object": status.object,
            "legal_basis": status.legal_basis or rules.DEFAULT_LEGAL_BASIS,
            "recorded_by": principal.sub, "recorded_at": utcnow(),
        }  # fmt: skip

        async def work(tx: Tx) -> None:
            await self.store.put_holder(tx, doc)

        await self.book.mongo.transact(work)
        return doc

    async def holder(self, principal: Principal, user_id: str) -> Doc:
        if not principal.is_admin and principal.sub != user_id:
            raise DomainError("forbidden", 403, "only admins and the holder see a holder's tax status")
        doc = await self.store.holder(user_id)
        if doc is None:
            raise DomainError("holder_not_recorded", 404, "no tax status recorded for this holder")
        return doc

    # -- receipts (backers) ------------------------------------------------------------------

    async def _own_pledge(self, principal: Principal, pledge_id: str) -> Doc:
        pledge = await self.pledges.pledge(pledge_id)
        if pledge is None or pledge["backer_id"] != principal.sub:
            # Someone else's pledge is not admitted to exist.
            raise DomainError("pledge_not_found", 404, "no such pledge of yours")
        return pledge

    async def _holder_of(self, pledge: Doc, tx: Tx | None = None) -> Doc | None:
        campaign = await self.pledges.campaign(pledge["campaign_id"], tx)
        owner = (campaign or {}).get("owner_id")
        return await self.store.holder(owner, tx) if owner else None

    async def status(self, principal: Principal, pledge_id: str) -> tuple[Doc | None, str | None]:
        """(the receipt if issued, else None; why none can be issued, else None)."""
        pledge = await self._own_pledge(principal, pledge_id)
        receipt = await self.store.receipt(pledge_id)
        if receipt is not None:
            return _instants(receipt), None
        kept = await self.store.kept(pledge_id)
        refusal = rules.refusal(pledge, await self._holder_of(pledge), kept)
        return None, refusal.code if refusal else None

    async def issue(self, principal: Principal, pledge_id: str, donor: rules.Donor) -> tuple[Doc, bool]:
        """The pledge's receipt, issued now if it was not yet: (receipt, newly issued)."""
        await self._own_pledge(principal, pledge_id)

        async def work(tx: Tx) -> tuple[Doc, bool]:
            existing = await self.store.receipt(pledge_id, tx)
            if existing is not None:
                return existing, False
            pledge = await self.pledges.pledge(pledge_id, tx)
            assert pledge is not None
            holder = await self._holder_of(pledge, tx)
            kept = await self.store.kept(pledge_id, tx)
            if refusal := rules.refusal(pledge, holder, kept):
                raise _refused(refusal)
            assert holder is not None
            paid_at = as_utc(pledge.get("paid_at")) or utcnow()
            number = rules.receipt_number(
                paid_at.year, await self.store.next_number(tx, holder["_id"], paid_at.year)
            )
            doc = rules.receipt_doc({**pledge, "paid_at": paid_at}, holder, donor, kept, number, utcnow())
            await self.store.insert_receipt(tx, doc)
            return doc, True

        doc, new = await self.book.mongo.transact(work)
        return _instants(doc), new

    async def receipt(self, principal: Principal, pledge_id: str) -> Doc:
        await self._own_pledge(principal, pledge_id)
        doc = await self.store.receipt(pledge_id)
        if doc is None:
            raise DomainError("receipt_not_issued", 404, "no receipt issued for this pledge yet")
        return _instants(doc)

    async def year(self, principal: Principal, year: int) -> dict[str, Any]:
        receipts = [_instants(r) for r in await self.store.receipts_of_backer(principal.sub, year)]
        return rules.yearly_summary(receipts, year)
