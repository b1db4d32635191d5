"""structlog configuration and the request-id middleware.

Context (service, request_id, correlation_id, event_id) travels in contextvars so every log
line written while handling a request or an event carries it without being passed around.
"""

from __future__ import annotations

import json as stdlib_json
import logging
import sys
import threading
import time
import uuid
from typing import Any

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_QUIET_PATHS = {"/livez", "/readyz", "/metrics"}
_access_log = structlog.get_logger("access")

# orjson renders what the stdlib's json did, as bytes and several times faster. Datetimes and
# dataclasses still go to structlog's fallback (their repr), as they did; keys that are not
# strings become strings, as json made them. (UUIDs and plain enums now read as their value,
# not their repr.)
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


# orjson writes non-ASCII as UTF-8 where json escaped it. Three such characters are line breaks
# to many readers (Python's str.splitlines, editors, log shippers): a request path carrying one
# would cut its line in two. They are escaped as json did.
_LINE_BREAKS = ((b"\xc2\x85", b"\\u0085"), (b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


def _dumps(event: dict[str, Any], **kw: Any) -> bytes:
    try:
        line = orjson.dumps(event, default=kw.get("default"), option=_ORJSON_OPTIONS)
    except TypeError:
        # What orjson refuses and json renders (an integer over 64 bits): the line is still written.
        return stdlib_json.dumps(event, **kw).encode()
    if b"\xc2\x85" in line or b"\xe2\x80" in line:
        for raw, escaped in _LINE_BREAKS:
            line = line.replace(raw, escaped)
    return line


class _Stdout:
    """Where every structlog logger writes: the sys.stdout of the moment of writing. Loggers are
    cached on first use, so whatever they hold must stay right when logging is configured again
    (each app start does) or when sys.stdout is swapped (pytest's capture): they all hold this
    one object, which looks sys.stdout up per line."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def msg(self, message: str | bytes) -> None:
        out = sys.stdout
        with self._lock:
            if isinstance(message, bytes):
                buffer = getattr(out, "buffer", None)
                if buffer is not None:
                    # Whatever print() or the stdlib's logging left in the text layer goes first.
                    out.flush()
                    buffer.write(message + b"\n")
                    buffer.flush()
                    return
                message = message.decode()
            out.write(message + "\n")
            out.flush()

    log = debug = info = warn = warning = fatal = failure = err = error = critical = exception = msg


_STDOUT = _Stdout()
# One processor list and one wrapper class for the process's lifetime, changed in place by
# configure_logging: cached loggers keep references to both, so a new service name, renderer or
# level reaches the loggers already in use too.
_PROCESSORS: list[structlog.types.Processor] = []
_ServiceLogger: type = type("ServiceLogger", (structlog.BoundLoggerBase,), {})


def _set_level(level: int) -> None:
    # The filtering logger of that level has a method per level, a no-op below it: copying them
    # onto the one class keeps that (no cost for a filtered call) without replacing the class.
    for name, value in vars(structlog.make_filtering_bound_logger(level)).items():
        if not name.startswith("__"):
            setattr(_ServiceLogger, name, value)


def configure_logging(service: str, level: str = "INFO", json: bool | None = None) -> None:
    if json is None:
        json = not sys.stdout.isatty()
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(serializer=_dumps) if json else structlog.dev.ConsoleRenderer()
    )

    def add_service(_logger: object, _name: str, event: dict) -> dict:
        event.setdefault("service", service)
        return event

    _PROCESSORS[:] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        renderer,
    ]
    _set_level(logging.getLevelName(level.upper()))
    structlog.configure(
        processors=_PROCESSORS,
        wrapper_class=_ServiceLogger,
        logger_factory=lambda *_args: _STDOUT,
        cache_logger_on_first_use=True,
    )
    # Libraries log through the stdlib; keep their warnings, drop their chatter.
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="%(name)s %(levelname)s %(message)s")


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


def current_correlation_id() -> str | None:
    ctx = structlog.contextvars.get_contextvars()
    return ctx.get("correlation_id") or ctx.get("request_id")


class RequestIdMiddleware:
    """Accept or create `X-Request-ID`, bind it for logging, and return it on the response."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for key, value in scope.get("headers", []):
            if key == b"x-request-id":
                request_id = value.decode("latin-1")[:128]
                break
        if not request_id or not request_id.isprintable():
            request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(
            service=self.service, request_id=request_id, correlation_id=request_id
        ):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                path = scope.get("path", "")
                if path not in _QUIET_PATHS:
                    _access_log.info(
                        "request",
                        method=scope.get("method"),
                        path=path,
                        status=status,
                        duration_ms=round((time.perf_counter() - start) * 1000, 2),
                    )
