"""One JSON error format for the whole platform.

    {"error": {"code": "not_found", "message": "campaign not found", "details": [...],
               "request_id": "..."}}

`code` is machine-readable and stable; `message` is for humans; `details` is optional
(validation errors list the failing fields).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .logging import get_logger
from .openapi import allowed_methods

log = get_logger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
    504: "upstream_timeout",
}


class DomainError(Exception):
    """A refusal with a stable machine-readable `code`, raised by domain modules and use cases.

    No I/O here, so pure domain modules may import it. `install_error_handlers` maps it (and
    its HTTP-flavoured subclass `ApiError`) to the platform error body with `status`."""

    def __init__(
        self,
        code: str,
        status: int = 409,
        message: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code
        self.status = status
        self.message = message or code.replace("_", " ")
        self.details = details
        self.headers = headers
        super().__init__(self.message)


class ApiError(DomainError):
    """Raise from any endpoint (or domain adapter) to answer with the platform error body.

    The same thing as `DomainError` with the HTTP status first (the older spelling)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(code, status, message, details, headers)


def error_body(code: str, message: str, request_id: str | None, details: Any = None) -> dict:
    err: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if details:
        err["details"] = details
    return {"error": err}


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    request_id = request.scope.get("state", {}).get("request_id")
    return JSONResponse(error_body(code, message, request_id, details), status_code=status, headers=headers)


def _clean_validation_errors(errors: list[dict]) -> list[dict]:
    # pydantic's `input`/`ctx` can hold whole request bodies or exception objects: keep the
    # part a client needs to fix its request.
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)  # ApiError included: one mapping for every refusal
    async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return error_response(request, exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(
            request, 422, "validation_error", "request is not valid", _clean_validation_errors(exc.errors())
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Starlette's Allow names the methods of the first route on the path only; a path
            # served by several routes (GET and PATCH of one object) accepts all of theirs.
            allowed = allowed_methods(request.app, request.scope)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
        return error_response(request, exc.status_code, code, message, headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        return error_response(request, 500, "internal_error", "internal error")
