"""The gateway's own database: accounts, refresh-token families, used action links, municipal
roles (from official events) and city API clients.

The only module that touches the database. Reads outside a transaction use the database
directly (or the `Tx` when given one); every write takes the use case's `Tx` (one write idiom:
`await tx.db.<collection>.<op>(..., session=tx.session)`), so it commits with the events the use
case emits. nx-27017 notes: flags are strings ("active"), never top-level booleans we must
query; no `$setOnInsert`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from servicekit.mongo import Index, Tx, utcnow
from servicekit.mongo import as_utc as as_datetime

from .domain import OfficialState

INDEXES = [
    Index("users", [("email", 1)], unique=True),
    Index("sessions", [("family", 1)]),
    Index("sessions", [("user_id", 1)]),
    Index("sessions", [("expires_at", 1)], expire_after_seconds=0),
    Index("used_action_tokens", [("expires_at", 1)], expire_after_seconds=0),
    Index("officials", [("user_id", 1)]),
    Index("clients", [("municipality", 1)]),
]
COLLECTIONS = ["users", "sessions", "used_action_tokens", "officials", "clients"]


def public_user(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "email": doc["email"],
        "display_name": doc["display_name"],
        "locale": doc["locale"],
        "postcode": doc.get("postcode") or None,
        "email_verified": bool(doc.get("email_verified")),
        "created_at": as_datetime(doc["created_at"]),
    }


class AccountStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db

    # -- users ---------------------------------------------------------------------------------

    async def user(self, user_id: str, tx: Tx | None = None) -> dict[str, Any] | None:
        return await self.db.users.find_one({"_id": user_id}, session=tx.session if tx else None)

    async def user_by_email(self, email: str, tx: Tx | None = None) -> dict[str, Any] | None:
        return await self.db.users.find_one({"email": email}, session=tx.session if tx else None)

    async def insert_user(self, tx: Tx, user: dict[str, Any]) -> None:
        """Raises DuplicateKeyError when the email is taken (unique index)."""
        await tx.db.users.insert_one(user, session=tx.session)

    async def delete_user(self, tx: Tx, user_id: str) -> None:
        """The account and everything keyed by it here: sessions and municipal roles."""
        await tx.db.users.delete_one({"_id": user_id}, session=tx.session)
        await tx.db.sessions.delete_many({"user_id": user_id}, session=tx.session)
        await tx.db.officials.delete_many({"user_id": user_id}, session=tx.session)

    async def set_user_fields(self, tx: Tx, user_id: str, fields: dict[str, Any]) -> None:
        await tx.db.users.update_one(
            {"_id": user_id}, {"$set": {**fields, "updated_at": utcnow()}}, session=tx.session
        )

    # -- refresh tokens: one row per token, grouped in families (one per login) -----------------

    async def add_session(
        self, tx: Tx, token_hash: str, family: str, user_id: str, expires_at: datetime
    ) -> None:
        await tx.db.sessions.insert_one(
            {
                "_id": token_hash,
                "family": family,
                "user_id": user_id,
                "status": "active",
                "created_at": utcnow(),
                "expires_at": expires_at,
            },
            session=tx.session,
        )

    async def take_session(self, tx: Tx, token_hash: str) -> dict[str, Any] | None:
        """Mark an active refresh token rotated and return it (atomic: of two concurrent uses of
        one token, only one gets it)."""
        return await tx.db.sessions.find_one_and_update(
            {"_id": token_hash, "status": "active"},
            {"$set": {"status": "rotated", "rotated_at": utcnow()}},
            session=tx.session,
        )

    async def session(self, tx: Tx | None, token_hash: str) -> dict[str, Any] | None:
        return await self.db.sessions.find_one({"_id": token_hash}, session=tx.session if tx else None)

    async def revoke_family(self, tx: Tx, family: str) -> None:
        await tx.db.sessions.update_many(
            {"family": family}, {"$set": {"status": "revoked"}}, session=tx.session
        )

    async def revoke_user_sessions(self, tx: Tx, user_id: str) -> None:
        await tx.db.sessions.update_many(
            {"user_id": user_id}, {"$set": {"status": "revoked"}}, session=tx.session
        )

    # -- single-use action links -------------------------------------------------------------

    async def action_token_used(self, tx: Tx, token_id: str) -> bool:
        return await tx.db.used_action_tokens.find_one({"_id": token_id}, session=tx.session) is not None

    async def use_action_token(self, tx: Tx, token_id: str, expires_at: datetime) -> None:
        await tx.db.used_action_tokens.insert_one(
            {"_id": token_id, "used_at": utcnow(), "expires_at": expires_at}, session=tx.session
        )

    # -- municipal roles ---------------------------------------------------------------------

    async def official_state(self, tx: Tx, user_id: str, municipality: str) -> OfficialState | None:
        doc = await tx.db.officials.find_one({"_id": f"{user_id}|{municipality}"}, session=tx.session)
        if doc is None:
            return None
        return OfficialState(doc.get("role") or None, as_datetime(doc["as_of"]))

    async def put_official_state(
        self, tx: Tx, user_id: str, municipality: str, state: OfficialState, existed: bool
    ) -> None:
        doc = {
            "user_id": user_id,
            "municipality": municipality,
            "role": state.role or "",
            "status": "active" if state.role else "removed",
            "as_of": state.as_of,
        }
        if existed:
            await tx.db.officials.update_one(
                {"_id": f"{user_id}|{municipality}"}, {"$set": doc}, session=tx.session
            )
        else:
            await tx.db.officials.insert_one({"_id": f"{user_id}|{municipality}", **doc}, session=tx.session)

    async def municipalities_of(self, user_id: str) -> dict[str, str]:
        cursor = self.db.officials.find({"user_id": user_id, "status": "active"})
        return {doc["municipality"]: doc["role"] async for doc in cursor}

    # -- city API clients --------------------------------------------------------------------

    async def insert_client(self, tx: Tx, doc: dict[str, Any]) -> None:
        await tx.db.clients.insert_one(doc, session=tx.session)

    async def set_client_fields(
        self, tx: Tx, client_id: str, fields: dict[str, Any], unset: tuple[str, ...] = ()
    ) -> None:
        update: dict[str, Any] = {"$set": fields}
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        await tx.db.clients.update_one({"_id": client_id}, update, session=tx.session)

    async def client(self, client_id: str) -> dict[str, Any] | None:
        return await self.db.clients.find_one({"_id": client_id})

    async def clients_of(self, municipality: str) -> list[dict[str, Any]]:
        return [
            doc async for doc in self.db.clients.find({"municipality": municipality}).sort("created_at", 1)
        ]
