"""Edge protection middlewares: request body size limit and security headers.

(CORS is Starlette's CORSMiddleware with the allow-list from settings; rate limits live in
ratelimit.py.) Error bodies use the platform format from servicekit.errors.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.errors import error_body

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
# /docs and /redoc: Swagger UI / ReDoc served by the gateway itself, started by an inline script.
DOCS_CSP = (
    b"default-src 'none'; script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; "
    b"style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    b"connect-src 'self'; frame-ancestors 'none'"
)


def _error(scope: Scope, status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        error_body(code, message, scope.get("state", {}).get("request_id")), status_code=status
    )


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in ("/docs", "/redoc") else API_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))  # an upstream's Server: see proxy.forward
                present = {k.lower() for k, _ in headers}
                for key, value in [*SECURITY_HEADERS, (b"content-security-policy", csp)]:
                    if key not in present:
                        headers.append((key, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Refuse bodies over `max_bytes` with 413 before any of it reaches a service. A declared
    Content-Length is checked up front; a chunked body is read (up to the limit) and replayed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        too_large = "request body is larger than the limit"
        if declared is not None:
            if not declared.isdigit():
                await _error(scope, 400, "bad_request", "invalid Content-Length")(scope, receive, send)
                return
            if int(declared) > self.max_bytes:
                await _error(scope, 413, "payload_too_large", too_large)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if headers.get(b"transfer-encoding") is None:
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []
        size = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await _error(scope, 413, "payload_too_large", too_large)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)
