"""The request-scoped view of the site every page handler gets (`site: SiteDep`): who is signed
in, in which language, the API (with their token, refreshed on the server), rendering, redirects,
flash messages and the CSRF token.

Sessions: the cookie holds a random id only (httpOnly, SameSite=Lax, Secure outside development);
the database keys the session by the id's SHA-256, so a copy of the database opens no session.
Tokens never reach the browser. CSRF: a random token in its own httpOnly cookie, repeated in a
hidden field of every form (double submit); SameSite=Lax already stops cross-site POSTs in
current browsers, the token covers the rest.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlsplit

import httpx
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from civicfund_client import CivicfundClient
from servicekit.logging import get_logger
from servicekit.mongo import epoch_ms

from .gateway import ApiFailure, Gateway, RoutedClient, parsed
from .i18n import negotiate
from .rendering import StaticAssets, Templates
from .settings import Settings
from .store import SessionStore

log = get_logger(__name__)

FLASH_COOKIE = "cf_flash"


class LoginRequired(Exception):
    """The page needs a signed-in person: answered with a redirect to the login page and back."""

    def __init__(self, next_url: str, expired: bool = False) -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.expired = expired


class FormExpired(Exception):
    """A form came back without the CSRF token of this browser (an old tab, or another site)."""


@dataclass
class Web:
    """What the whole site shares: built once at start-up."""

    settings: Settings
    templates: Templates
    assets: StaticAssets
    gateway: Gateway
    sessions: SessionStore
    # One refresh at a time per session inside a process: refresh tokens work once.
    refresh_locks: dict[str, asyncio.Lock] = field(default_factory=dict)


def safe_next(url: str | None, default: str = "/") -> str:
    """Only a path on this site (no scheme, no host, no `//evil`) may be a redirect target."""
    if not url:
        return default
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return default
    return url


def hash_sid(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class Site:
    def __init__(self, request: Request, web: Web, session: dict[str, Any] | None) -> None:
        self.request = request
        self.web = web
        self.settings = web.settings
        self.session = session
        self._cookies: list[tuple[str, str, int | None]] = []
        self._deleted: list[str] = []
        self.csrf_token = request.cookies.get(web.settings.csrf_cookie) or ""
        if len(self.csrf_token) < 32:
            self.csrf_token = secrets.token_urlsafe(32)
            self._cookies.append((web.settings.csrf_cookie, self.csrf_token, None))
        self.locale = self._pick_locale()
        self.gettext: Callable[[str], str] = web.templates.gettext(self.locale)

    # -- who and which language ------------------------------------------------------------

    @property
    def user(self) -> dict[str, Any] | None:
        return self.session["user"] if self.session else None

    @property
    def roles(self) -> list[str]:
        return list(self.user.get("roles", [])) if self.user else []

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def _pick_locale(self) -> str:
        available = self.settings.locales
        chosen = self.request.cookies.get(self.settings.locale_cookie)
        if chosen in available:
            return chosen
        if self.user and self.user.get("locale") in available:
            return str(self.user["locale"])
        return negotiate(self.request.headers.get("accept-language"), available, self.settings.default_locale)

    def set_locale(self, locale: str) -> None:
        self.locale = locale
        self.gettext = self.web.templates.gettext(locale)
        self._cookies.append((self.settings.locale_cookie, locale, 365 * 24 * 3600))

    @property
    def request_id(self) -> str | None:
        return self.request.scope.get("state", {}).get("request_id")

    @property
    def client_ip(self) -> str | None:
        # The gateway in front of the site put the visitor's address first in X-Forwarded-For.
        forwarded = self.request.headers.get("x-forwarded-for", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first
        return self.request.client.host if self.request.client else None

    @property
    def current_path(self) -> str:
        query = self.request.url.query
        return self.request.url.path + (f"?{query}" if query else "")

    # -- the API ---------------------------------------------------------------------------

    async def api(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Any:
        """Call the gateway by path as the signed-in person (anonymous when nobody is, or
        `auth=False`); pages on the typed client use `client()` instead."""
        return parsed(await self._send(method, path, json=json, params=params, headers=headers, auth=auth))

    def client(self, *, auth: bool = True) -> CivicfundClient:
        """The typed API client (one method per operation of the API document) as the signed-in
        person, or anonymous with `auth=False`; refusals raise `ApiFailure`."""

        async def send(method: str, url: str, **kwargs: Any) -> httpx.Response:
            return await self._send(method, url, auth=auth, **kwargs)

        return RoutedClient(send, self.web.gateway.http)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: dict[str, str] | None = None,
        content: str | bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> httpx.Response:
        """An expired access token is refreshed first; a token the API refuses is refreshed once;
        a session that cannot be refreshed ends with `LoginRequired`."""
        gateway = self.web.gateway
        token = await self._fresh_token() if auth and self.session else None
        kwargs: dict[str, Any] = {
            "json": json,
            "data": data,
            "content": content,
            "params": params,
            "headers": headers,
            "request_id": self.request_id,
            "client_ip": self.client_ip,
        }
        try:
            return await gateway.send(method, path, token=token, **kwargs)
        except ApiFailure as failure:
            if failure.status != 401 or token is None:
                raise
        token = await self._refresh(force=True)
        try:
            return await gateway.send(method, path, token=token, **kwargs)
        except ApiFailure as failure:
            if failure.status == 401:
                await self._end_session()
                raise LoginRequired(self.current_path, expired=True) from failure
            raise

    async def _fresh_token(self) -> str:
        assert self.session is not None
        margin_ms = self.settings.token_refresh_margin_s * 1000
        if int(self.session.get("access_exp_ms", 0)) - margin_ms > epoch_ms():
            return str(self.session["access_token"])
        return await self._refresh(force=False)

    async def _refresh(self, *, force: bool) -> str:
        assert self.session is not None
        sid_hash = self.session["_id"]
        lock = self.web.refresh_locks.setdefault(sid_hash, asyncio.Lock())
        async with lock:
            latest = await self.web.sessions.get(sid_hash)
            if latest is None:
                await self._end_session()
                raise LoginRequired(self.current_path, expired=True)
            if latest.get("access_token") != self.session.get("access_token"):
                # Another request of this session refreshed while this one waited.
                self.session = latest
                return str(latest["access_token"])
            margin_ms = self.settings.token_refresh_margin_s * 1000
            if not force and int(latest.get("access_exp_ms", 0)) - margin_ms > epoch_ms():
                return str(latest["access_token"])
            try:
                api = self.web.gateway.client(request_id=self.request_id, client_ip=self.client_ip)
                tokens = await api.gateway_refresh(body={"refresh_token": latest["refresh_token"]})
            except ApiFailure as failure:
                if failure.status in (400, 401, 403, 422):
                    await self._end_session()
                    raise LoginRequired(self.current_path, expired=True) from failure
                raise
            self._apply_tokens(latest, tokens)
            await self.web.sessions.put(latest)
            self.session = latest
            return str(latest["access_token"])

    def _apply_tokens(self, session: dict[str, Any], tokens: Mapping[str, Any]) -> None:
        session["access_token"] = tokens["access_token"]
        session["refresh_token"] = tokens["refresh_token"]
        session["access_exp_ms"] = epoch_ms() + int(tokens.get("expires_in", 900)) * 1000
        user = dict(session.get("user") or {})
        user.update(tokens.get("user") or {})
        session["user"] = user

    # -- signing in and out ----------------------------------------------------------------

    async def sign_in(self, tokens: Mapping[str, Any]) -> None:
        """Start a session from a login answer (tokens + user); roles come from `/auth/me`."""
        sid = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        session: dict[str, Any] = {
            "_id": hash_sid(sid),
            "created_ms": epoch_ms(),
            "expires_ms": epoch_ms() + self.settings.session_ttl_s * 1000,
            "expires": now + timedelta(seconds=self.settings.session_ttl_s),
        }
        self._apply_tokens(session, tokens)
        session["user_id"] = session["user"].get("id")
        try:
            me = await self.web.gateway.client(
                session["access_token"], request_id=self.request_id
            ).gateway_me()
            session["user"].update(me)
        except ApiFailure as failure:
            log.warning("me_unavailable_at_login", error=str(failure))
        old = self.session
        await self.web.sessions.put(session)
        if old is not None:
            await self.web.sessions.delete(old["_id"])
        self.session = session
        self._cookies.append((self.settings.session_cookie, sid, self.settings.session_ttl_s))
        # A new login gets a new CSRF token (no fixation across the sign-in).
        self.csrf_token = secrets.token_urlsafe(32)
        self._cookies.append((self.settings.csrf_cookie, self.csrf_token, None))
        if session["user"].get("locale") in self.settings.locales:
            self.set_locale(str(session["user"]["locale"]))

    async def refresh_profile(self) -> None:
        """Re-read `/auth/me` into the session (after a profile change or a new role)."""
        if self.session is None:
            return
        me = await self.client().gateway_me()
        self.session["user"].update(me)
        await self.web.sessions.put(self.session)

    async def renew_tokens(self) -> None:
        """New tokens now (a role was just given: the access token carries roles), then the
        profile from `/auth/me`."""
        if self.session is None:
            return
        await self._refresh(force=True)
        await self.refresh_profile()

    async def replace_tokens(self, tokens: Mapping[str, Any]) -> None:
        """A password change answers new tokens for this session (the others are logged out)."""
        if self.session is None:
            return
        self._apply_tokens(self.session, tokens)
        await self.web.sessions.put(self.session)

    async def sign_out(self) -> None:
        if self.session is not None:
            try:
                api = self.web.gateway.client(request_id=self.request_id)
                await api.gateway_logout(body={"refresh_token": self.session["refresh_token"]})
            except ApiFailure as failure:
                log.info("logout_not_confirmed", error=str(failure))
        await self._end_session()

    async def _end_session(self) -> None:
        if self.session is not None:
            await self.web.sessions.delete(self.session["_id"])
            self.web.refresh_locks.pop(self.session["_id"], None)
        self.session = None
        self._deleted.append(self.settings.session_cookie)

    # -- answers ---------------------------------------------------------------------------

    def flash(self, message: str, kind: str = "success") -> None:
        """A one-time message shown on the next page (already translated by the caller)."""
        self._cookies.append((FLASH_COOKIE, quote(f"{kind}|{message}"[:600]), 120))

    def _take_flash(self) -> dict[str, str] | None:
        raw = self.request.cookies.get(FLASH_COOKIE)
        if not raw:
            return None
        kind, _, message = unquote(raw).partition("|")
        self._deleted.append(FLASH_COOKIE)
        return {"kind": kind if kind in ("success", "info", "error") else "info", "message": message}

    def context(self, **extra: Any) -> dict[str, Any]:
        return {
            "site": self,
            "user": self.user,
            "csrf_token": self.csrf_token,
            "request_path": self.request.url.path,
            "current_path": self.current_path,
            "flash": self._take_flash(),
            "stripe_js_url": self.settings.stripe_js_url,
            "stripe_publishable_key": self.settings.stripe_publishable_key,
            **extra,
        }

    def render(self, template: str, status: int = 200, headers: dict[str, str] | None = None,
               **context: Any) -> HTMLResponse:  # fmt: skip
        html = self.web.templates.render(self.locale, template, self.context(**context))
        response = HTMLResponse(html, status_code=status, headers=headers)
        response.headers["content-language"] = self.locale
        response.headers["vary"] = "Cookie, Accept-Language"
        response.headers["cache-control"] = "no-store" if self.user else "private, no-cache"
        return self.finish(response)

    def redirect(self, url: str, status: int = 303) -> Response:
        return self.finish(RedirectResponse(url, status_code=status))

    def finish(self, response: Response) -> Response:
        for name in self._deleted:
            if name not in {c[0] for c in self._cookies}:
                response.delete_cookie(name, path="/", httponly=True, samesite="lax",
                                       secure=self.settings.secure_cookies)  # fmt: skip
        for name, value, max_age in self._cookies:
            response.set_cookie(
                name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                secure=self.settings.secure_cookies,
            )  # fmt: skip
        return response

    def check_csrf(self, form: FormData) -> None:
        sent = str(form.get("csrf", ""))
        cookie = self.request.cookies.get(self.settings.csrf_cookie, "")
        if not cookie or not sent or not hmac.compare_digest(sent, cookie):
            raise FormExpired()


def get_web(request: Request) -> Web:
    # Also called outside routing (error pages), so not through servicekit's component().
    return request.app.state.ctx.get(Web)


async def get_site(request: Request, web: Annotated[Web, Depends(get_web)]) -> Site:
    sid = request.cookies.get(web.settings.session_cookie)
    session = await web.sessions.get(hash_sid(sid)) if sid else None
    site = Site(request, web, session)
    if sid and session is None:
        site._deleted.append(web.settings.session_cookie)
    return site


SiteDep = Annotated[Site, Depends(get_site)]


async def signed_in(site: SiteDep) -> Site:
    if site.user is None:
        raise LoginRequired(site.current_path)
    return site


SignedIn = Annotated[Site, Depends(signed_in)]


async def checked_form(request: Request, site: SiteDep) -> FormData:
    """The submitted form, after its CSRF token was checked against this browser's."""
    form = await request.form()
    site.check_csrf(form)
    return form


Form = Annotated[FormData, Depends(checked_form)]


def login_url(next_url: str, expired: bool = False) -> str:
    return f"/login?next={quote(safe_next(next_url), safe='/')}" + ("&expired=1" if expired else "")
