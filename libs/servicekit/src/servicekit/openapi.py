"""The API document tells the truth: every operation lists the error answers it can really give,
each with the platform `Error` body, and an unknown method on a known path answers 405 + `Allow`.

The error answers are derived from what the route is made of, so no route has to repeat them:

* always: 422 (the request breaks the document's rules, or a rule the document cannot express;
  `code` says which);
* a request body: 400 (it is not JSON at all);
* an authentication dependency from `servicekit.auth`: 401 (no token, a bad or expired one) and
  403 (the caller may not do this: role, ownership, a city system's token on a person's route);
* a path parameter, or a method that changes something (its body names other objects): 404 (no
  such object, or one the caller may not know about);
* a method that changes something, or an `Idempotency-Key` header: 409 (the object's state
  refuses it, or the key was used for another request or is still running);
* anything a route declares itself with FastAPI's `responses={400: {"description": ...}}` gets
  the `Error` body too.

The gateway adds what only it can answer (rate limits, a service down or slow, bodies over its
limit) when it merges the services' documents.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.types import Scope

REF_PREFIX = "#/components/schemas/"
ERROR_REF: dict[str, str] = {"$ref": f"{REF_PREFIX}Error"}

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "description": "The error body of every Civicfund endpoint (4xx and 5xx), gateway and services alike.",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable, machine-readable"},
                "message": {"type": "string", "description": "for humans"},
                "request_id": {"type": ["string", "null"], "description": "the X-Request-ID of the request"},
                "details": {"type": "array", "items": {}, "description": "e.g. the failing fields"},
            },
        }
    },
}

# What each status means on this platform, with a typical body (shown in /docs and sent by no
# one: examples of error bodies are for readers).
ERROR_ANSWERS: dict[int, tuple[str, str, str]] = {
    400: ("The body is not JSON, or a link's token is not valid", "bad_request", "There was an error parsing the body"),
    401: ("No bearer token, or one that is not valid or expired", "unauthenticated", "a bearer token is required"),
    403: ("The caller may not do this", "forbidden", "admin role required"),
    404: ("No such object, or one the caller may not know about", "not_found", "campaign not found"),
    409: (
        "The object's state refuses the change, or the Idempotency-Key was used for another request",
        "conflict",
        "this Idempotency-Key was used for a different request",
    ),
    413: ("The request body is larger than the limit", "payload_too_large", "request body is larger than the limit"),
    422: ("The request breaks a rule (the document's, or one it cannot express)", "validation_error", "request is not valid"),
    429: ("Too many requests: wait for Retry-After seconds", "rate_limited", "too many requests"),
    503: ("A service this needs is down; try again shortly", "unavailable", "the service is unavailable, try again shortly"),
    504: ("A service this needs did not answer in time", "upstream_timeout", "the service did not answer in time"),
}  # fmt: skip

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def error_response_doc(status: int, description: str | None = None) -> dict[str, Any]:
    """The OpenAPI response object of one error status, with the platform `Error` body."""
    meaning, code, message = ERROR_ANSWERS.get(status, ("Error", "error", "error"))
    return {
        "description": description or meaning,
        "content": {
            "application/json": {
                "schema": dict(ERROR_REF),
                "example": {"error": {"code": code, "message": message, "request_id": "4f1c2b7e9d..."}},
            }
        },
    }


@dataclass(frozen=True)
class _Route:
    """What the document and the 405 answer need of one API route, as FastAPI resolved it (with
    its router's prefix and dependencies)."""

    path_format: str
    methods: frozenset[str]
    dependant: Dependant
    path_regex: re.Pattern[str]
    has_body: bool


def api_routes(app: Any) -> Iterator[_Route]:
    """The documented API routes of `app`, included routers flattened (FastAPI keeps included
    routers as nested objects: `app.routes` does not list their routes)."""
    for context in iter_route_contexts(getattr(app, "routes", ())):
        if not isinstance(context.original_route, APIRoute) or not context.include_in_schema:
            continue
        dependant = context.dependant
        if dependant is None or context.path_format is None:
            continue
        yield _Route(
            context.path_format,
            frozenset(context.methods or ()),
            dependant,
            context.path_regex,
            context.body_field is not None,
        )


def _calls(dependant: Dependant) -> Iterable[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _authenticates(route: _Route) -> bool:
    return any(getattr(call, "__module__", "") == "servicekit.auth" for call in _calls(route.dependant))


def _has_idempotency_key(route: _Route) -> bool:
    def params(dependant: Dependant) -> Iterable[str]:
        for param in dependant.header_params:
            yield str(param.field_info.alias or param.name).lower()
        for sub in dependant.dependencies:
            yield from params(sub)

    return "idempotency-key" in set(params(route.dependant))


def _path_params(route: _Route) -> bool:
    def any_path(dependant: Dependant) -> bool:
        return bool(dependant.path_params) or any(any_path(sub) for sub in dependant.dependencies)

    return any_path(route.dependant)


def error_statuses(route: _Route, method: str) -> set[int]:
    """The error answers `route` can give for `method` (see the module's docstring)."""
    statuses = {422}
    if _authenticates(route):
        statuses |= {401, 403}
    if route.has_body:
        statuses.add(400)
    if _path_params(route) or method.upper() not in SAFE_METHODS:
        statuses.add(404)
    if method.upper() not in SAFE_METHODS or _has_idempotency_key(route):
        statuses.add(409)
    return statuses


def document_errors(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    """Add every route's error answers to `schema` (FastAPI's document of `app`), in place."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    # FastAPI documents 422 as {"detail": [...]}; the platform answers {"error": {...}}.
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    paths = schema.get("paths") or {}
    for route in api_routes(app):
        item = paths.get(route.path_format) or {}
        for method in route.methods:
            operation = item.get(method.lower())
            if not isinstance(operation, dict):
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            declared = {int(s) for s in responses if s.isdigit() and int(s) >= 400}
            for status in sorted(error_statuses(route, method) | declared):
                current = responses.get(str(status)) or {}
                description = current.get("description") if status != 422 else None
                responses[str(status)] = error_response_doc(status, description)
    return schema


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return schema
    kept = [b for b in branches if b != {"type": "null"}]
    if len(kept) != 1 or len(kept) == len(branches):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    if rest.get("default", "") is None:
        del rest["default"]
    return {**kept[0], **rest}


def parameters_without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query, header or path parameter is a string on the wire: it is there or it is not, never
    `null`. FastAPI documents `X | None` parameters as `anyOf: [X, null]`, and a client that
    follows the document sends `Idempotency-Key: null` or `?before=null`, which are refused."""
    for item in (schema.get("paths") or {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters") or []:
                if isinstance(parameter.get("schema"), dict):
                    parameter["schema"] = _without_null(parameter["schema"])
    return schema


def install_error_document(app: FastAPI) -> None:
    """`app.openapi()` returns the document with every route's error answers."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = parameters_without_null(document_errors(app, generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def allowed_methods(app: Any, scope: Scope) -> list[str]:
    """The methods the documented routes of `app` accept on this request's path (empty when no
    documented route has this path): what a 405 answer's `Allow` must list."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    methods: set[str] = set()
    for route in api_routes(app):
        if route.path_regex.match(path):
            methods |= route.methods
    return sorted(methods)
