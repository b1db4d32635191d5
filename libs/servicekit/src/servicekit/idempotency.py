"""The `Idempotency-Key` header, with one behaviour on every service.

* same key + same request  -> the answer stored by the first one (the action does not run again);
* same key + other request -> 409 `idempotency_key_reused`;
* same key while the first is still running -> 409 `request_in_progress`;
* a required header missing or malformed -> 422 `validation_error` (FastAPI, from the rules below,
  which the API document shows).

Keys are namespaced by a `scope` the caller chooses (the operation and who asks, e.g.
`f"pledge|{principal.sub}"`), so two users can never replay each other's answers.

Two forms:

* `await idem.run(tx, scope=..., key=..., request=body, action=lambda: create(tx, ...))` inside
  the use case's transaction: the answer is stored in the same transaction as the change, so
  both commit or neither does. Use it whenever the work is one transaction.
* `claim = await idem.begin(scope, key, request)` for work that calls an outside system
  (Stripe) between transactions: the key is recorded as in progress with a lease first, then
  `await claim.complete_in(tx, answer)` (or `complete`) stores the answer, or `await
  claim.release()` after a failure so that the client may retry. A holder that dies leaves a
  lease that expires; the retry then runs again.

Records live in the `idempotency` collection and expire after `IDEMPOTENCY_TTL_S` (TTL index on
`created_at`, registered by the app factory for every service with Mongo).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header
from fastapi.encoders import jsonable_encoder
from pymongo.errors import DuplicateKeyError

from .components import component
from .errors import DomainError
from .mongo import Index, Mongo, Tx, epoch_ms, utcnow

T = TypeVar("T")
R = TypeVar("R")

COLLECTION = "idempotency"
IDEMPOTENCY_TTL_S = 30 * 24 * 3600
IDEMPOTENCY_INDEXES = [Index(COLLECTION, [("created_at", 1)], expire_after_seconds=IDEMPOTENCY_TTL_S)]

_DESCRIPTION = (
    "A key you choose per intended operation (a UUID is fine; 8-200 printable ASCII characters). "
    "Sending the same key with the same request again returns the first answer without doing the "
    "work twice; the same key with another request is refused (409 idempotency_key_reused); "
    "while the first request is still running, 409 request_in_progress."
)
_RULES: dict[str, Any] = {
    "alias": "Idempotency-Key",
    "min_length": 8,
    "max_length": 200,
    "pattern": r"^[\x21-\x7e]+$",
    "description": _DESCRIPTION,
}

IdempotencyKey = Annotated[str, Header(**_RULES)]
"""A required `Idempotency-Key` header (422 when missing or malformed)."""

OptionalIdempotencyKey = Annotated[str | None, Header(**_RULES)]
"""An optional one; write `key: OptionalIdempotencyKey = None` (FastAPI takes the default there)."""


def required_key(key: str | None) -> str:
    """For routes where the header is required only for some requests (e.g. a grant that also
    commits money): the same 422 a missing required header gets."""
    if key is None:
        raise DomainError(
            "validation_error",
            422,
            "request is not valid",
            [{"loc": ["header", "Idempotency-Key"], "msg": "Field required", "type": "missing"}],
        )
    return key


def fingerprint(request: Any) -> str:
    """A stable digest of what was asked (a pydantic model, a dict, ...): key order does not matter."""
    canonical = json.dumps(jsonable_encoder(request), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def default_encode(value: Any) -> Any:
    """What is stored for a replay: the JSON form of the answer (models, datetimes, ids)."""
    return jsonable_encoder(value)


@dataclass(frozen=True)
class StoredAnswer:
    """The answer the first request with this key got, as JSON (what `encode` made of it)."""

    value: Any
    status: int | None = None


def _reused() -> DomainError:
    return DomainError("idempotency_key_reused", 409, "this Idempotency-Key was used for a different request")


def _in_progress() -> DomainError:
    return DomainError(
        "request_in_progress",
        409,
        "a request with this Idempotency-Key is still being processed; retry later",
    )


def _stored(doc: dict[str, Any]) -> StoredAnswer:
    status = doc.get("status")
    return StoredAnswer(json.loads(doc["answer"]), int(status) if status is not None else None)


@dataclass
class Claim:
    """The right to do the work for one key (or, when `stored` is set, the earlier answer)."""

    idempotency: Idempotency | None
    record_id: str | None
    owner: str
    stored: StoredAnswer | None = None
    _done: bool = field(default=False, repr=False)

    @property
    def replayed(self) -> bool:
        return self.stored is not None

    def _active(self) -> bool:
        return (
            self.idempotency is not None
            and self.record_id is not None
            and not self.replayed
            and not self._done
        )

    async def complete_in(
        self, tx: Tx, answer: Any, *, status: int | None = None, encode: Callable[[Any], Any] = default_encode
    ) -> None:
        """Store the answer inside the caller's transaction (the one that records the outcome).
        If that transaction fails, call `release()` as after any other failure."""
        if not self._active():
            return
        assert self.idempotency is not None
        changes: dict[str, Any] = {"state": "done", "answer": json.dumps(encode(answer)), "lease_ms": 0}
        if status is not None:
            changes["status"] = status
        await tx.db[self.idempotency.collection].update_one(
            {"_id": self.record_id, "owner": self.owner, "state": "pending"},
            {"$set": changes},
            session=tx.session,
        )
        # Not marked done here: `tx` may abort (then `release()` must still free the key; it
        # only deletes a record still pending, so after a commit it does nothing) or be retried.

    async def complete(
        self, answer: Any, *, status: int | None = None, encode: Callable[[Any], Any] = default_encode
    ) -> None:
        if not self._active():
            return
        assert self.idempotency is not None

        async def store(tx: Tx) -> None:
            await self.complete_in(tx, answer, status=status, encode=encode)

        await self.idempotency.mongo.transact(store)
        self._done = True

    async def release(self) -> None:
        """The work failed: forget the key, so that the client's retry runs it again."""
        if not self._active():
            return
        assert self.idempotency is not None
        coll = self.idempotency.collection

        async def forget(tx: Tx) -> None:
            await tx.db[coll].delete_one(
                {"_id": self.record_id, "owner": self.owner, "state": "pending"}, session=tx.session
            )

        await self.idempotency.mongo.transact(forget)
        self._done = True


