"""Rate limits at the edge (the `limits` library) and the login throttle.

Memory storage by default (one replica); with `REDIS_URL` every replica shares the counters.
Per client IP on everything but health and JWKS, per user when the request carries a token
this gateway signed, and stricter buckets for account creation, login, token requests,
password-reset requests and pledge creation. Over the limit: 429 with `Retry-After`.
If the limit store is unreachable the request goes through (availability first) and a
warning is logged.
"""

from __future__ import annotations

import hmac
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.app import ServiceContext
from servicekit.errors import error_body
from servicekit.logging import get_logger

from .keys import KeyRing
from .settings import Settings

log = get_logger(__name__)

EXEMPT_PATHS = {"/livez", "/readyz", "/metrics", "/.well-known/jwks.json"}
SENSITIVE_POSTS = (
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/password-reset",
    "/api/v1/auth/verify-email/resend",
    "/oauth/token",
)
PLEDGE_POSTS = ("/api/v1/payments/pledges",)


def make_storage(settings: Settings) -> Storage:
    if settings.redis_url:
        uri = settings.redis_url.replace("redis://", "async+redis://", 1)
        return RedisStorage(uri, implementation="redispy", key_prefix=f"{settings.bus_namespace}gateway")
    return MemoryStorage()


class LocalWindows:
    """Fixed windows in this process's memory (one replica, no `REDIS_URL`): a dict lookup per
    hit and no await. `limits`' own memory storage takes a lock, schedules an expiry task and
    builds a key string per hit, two of which a proxied request makes: an eighth of its CPU.
    Same semantics: a window opens at its first hit and lasts the item's period."""

    SWEEP_EVERY_S = 60.0

    def __init__(self) -> None:
        # (bucket, key, amount, period) -> [count, window end (monotonic seconds)]
        self._windows: dict[tuple[str, str, int, int], list[float]] = {}
        self._next_sweep = time.monotonic() + self.SWEEP_EVERY_S

    def hit(self, item: RateLimitItem, bucket: str, key: str) -> int | None:
        """Count one request; None if allowed, else seconds until the window resets."""
        now = time.monotonic()
        if now >= self._next_sweep:
            self._sweep(now)
        slot = (bucket, key, item.amount, item.get_expiry())
        window = self._windows.get(slot)
        if window is None or window[1] <= now:
            self._windows[slot] = [1, now + slot[3]]
            return None if item.amount >= 1 else max(1, slot[3])
        window[0] += 1
        if window[0] <= item.amount:
            return None
        return max(1, math.ceil(window[1] - now))

    def clear(self) -> None:
        self._windows.clear()

    def _sweep(self, now: float) -> None:
        # Closed windows of keys that stopped sending would otherwise stay forever.
        self._next_sweep = now + self.SWEEP_EVERY_S
        self._windows = {slot: w for slot, w in self._windows.items() if w[1] > now}


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        # Fixed windows in memory when there is one replica; `limits` on Redis when replicas share.
        self.local = None if settings.redis_url else LocalWindows()
        self.storage = make_storage(settings)
        self.fixed = FixedWindowRateLimiter(self.storage)
        self.moving = MovingWindowRateLimiter(self.storage)
        self.ip = parse(settings.rate_limit_ip)
        self.user = parse(settings.rate_limit_user)
        self.sensitive = parse(settings.rate_limit_sensitive)
        self.pledge = parse(settings.rate_limit_pledge)
        self.failures_account = parse(settings.login_failures_per_account)
        self.failures_ip = parse(settings.login_failures_per_ip)

    async def hit(self, item: RateLimitItem, *key: str) -> int | None:
        """Count one request; None if allowed, else seconds until the window resets."""
        if self.local is not None and len(key) == 2:
            return self.local.hit(item, key[0], key[1])
        try:
            if await self.fixed.hit(item, *key):
                return None
            stats = await self.fixed.get_window_stats(item, *key)
        except Exception as exc:  # the limit store is down: serve rather than refuse everyone
            log.warning("rate_limit_store_unavailable", error=str(exc))
            return None
        return max(1, math.ceil(stats.reset_time - time.time()))

    # -- login throttle: counts failures only, in a moving window ------------------------------

    async def login_blocked(self, account: str, ip: str) -> int | None:
        try:
            for item, key in ((self.failures_account, account), (self.failures_ip, ip)):
                if not await self.moving.test(item, "login-failure", key):
                    stats = await self.moving.get_window_stats(item, "login-failure", key)
                    return max(1, math.ceil(stats.reset_time - time.time()))
        except Exception as exc:
            log.warning("rate_limit_store_unavailable", error=str(exc))
        return None

    async def login_failed(self, account: str, ip: str) -> None:
        try:
            await self.moving.hit(self.failures_account, "login-failure", account)
            await self.moving.hit(self.failures_ip, "login-failure", ip)
        except Exception as exc:
            log.warning("rate_limit_store_unavailable", error=str(exc))

    async def login_succeeded(self, account: str) -> None:
        try:
            await self.moving.clear(self.failures_account, "login-failure", account)
        except Exception as exc:
            log.warning("rate_limit_store_unavailable", error=str(exc))


