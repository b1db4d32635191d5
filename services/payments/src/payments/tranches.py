"""Milestone releases, the use cases: a holder's payout plan, the proof of a milestone, a
labelling city's confirmation, backers' objections, an admin's decision on objected ones, and
the job that releases a milestone whose objection window ended without objection. Rules:
tranches_domain.py. A released tranche is a pending payout an admin approves like any other
(payouts.py); the label.* and campaign.update_posted handlers keep what this needs to know.

Every write is one transaction, conditional on the state read, and idempotent by key: the
answer stored is the payout's (or plan's) id, the route reads its current state back."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from servicekit.auth import Principal
from servicekit.bus import PermanentError
from servicekit.errors import DomainError
from servicekit.logging import get_logger
from servicekit.mongo import Tx, utcnow

from . import domain
from . import payouts_domain as payout_rules
from . import tranches_domain as rules
from .pledges import PledgeBook
from .store import Doc, Store
from .tranches_store import TrancheStore

log = get_logger(__name__)

# A backer is someone whose money the campaign holds (or held: a refunded backer was one too,
# but their money is no longer at stake, so they do not object).
BACKER_STATES = frozenset({domain.SUCCEEDED})


def _now_ms() -> int:
    return int(time.time() * 1000)


def _refused(exc: rules.PlanRefused) -> DomainError:
    return DomainError(exc.code, exc.status, str(exc))


# -- event handlers (run in the consumer's transaction) ---------------------------------------


async def label_changed(tx: Tx, routing_key: str, data: dict[str, Any]) -> None:
    """label.granted / label.revoked: which cities label a campaign. A revocation is final for
    its label (a city labelling again grants a new one), so a late `granted` never undoes it."""
    label_id, campaign_id, city = data.get("label_id"), data.get("campaign_id"), data.get("municipality")
    if not all(isinstance(v, str) and v for v in (label_id, campaign_id, city)):
        raise PermanentError("label event without label_id/campaign_id/municipality")
    store = TrancheStore.of(tx)
    status = routing_key.removeprefix("label.")
    before = await store.label(str(label_id), tx)
    if before is not None and before.get("status") == "revoked":
        return
    await store.put_label(
        tx,
        {"_id": label_id, "campaign_id": campaign_id, "municipality": city, "status": status, "at": utcnow()},
    )


async def update_posted(tx: Tx, data: dict[str, Any]) -> None:
    """campaign.update_posted: a proof may name this update of the campaign."""
    update_id, campaign_id = data.get("update_id"), data.get("campaign_id")
    if not isinstance(update_id, str) or not update_id or not isinstance(campaign_id, str) or not campaign_id:
        raise PermanentError("campaign.update_posted without update_id/campaign_id")
    await TrancheStore.of(tx).put_update(
        tx, {"_id": update_id, "campaign_id": campaign_id, "title": data.get("title"), "at": utcnow()}
    )


async def split_release(tx: Tx, doc: Doc) -> list[Doc]:
    """Run by payouts.py when it creates a campaign's first payout: the holder's plan, if any,
    turns it into one payout per tranche (the later ones waiting for their milestone)."""
    plan = await TrancheStore.of(tx).plan(doc["campaign_id"], tx)
    if plan is None:
        return [doc]
    if int(doc["sequence"]) != 1:
        # A later release (a city's match paid late): its match follows the last tranche.
        return [{**doc, "follows_plan": True}] if int(doc.get("match") or 0) > 0 else [doc]
    tranches = [rules.Tranche(int(t["percent"]), t.get("title")) for t in plan["tranches"]]
    return rules.tranche_payouts(doc, tranches, payout_rules.payout_id)


class Tranches:
    def __init__(self, book: PledgeBook) -> None:
        self.settings = book.settings
        self.store: Store = book.store
        self.tranches = TrancheStore(book.store.db)
        self.mongo = book.mongo
        self.idempotency = book.idempotency

    async def _once(self, scope: str, key: str, request: Any, action: Callable[[Tx], Awaitable[str]]) -> str:
        async def work(tx: Tx) -> str:
            result = await self.idempotency.run(
                tx, scope=scope, key=key, request=request, action=lambda: action(tx),
                encode=lambda v: {"id": v},
            )  # fmt: skip
            return result if isinstance(result, str) else str(result.value["id"])

        return await self.mongo.transact(work)

    # -- the holder's plan ------------------------------------------------------------------------

    async def _owned_campaign(self, campaign_id: str, principal: Principal, tx: Tx | None = None) -> Doc:
        campaign = await self.store.campaign(campaign_id, tx)
        if campaign is None or (campaign.get("owner_id") != principal.sub and not principal.is_admin):
            raise DomainError("not_found", 404, "campaign not found")
        return campaign

    async def plan(self, campaign_id: str, principal: Principal) -> Doc | None:
        await self._owned_campaign(campaign_id, principal)
        return await self.tranches.plan(campaign_id)

    async def set_plan(
        self, campaign_id: str, principal: Principal, tranches: list[rules.Tranche], key: str
    ) -> Doc:
        """The owner's plan, until the first payout is approved. A pending first payout made
        before the plan is split at once."""
        try:
            plan = rules.validate_plan(tranches)
        except rules.PlanRefused as exc:
            raise _refused(exc) from exc
        request = {"campaign": campaign_id, "plan": [[t.percent, t.title] for t in plan]}

        async def write(tx: Tx) -> str:
            campaign = await self.store.campaign(campaign_id, tx)
            if campaign is None or campaign.get("owner_id") != principal.sub:
                raise DomainError("not_found", 404, "campaign not found")
            payouts = await self.store.payouts_of_campaign(campaign_id, tx)
            if (
                any(p["status"] != payout_rules.PENDING or p.get("tranche") for p in payouts)
                or len(payouts) > 1
            ):
                raise DomainError(
                    "plan_locked",
                    409,
                    "the plan is set before the campaign's first payout is approved or split",
                )
            now = utcnow()
            await self.tranches.put_plan(tx, {
                "_id": campaign_id, "owner_id": principal.sub, "updated_at": now,
                "tranches": [{"percent": t.percent, "title": t.title} for t in plan],
            })  # fmt: skip
            if payouts:
                first, *rest = rules.tranche_payouts(payouts[0], plan, payout_rules.payout_id)
                fields = {k: first[k] for k in ("amount", "raised", "match", "tranche", "tranche_percent")}
                if not await self.store.set_payout(
                    tx, first["_id"], payout_rules.PENDING, **fields, updated_at=now
                ):
                    raise DomainError("conflict", 409, "the payout changed meanwhile; reload it")
                for doc in rest:
                    await self.store.insert_payout(tx, {**doc, "created_at": now, "updated_at": now})
                    tx.emit("payout.created", doc["_id"], payout_rules.event_data(doc))
            return campaign_id

        await self._once(f"payout-plan|{principal.sub}", key, request, write)
        found = await self.tranches.plan(campaign_id)
        assert found is not None
        return found

    # -- a milestone's proof, confirmation, objections, decision -------------------------------

    async def _tranche(self, payout_id: str, tx: Tx | None = None) -> Doc:
        doc = await self.store.payout(payout_id, tx)
        if doc is None or doc.get("milestone_status") is None:
            raise DomainError("not_found", 404, "no such milestone tranche")
        return doc

    async def _move(self, tx: Tx, doc: Doc, action: str, **fields: Any) -> None:
        try:
            to = rules.require(str(doc["milestone_status"]), action)
        except rules.PlanRefused as exc:
            raise _refused(exc) from exc
        moved = await self.tranches.move_milestone(
            tx,
            doc["_id"],
            doc["milestone_status"],
            {"milestone_status": to, "updated_at": utcnow(), **fields},
        )
        if not moved:
            raise DomainError("conflict", 409, "the milestone changed meanwhile; reload it")
        log.info("milestone_moved", payout_id=doc["_id"], action=action, to=to)

    async def prove(
        self, payout_id: str, principal: Principal, update_id: str | None, urls: list[str], key: str
    ) -> Doc:
        async def write(tx: Tx) -> str:
            doc = await self._tranche(payout_id, tx)
            if doc["owner_id"] != principal.sub:
                raise DomainError("not_found", 404, "no such milestone tranche")
            if update_id is not None:
                update = await self.tranches.update(update_id, tx)
                if update is None or update.get("campaign_id") != doc["campaign_id"]:
                    raise DomainError("unknown_update", 422, "no such update of this campaign")
            earlier = [p for p in await self.store.payouts_of_campaign(doc["campaign_id"], tx)
                       if p["sequence"] < doc["sequence"] and rules.blocks_approval(p)]  # fmt: skip
            if earlier:
                raise DomainError("milestone_out_of_order", 409, "an earlier milestone is not released yet")
            cities = await self.tranches.labelling_cities(doc["campaign_id"], tx)
            proof = {"update_id": update_id, "urls": urls}
            if cities:
                await self._move(
                    tx, doc, "prove_labelled", proof=proof, proved_at=utcnow(), confirming_cities=cities
                )
            else:
                ends = _now_ms() + int(self.settings.milestone_objection_window_s * 1000)
                await self._move(
                    tx, doc, "prove_unlabelled", proof=proof, proved_at=utcnow(), window_ends_ms=ends
                )
            return payout_id

        request = {"payout": payout_id, "update": update_id, "urls": urls}
        await self._once(f"milestone-proof|{principal.sub}", key, request, write)
        return await self._tranche(payout_id)

    async def confirm(self, payout_id: str, principal: Principal, key: str) -> Doc:
        """An official of a city that labels the campaign confirms the milestone is reached."""

        async def write(tx: Tx) -> str:
            doc = await self._tranche(payout_id, tx)
            cities = await self.tranches.labelling_cities(doc["campaign_id"], tx)
            city = next((c for c in cities if principal.is_official_of(c)), None)
            if city is None:
                raise DomainError(
                    "forbidden", 403, "only an official of the city that labelled the project confirms"
                )
            await self._move(
                tx, doc, "confirm", confirmed_by=principal.sub, confirmed_city=city, decided_at=utcnow()
            )
            return payout_id

        await self._once(f"milestone-confirm|{principal.sub}", key, {"payout": payout_id}, write)
        return await self._tranche(payout_id)

    async def object(self, payout_id: str, principal: Principal, reason: str, key: str) -> Doc:
        """A backer of the campaign objects while the window is open: an admin then decides."""

        async def write(tx: Tx) -> str:
            doc = await self._tranche(payout_id, tx)
            pledges = await self.store.pledges_of_campaign(doc["campaign_id"], tx)
            if not any(p.get("backer_id") == principal.sub and p["status"] in BACKER_STATES for p in pledges):
                raise DomainError("not_a_backer", 403, "only the campaign's backers object to a milestone")
            if doc["milestone_status"] not in (rules.OBJECTION_WINDOW, rules.OBJECTED):
                raise DomainError("window_closed", 409, "this milestone takes no objections")
            if doc["milestone_status"] == rules.OBJECTION_WINDOW and rules.window_over(doc, _now_ms()):
                raise DomainError("window_closed", 409, "the objection window has ended")
            objection_id = f"{payout_id}:{principal.sub}"
            if await self.tranches.objection(objection_id, tx) is not None:
                raise DomainError("already_objected", 409, "you already objected to this milestone")
            now = utcnow()
            await self.tranches.insert_objection(tx, {
                "_id": objection_id, "payout_id": payout_id, "campaign_id": doc["campaign_id"],
                "backer_id": principal.sub, "reason": reason, "created_at": now,
                "created_ms": int(now.timestamp() * 1000),
            })  # fmt: skip
            await self._move(tx, doc, "object", objections=int(doc.get("objections") or 0) + 1)
            return payout_id

        await self._once(
            f"milestone-object|{principal.sub}", key, {"payout": payout_id, "reason": reason}, write
        )
        return await self._tranche(payout_id)

    async def decide(
        self, payout_id: str, admin: Principal, decision: str, note: str | None, key: str
    ) -> Doc:
        """An admin's word on an objected milestone: release it (then approve it as a payout) or hold it."""
        action = {"release": "admin_release", "hold": "admin_hold"}[decision]

        async def write(tx: Tx) -> str:
            doc = await self._tranche(payout_id, tx)
            await self._move(tx, doc, action, decided_by=admin.sub, decision_note=note, decided_at=utcnow())
            return payout_id

        await self._once(
            f"milestone-decide|{admin.sub}", key, {"payout": payout_id, "decision": decision}, write
        )
        return await self._tranche(payout_id)

    async def objections(self, payout_id: str, principal: Principal) -> list[Doc]:
        doc = await self._tranche(payout_id)
        if not principal.is_admin and doc["owner_id"] != principal.sub:
            raise DomainError("not_found", 404, "no such milestone tranche")
        return await self.tranches.objections_of(payout_id)

    async def milestones(self, status: str, limit: int) -> list[Doc]:
        return await self.tranches.milestones_in(status, limit)

    async def of_campaign(self, campaign_id: str) -> list[Doc]:
        """What backers and cities see of the campaign: its later tranches and their milestones."""
        return [p for p in await self.store.payouts_of_campaign(campaign_id) if p.get("milestone_status")]

    # -- the job ------------------------------------------------------------------------------------

    async def release_ended_windows(self) -> None:
        """Windows that ended with no objection release their milestone (an objection moved it
        out of `objection_window`, so the conditional move finds nothing)."""
        now = _now_ms()
        for doc in await self.tranches.windows_ended(now):

            async def write(tx: Tx, doc: Doc = doc) -> None:
                if await self.tranches.move_milestone(
                    tx, doc["_id"], rules.OBJECTION_WINDOW,
                    {"milestone_status": rules.RELEASED, "decided_at": utcnow(), "decided_by": "window"},
                ):  # fmt: skip
                    log.info("milestone_released_after_window", payout_id=doc["_id"])

            await self.mongo.transact(write)

    def jobs(self) -> dict[str, Callable[[], Awaitable[None]]]:
        return {"milestone-windows": self.release_ended_windows}
