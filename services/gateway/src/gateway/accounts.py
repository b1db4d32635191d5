"""Account use cases: register, verify email, log in, refresh (rotation + reuse detection), log
out, change / reset password, update profile, delete (GDPR). Each write is one transaction
with its `user.*` events (outbox)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from servicekit.errors import DomainError
from servicekit.mongo import Mongo, Tx, utcnow

from . import domain
from .keys import KeyRing, TokenIssuer
from .passwords import Passwords
from .ratelimit import RateLimits
from .settings import Settings
from .store import AccountStore, as_datetime


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user: dict[str, Any]


def _weak(problems: list[str]) -> DomainError:
    return DomainError(
        "weak_password",
        422,
        "password " + "; ".join(problems),
        details=[{"loc": ["body", "password"], "msg": p, "type": "weak_password"} for p in problems],
    )


def _email_taken() -> DomainError:
    return DomainError("email_taken", 409, "an account with this email already exists")


class Accounts:
    def __init__(
        self,
        mongo: Mongo,
        settings: Settings,
        store: AccountStore,
        passwords: Passwords,
        keys: KeyRing,
        issuer: TokenIssuer,
        limits: RateLimits,
    ) -> None:
        self.mongo = mongo
        self.settings = settings
        self.store = store
        self.passwords = passwords
        self.issuer = issuer
        self.limits = limits
        self.link_secret = keys.action_secret(settings.action_token_secret)

    async def transact(self, fn: Any) -> Any:
        return await self.mongo.transact(fn)

    # -- links -----------------------------------------------------------------------------------

    def _link(self, purpose: str, user_id: str, ttl_s: int, page: str) -> tuple[str, datetime]:
        expires = int(time.time()) + ttl_s
        token = domain.make_action_token(
            self.link_secret, purpose, f"{user_id}~{domain.new_token_id()}", expires
        )
        return f"{self.settings.public_base_url.rstrip('/')}/{page}?token={token}", datetime.fromtimestamp(
            expires, UTC
        )

    def _emit_verification(self, tx: Tx, user: dict[str, Any]) -> None:
        url, expires = self._link(
            domain.VERIFY_EMAIL, user["_id"], self.settings.verification_token_ttl_s, "verify-email"
        )
        tx.emit(
            "user.verification_requested",
            user["_id"],
            {**_contact(user), "verify_url": url, "expires_at": expires.isoformat()},
        )

    async def _use_link(self, tx: Tx, token: str, purpose: str) -> str:
        link = domain.read_action_token(self.link_secret, token, purpose, time.time())
        if await self.store.action_token_used(tx, link.token_id):
            raise DomainError("token_used", 400, "this link was already used")
        await self.store.use_action_token(tx, link.token_id, datetime.fromtimestamp(link.expires_at, UTC))
        return link.token_id.split("~", 1)[0]

    # -- register / verify -----------------------------------------------------------------------

    async def register(
        self, email: str, password: str, display_name: str, locale: str, postcode: str | None
    ) -> dict:
        email = self._email(email)
        problems = domain.password_problems(password, email, display_name)
        if problems:
            raise _weak(problems)
        if await self.store.user_by_email(email) is not None:
            raise _email_taken()
        password_hash = await self.passwords.hash(password)
        now = utcnow()
        user = {
            "_id": f"usr_{uuid.uuid4().hex}",
            "email": email,
            "password_hash": password_hash,
            "display_name": display_name.strip(),
            "locale": locale,
            "postcode": postcode or "",
            "email_verified": False,
            "created_at": now,
            "updated_at": now,
        }

        async def write(tx: Tx) -> None:
            if await self.store.user_by_email(email, tx) is not None:
                raise _email_taken()
            await self.store.insert_user(tx, user)
            tx.emit("user.registered", user["_id"], _contact(user))
            self._emit_verification(tx, user)

        try:
            await self.transact(write)
        except DuplicateKeyError as exc:
            raise _email_taken() from exc
        return user

    async def resend_verification(self, user_id: str) -> None:
        user = await self._user(user_id)
        if bool(user.get("email_verified")):
            return

        async def write(tx: Tx) -> None:
            self._emit_verification(tx, user)

        await self.transact(write)

    async def verify_email(self, token: str) -> dict:
        async def write(tx: Tx) -> dict:
            user_id = await self._use_link(tx, token, domain.VERIFY_EMAIL)
            user = await self.store.user(user_id, tx)
            if user is None:
                raise DomainError("invalid_token", 400, "this link is not valid")
            await self.store.set_user_fields(tx, user_id, {"email_verified": True})
            return {**user, "email_verified": True}

        return await self.transact(write)

    # -- log in / refresh / log out --------------------------------------------------------------

    async def login(self, email: str, password: str, ip: str) -> TokenPair:
        try:
            email = domain.normalize_email(email)
        except DomainError:
            email = email.strip().lower()[:254]
        retry_after = await self.limits.login_blocked(email, ip)
        if retry_after is not None:
            raise DomainError(
                "too_many_attempts",
                429,
                "too many failed logins, try again later",
                headers={"Retry-After": str(retry_after)},
            )
        user = await self.store.user_by_email(email)
        if not await self.passwords.verify(user["password_hash"] if user else None, password) or user is None:
            await self.limits.login_failed(email, ip)
            raise DomainError("invalid_credentials", 401, "wrong email or password")
        await self.limits.login_succeeded(email)
        new_hash = (
            await self.passwords.hash(password)
            if self.passwords.needs_rehash(user["password_hash"])
            else None
        )
        municipalities = await self.store.municipalities_of(user["_id"])

        async def write(tx: Tx) -> TokenPair:
            if new_hash:
                await self.store.set_user_fields(tx, user["_id"], {"password_hash": new_hash})
            return await self._issue(tx, user, uuid.uuid4().hex, municipalities)

        return await self.transact(write)

    async def refresh(self, refresh_token: str) -> TokenPair:
        token_hash = domain.secret_hash(refresh_token)
        session = await self.store.session(None, token_hash)
        user = await self.store.user(session["user_id"]) if session else None
        municipalities = await self.store.municipalities_of(user["_id"]) if user else {}

        async def write(tx: Tx) -> TokenPair | str:
            taken = await self.store.take_session(tx, token_hash)
            if taken is None:
                known = await self.store.session(tx, token_hash)
                if known is None:
                    return "invalid"
                # A rotated (or revoked) token came back: it was stolen or replayed. Revoke the
                # whole family so neither the thief nor the victim keeps a live session.
                await self.store.revoke_family(tx, known["family"])
                return "reused"
            if as_datetime(taken["expires_at"]) < utcnow() or user is None:
                return "invalid"
            return await self._issue(tx, user, taken["family"], municipalities)

        result = await self.transact(write)
        if result == "reused":
            raise DomainError("refresh_token_reused", 401, "this session was revoked, log in again")
        if not isinstance(result, TokenPair):
            raise DomainError("invalid_refresh_token", 401, "refresh token is not valid, log in again")
        return result

    async def logout(self, refresh_token: str) -> None:
        token_hash = domain.secret_hash(refresh_token)

        async def write(tx: Tx) -> None:
            known = await self.store.session(tx, token_hash)
            if known is not None:
                await self.store.revoke_family(tx, known["family"])

        await self.transact(write)

    async def _issue(self, tx: Tx, user: dict, family: str, municipalities: dict[str, str]) -> TokenPair:
        refresh = domain.new_secret("rt")
        expires = utcnow() + timedelta(seconds=self.settings.refresh_token_ttl_s)
        await self.store.add_session(tx, domain.secret_hash(refresh), family, user["_id"], expires)
        access = self.issuer.user_token(
            user["_id"],
            domain.roles_for(user["email"], self.settings.admin_email_set()),
            municipalities,
            bool(user.get("email_verified")),
        )
        return TokenPair(access, refresh, self.settings.access_token_ttl_s, user)

    # -- passwords -------------------------------------------------------------------------------

    async def change_password(self, user_id: str, current: str, new: str) -> TokenPair:
        user = await self._user(user_id)
        if not await self.passwords.verify(user["password_hash"], current):
            raise DomainError("wrong_password", 403, "current password is wrong")
        problems = domain.password_problems(new, user["email"], user["display_name"])
        if problems:
            raise _weak(problems)
        new_hash = await self.passwords.hash(new)
        municipalities = await self.store.municipalities_of(user_id)

        async def write(tx: Tx) -> TokenPair:
            await self.store.set_user_fields(
                tx, user_id, {"password_hash": new_hash, "password_changed_at": utcnow()}
            )
            await self.store.revoke_user_sessions(tx, user_id)
            return await self._issue(tx, user, uuid.uuid4().hex, municipalities)

        return await self.transact(write)

    async def request_password_reset(self, email: str) -> None:
        try:
            email = domain.normalize_email(email)
        except DomainError:
            return
        user = await self.store.user_by_email(email)
        if user is None:
            return  # same answer either way: no account enumeration

        async def write(tx: Tx) -> None:
            url, expires = self._link(
                domain.RESET_PASSWORD, user["_id"], self.settings.reset_token_ttl_s, "reset-password"
            )
            tx.emit(
                "user.password_reset_requested",
                user["_id"],
                {**_contact(user), "reset_url": url, "expires_at": expires.isoformat()},
            )

        await self.transact(write)

    async def reset_password(self, token: str, new: str) -> None:
        link = domain.read_action_token(self.link_secret, token, domain.RESET_PASSWORD, time.time())
        user = await self.store.user(link.token_id.split("~", 1)[0])
        if user is None:
            raise DomainError("invalid_token", 400, "this link is not valid")
        problems = domain.password_problems(new, user["email"], user["display_name"])
        if problems:
            raise _weak(problems)
        new_hash = await self.passwords.hash(new)

        async def write(tx: Tx) -> None:
            user_id = await self._use_link(tx, token, domain.RESET_PASSWORD)
            # Following the emailed link proves the address too.
            await self.store.set_user_fields(
                tx,
                user_id,
                {"password_hash": new_hash, "password_changed_at": utcnow(), "email_verified": True},
            )
            await self.store.revoke_user_sessions(tx, user_id)

        await self.transact(write)

    # -- profile / delete ------------------------------------------------------------------------

    async def update_profile(self, user_id: str, changes: dict[str, Any]) -> dict:
        if "display_name" in changes:
            changes = {**changes, "display_name": changes["display_name"].strip()}
        user = await self._user(user_id)
        if not changes:
            return user

        async def write(tx: Tx) -> None:
            await self.store.set_user_fields(tx, user_id, changes)
            tx.emit("user.updated", user_id, _contact({**user, **changes}))

        await self.transact(write)
        return {**user, **changes}

    async def delete(self, user_id: str, password: str) -> None:
        user = await self._user(user_id)
        if not await self.passwords.verify(user["password_hash"], password):
            raise DomainError("wrong_password", 403, "password is wrong")

        async def write(tx: Tx) -> None:
            await self.store.delete_user(tx, user_id)
            tx.emit("user.deleted", user_id, {"user_id": user_id})

        await self.transact(write)

    async def profile(self, user_id: str) -> dict:
        """The caller's own account."""
        return await self._user(user_id)

    # -- helpers ---------------------------------------------------------------------------------

    async def _user(self, user_id: str) -> dict:
        user = await self.store.user(user_id)
        if user is None:
            raise DomainError("not_found", 404, "account not found")
        return user

    @staticmethod
    def _email(email: str) -> str:
        try:
            return domain.normalize_email(email)
        except DomainError as exc:
            raise DomainError(
                exc.code,
                422,
                exc.message,
                details=[{"loc": ["body", "email"], "msg": exc.message, "type": exc.code}],
            ) from exc


def _contact(user: dict[str, Any]) -> dict[str, Any]:
    data = {
        "user_id": user["_id"],
        "email": user["email"],
        "display_name": user["display_name"],
        "locale": user["locale"],
    }
    if user.get("postcode"):
        data["postcode"] = user["postcode"]
    return data
