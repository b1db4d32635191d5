"""Account deletion (`user.deleted`): the one pseudonym every service writes in place of a
deleted person's user id, in the records it keeps (a pledge in the ledger, an accepted offer,
a past meetup's RSVP).

The pseudonym is derived from the user id so that services agree without talking: an event
payments emits after the deletion (a refund of an old payment) names the same backer as the
record campaigns rewrote. It names nobody: the gateway deleted the account that linked the id
to a person, and the hash cannot be turned back into the id."""

from __future__ import annotations

import hashlib

PREFIX = "deleted_"


def pseudonym(user_id: str) -> str:
    """`deleted_<24 hex>`; applying it to a pseudonym returns the pseudonym unchanged, so a
    redelivered `user.deleted` rewrites nothing twice."""
    if is_pseudonym(user_id):
        return user_id
    digest = hashlib.sha256(f"civicfund-deleted-account|{user_id}".encode()).hexdigest()
    return PREFIX + digest[:24]


def is_pseudonym(user_id: str) -> bool:
    return user_id.startswith(PREFIX)