def client_ip(scope: Scope) -> str:
    """The caller's address; for the web site's own API calls, the visitor's (the site proves it
    is the site with the shared secret, so nobody else can pick the address counted)."""
    client = scope.get("client")
    address = client[0] if client else "unknown"
    secret = scope["app"].state.ctx.settings.site_proxy_secret if "app" in scope else ""
    if secret:
        sent_secret = sent_ip = None
        for key, value in scope.get("headers", []):
            if key == b"x-site-secret":
                sent_secret = value
            elif key == b"x-client-ip":
                sent_ip = value
        if sent_ip and sent_secret is not None and hmac.compare_digest(sent_secret, secret.encode()):
            return sent_ip.decode("latin-1")[:64]
    return address


def _bearer(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def request_checks(
    scope: Scope, limits: RateLimits, ctx: ServiceContext, ip: str, token: str | None
) -> list[tuple[RateLimitItem, str, str]]:
    """The buckets one request counts in: its IP, its user or city client (a token this gateway
    signed), and the stricter ones for sensitive POSTs and pledge creation."""
    path, method = scope["path"].rstrip("/"), scope["method"]
    checks: list[tuple[RateLimitItem, str, str]] = [(limits.ip, "ip", ip)]
    claims = None
    if token is not None:
        settings = ctx.settings
        claims = ctx.get(KeyRing).peek(token, settings.jwt_issuer, settings.jwt_audience)
    who = f"{claims.get('kind', 'user')}:{claims['sub']}" if claims else None
    if who is not None:
        checks.append((limits.user, "user", who))
    if method == "POST" and path.startswith(SENSITIVE_POSTS):
        checks.append((limits.sensitive, f"sensitive{path}", ip))
    if method == "POST" and path.startswith(PLEDGE_POSTS):
        checks.append((limits.pledge, "pledge", who or ip))
    return checks


def rate_limited(retry_after: int, request_id: str | None) -> JSONResponse:
    return JSONResponse(
        error_body("rate_limited", "too many requests, slow down", request_id),
        status_code=429,
        headers={"Retry-After": str(retry_after)},
    )


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        ctx = scope["app"].state.ctx
        limits = ctx.get(RateLimits)
        if not limits.enabled:
            await self.app(scope, receive, send)
            return
        for item, bucket, key in request_checks(scope, limits, ctx, client_ip(scope), _bearer(scope)):
            retry_after = await limits.hit(item, bucket, key)
            if retry_after is not None:
                request_id = scope.get("state", {}).get("request_id")
                await rate_limited(retry_after, request_id)(scope, receive, send)
                return
        await self.app(scope, receive, send)
