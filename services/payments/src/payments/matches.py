"""Cities' match funding in the ledger: the city's money (applied / released) in the `match`
account and, as a memo, the open commitments in `commitments`. Entry ids derive from
endorsements' ids, so a redelivered event adds nothing. Runs in the event handler's transaction."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from servicekit.mongo import Tx, utcnow

from . import domain
from .store import Store


async def committed(tx: Tx, d: dict[str, Any]) -> None:
    entry = domain.match_entry(
        "match_committed", d["commitment_id"], d["campaign_id"], d["max_amount"], d["currency"]
    )
    await Store.of(tx).append_ledger(tx, [entry], utcnow())


async def canceled(tx: Tx, d: dict[str, Any]) -> None:
    store = Store.of(tx)
    promise = await store.ledger_entry(tx, f"match_committed:{d['commitment_id']}")
    promised = promise["amount"] if promise is not None else d.get("max_amount")
    if promised is None:
        # Arrived before its match.committed: retried with backoff (then parked) until it has.
        raise LookupError(f"match.canceled before match.committed for {d['commitment_id']}")
    # What stays given keeps counting; the rest of the promise is withdrawn.
    withdrawn = int(promised) - int(d.get("amount") or 0)
    entry = domain.match_entry(
        "match_canceled", d["commitment_id"], d["campaign_id"], -withdrawn, d["currency"]
    )
    await store.append_ledger(tx, [entry], utcnow())


async def applied(tx: Tx, d: dict[str, Any]) -> None:
    entry = domain.match_entry(
        "match_applied", d["application_id"], d["campaign_id"], d["amount"], d["currency"]
    )
    await Store.of(tx).append_ledger(tx, [entry], utcnow())


async def released(tx: Tx, d: dict[str, Any]) -> None:
    """`amount` is the commitment's total released so far: an all-or-nothing campaign's match
    grows as its pledges are charged, so each release adds what it adds to the ones before."""
    store = Store.of(tx)
    before = await store.entries_of_ref(tx, "match_released", d["commitment_id"])
    total = int(d["amount"])
    added = total - sum(int(e["amount"]) for e in before)
    if added <= 0:
        return  # a redelivery, or an older release arriving after a newer one
    ref = d["commitment_id"]
    entry = domain.match_entry("match_released", ref, d["campaign_id"], added, d["currency"])
    if before:  # the first release keeps the id it always had
        entry = replace(entry, id=f"{entry.id}:{total}")
    await store.append_ledger(tx, [entry], utcnow())


async def awarded(tx: Tx, commitment_id: str, campaign_id: str, amount: int, currency: str) -> None:
    """A call's award (call.proposal_selected) is match money from its selection, as campaigns
    count it in `matched`: no match.released comes for it, so the award books its own entry
    (id from the award: a redelivered selection adds nothing)."""
    entry = domain.match_entry("match_awarded", commitment_id, campaign_id, amount, currency)
    await Store.of(tx).append_ledger(tx, [entry], utcnow())