class Idempotency:
    """One per service (built by the app factory); routes and use cases get it as `IdempotencyDep`."""

    def __init__(self, mongo: Mongo, *, lease_s: float = 60.0, collection: str = COLLECTION) -> None:
        self.mongo = mongo
        self.lease_ms = int(lease_s * 1000)
        self.collection = collection

    @staticmethod
    def record_id(scope: str, key: str) -> str:
        return f"{scope}|{key}"

    async def run(
        self,
        tx: Tx,
        *,
        scope: str,
        key: str | None,
        request: Any,
        action: Callable[[], Awaitable[T]],
        encode: Callable[[T], Any] = default_encode,
        status: int | None = None,
        decode: Callable[[Any], R] | None = None,
    ) -> T | StoredAnswer | R:
        """Run `action` once per (scope, key) inside the caller's transaction `tx`.

        A replay returns the stored answer: a `StoredAnswer`, or `decode(answer)` when `decode` is
        given (so the caller gets one type back). `key=None` just runs `action`."""
        if key is None:
            return await action()
        rid = self.record_id(scope, key)
        print_ = fingerprint(request)
        doc = await tx.db[self.collection].find_one({"_id": rid}, session=tx.session)
        if doc is not None:
            if doc.get("fingerprint") != print_:
                raise _reused()
            if doc.get("state") != "done":
                raise _in_progress()
            stored = _stored(doc)
            return decode(stored.value) if decode is not None else stored
        result = await action()
        record: dict[str, Any] = {
            "_id": rid,
            "scope": scope,
            "fingerprint": print_,
            "state": "done",
            "answer": json.dumps(encode(result)),
            "created_at": utcnow(),
        }
        if status is not None:
            record["status"] = status
        try:
            await tx.db[self.collection].insert_one(record, session=tx.session)
        except DuplicateKeyError as exc:  # another replica's request with this key got there first
            raise _in_progress() from exc
        return result

    async def begin(self, scope: str, key: str | None, request: Any) -> Claim:
        """Record the key as in progress (with a lease) before work that cannot sit in one
        transaction. Returns a claim to `complete`/`release`, or one whose `stored` holds the
        earlier answer (`claim.replayed`). Raises 409 `request_in_progress` while another request
        with the key holds a live lease, 409 `idempotency_key_reused` for another request."""
        owner = uuid.uuid4().hex
        if key is None:
            return Claim(None, None, owner)
        rid = self.record_id(scope, key)
        print_ = fingerprint(request)
        coll = self.collection

        async def take(tx: Tx) -> StoredAnswer | None:
            now_ms = epoch_ms()
            doc = await tx.db[coll].find_one({"_id": rid}, session=tx.session)
            if doc is None:
                await tx.db[coll].insert_one(
                    {
                        "_id": rid,
                        "scope": scope,
                        "fingerprint": print_,
                        "state": "pending",
                        "owner": owner,
                        "lease_ms": now_ms + self.lease_ms,
                        "created_at": utcnow(),
                    },
                    session=tx.session,
                )
                return None
            if doc.get("fingerprint") != print_:
                raise _reused()
            if doc.get("state") == "done":
                return _stored(doc)
            taken = await tx.db[coll].find_one_and_update(
                {"_id": rid, "state": "pending", "lease_ms": {"$lt": now_ms}},  # its holder died
                {"$set": {"owner": owner, "lease_ms": now_ms + self.lease_ms}},
                session=tx.session,
            )
            if taken is None:
                raise _in_progress()
            return None

        try:
            stored = await self.mongo.transact(take)
        except DuplicateKeyError as exc:
            raise _in_progress() from exc
        return Claim(self, rid, owner, stored)


IdempotencyDep = Annotated[Idempotency, Depends(component(Idempotency))]
