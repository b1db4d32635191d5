"""Events from payments (money, and the tally a closing campaign waits for), endorsements
(labels, match funding, calls for projects) and the gateway (a deleted account), each mapped to
its use case (funding.py, closing.py, labels.py, calls.py, accounts.py), which runs in the
consumer's transaction."""

from __future__ import annotations

from servicekit.bus import Handlers, PermanentError
from servicekit.events import Event
from servicekit.mongo import Tx

from . import accounts, calls, closing, funding, labels

handlers = Handlers("campaigns.funding")
# Its own queue: a closing waits on the funding events, it never holds them up.
tally_handlers = Handlers("campaigns.tallies")


@handlers.on("pledge.authorized")
async def pledge_authorized(event: Event, tx: Tx) -> None:
    await funding.pledge_authorized(tx, event.data)


@handlers.on("pledge.released")
async def pledge_released(event: Event, tx: Tx) -> None:
    await funding.pledge_released(tx, event.data)


@handlers.on("payment.succeeded")
async def payment_succeeded(event: Event, tx: Tx) -> None:
    await funding.payment_succeeded(tx, event.data)


@handlers.on("payment.refunded")
async def payment_refunded(event: Event, tx: Tx) -> None:
    await funding.payment_refunded(tx, event.data, event.id)


@handlers.on("label.granted")
async def label_granted(event: Event, tx: Tx) -> None:
    await labels.granted(tx, event.data)


@handlers.on("label.revoked")
async def label_revoked(event: Event, tx: Tx) -> None:
    await labels.revoked(tx, event.data)


@handlers.on("endorsement.granted", "endorsement.revoked")
async def endorsement_superseded(event: Event, tx: Tx) -> None:
    """Endorsements publishes each of these beside its label.* twin (same fact) for one release;
    a running queue stays bound to them, and without a handler they would be parked."""


@handlers.on("match.committed")
async def match_committed(event: Event, tx: Tx) -> None:
    await funding.match_committed(tx, event.data)


@handlers.on("match.applied")
async def match_applied(event: Event, tx: Tx) -> None:
    await funding.match_applied(tx, event.data)


@handlers.on("match.released")
async def match_released(event: Event, tx: Tx) -> None:
    await funding.match_released(tx, event.data)


@handlers.on("match.canceled")
async def match_canceled(event: Event, tx: Tx) -> None:
    await funding.match_canceled(tx, event.data)


@handlers.on("call.proposal_selected")
async def proposal_selected(event: Event, tx: Tx) -> None:
    await calls.proposal_selected(tx, event.data)


@handlers.on("user.deleted")
async def user_deleted(event: Event, tx: Tx) -> None:
    user_id = event.data.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise PermanentError("user.deleted without a user_id")
    await accounts.user_deleted(tx, user_id, event.time)


@tally_handlers.on("pledges.tallied")
async def pledges_tallied(event: Event, tx: Tx) -> None:
    await closing.tallied(tx, event.data)
