"""One API document: every service's OpenAPI merged with the gateway's own, as users see it.

Service paths get the public prefix (`/campaigns/{id}` -> `/api/v1/campaigns/campaigns/{id}`),
schemas are namespaced (`CampaignOut` -> `campaigns.CampaignOut`, every `$ref` rewritten),
operation ids and tags are prefixed with the service. Each service's document already lists its
operations' error answers with the platform `Error` (servicekit.openapi); the merge keeps that one
`Error` and adds what only the gateway answers: 429 (rate limits, with Retry-After), 413 (a body
over its limit) and, for a service's operations, 503/504 (the service down or slow). A service
that does not answer is left out and named in `x-unavailable-services`; the document is cached
for OPENAPI_CACHE_S.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from servicekit.logging import get_logger
from servicekit.openapi import ERROR_REF, ERROR_SCHEMA, error_response_doc

log = get_logger(__name__)

INTERNAL_PATHS = {"/livez", "/readyz", "/metrics"}
REF_PREFIX = "#/components/schemas/"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

RETRY_AFTER: dict[str, Any] = {
    "description": "seconds to wait before trying again",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}


def _rewrite_refs(node: Any, namespace: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and value == ERROR_REF["$ref"]:
                out[key] = value  # one platform Error for every service, not a copy each
            elif key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                out[key] = f"{REF_PREFIX}{namespace}.{value[len(REF_PREFIX) :]}"
            else:
                out[key] = _rewrite_refs(value, namespace)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, namespace) for v in node]
    return node


def _edge_errors(operation: dict[str, Any], proxied: bool) -> None:
    """What the gateway itself can answer for any operation behind it: its rate limits (429 with
    Retry-After), a body over its limit (413), and for a service's operation the service being
    down or slow (503, 504). The services' own error answers are in their documents already
    (servicekit.openapi)."""
    responses = operation.setdefault("responses", {})
    statuses = [429]
    if "requestBody" in operation:
        statuses.append(413)
    if proxied:
        statuses += [503, 504]
    for status in statuses:
        responses.setdefault(str(status), error_response_doc(status))
    too_many = responses["429"]
    too_many.setdefault("headers", {})["Retry-After"] = RETRY_AFTER


def add_document(
    merged: dict[str, Any],
    doc: dict[str, Any],
    namespace: str,
    path_prefix: str,
    tag_prefix: bool,
    proxied: bool = True,
) -> None:
    doc = _rewrite_refs(doc, namespace)
    for path, item in (doc.get("paths") or {}).items():
        if path in INTERNAL_PATHS:
            continue
        public = f"{path_prefix}{path}" if path_prefix else path
        new_item = {}
        for method, operation in item.items():
            if method not in METHODS or not isinstance(operation, dict):
                new_item[method] = operation
                continue
            operation = dict(operation)
            if operation.get("operationId"):
                operation["operationId"] = f"{namespace}_{operation['operationId']}"
            if tag_prefix:
                operation["tags"] = [f"{namespace}: {t}" for t in operation.get("tags") or []] or [namespace]
            _edge_errors(operation, proxied)
            new_item[method] = operation
        merged["paths"][public] = new_item
    components = doc.get("components") or {}
    for name, schema in (components.get("schemas") or {}).items():
        if name in ("HTTPValidationError", "ValidationError", "Error"):
            continue  # the platform Error, once
        merged["components"]["schemas"][f"{namespace}.{name}"] = schema
    for name, scheme in (components.get("securitySchemes") or {}).items():
        merged["components"].setdefault("securitySchemes", {})[name] = scheme


def _drop_dangling_validation_refs(merged: dict[str, Any]) -> dict[str, Any]:
    dangling = {
        f"{REF_PREFIX}{ns}.{name}"
        for ns in merged.get("x-services", [])
        for name in ("HTTPValidationError", "ValidationError")
    }

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("$ref") in dangling:
                return ERROR_REF
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(merged)


def merge(
    gateway_doc: dict[str, Any], services: dict[str, dict[str, Any]], unavailable: list[str]
) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "openapi": gateway_doc.get("openapi", "3.1.0"),
        "info": {
            "title": "Civicfund API",
            "version": gateway_doc.get("info", {}).get("version", "0.1.0"),
            "description": (
                "Every Civicfund service behind the gateway. Send `Authorization: Bearer <access token>` "
                "(from `/api/v1/auth/login` or `/oauth/token`). Errors always have the body "
                '`{"error": {"code", "message", "request_id", "details"}}`; 429 answers carry `Retry-After`.'
            ),
        },
        "paths": {},
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearer": []}, {}],
        "x-services": ["gateway", *sorted(services)],
        "x-unavailable-services": sorted(unavailable),
    }
    add_document(merged, gateway_doc, "gateway", "", tag_prefix=False, proxied=False)
    for name in sorted(services):
        add_document(merged, services[name], name, f"/api/v1/{name}", tag_prefix=True)
    return _drop_dangling_validation_refs(merged)


class MergedOpenApi:
    """Fetches the services' documents concurrently, merges, caches."""

    def __init__(self, client: httpx.AsyncClient, upstreams: dict[str, str], cache_s: float) -> None:
        self.client = client
        self.upstreams = upstreams
        self.cache_s = cache_s
        self._doc: dict[str, Any] | None = None
        self._built_at = 0.0
        self._lock = asyncio.Lock()

    async def _fetch(self, name: str, base: str) -> dict[str, Any] | None:
        try:
            response = await self.client.get(f"{base.rstrip('/')}/openapi.json", timeout=5.0)
            if response.status_code == 200:
                doc = response.json()
                if isinstance(doc, dict):
                    return doc
        except (httpx.HTTPError, OSError, ValueError) as exc:
            log.warning("openapi_fetch_failed", service=name, error=str(exc))
        return None

    async def document(self, gateway_doc: dict[str, Any]) -> dict[str, Any]:
        async with self._lock:
            if self._doc is not None and time.monotonic() - self._built_at < self.cache_s:
                return self._doc
            names = list(self.upstreams)
            docs = await asyncio.gather(*(self._fetch(n, self.upstreams[n]) for n in names))
            found = {n: d for n, d in zip(names, docs, strict=True) if d is not None}
            missing = [n for n in names if n not in found]
            doc = merge(gateway_doc, found, missing)
            # A partial document is served but not cached for long: the next call tries again.
            self._doc, self._built_at = doc, time.monotonic() - (self.cache_s if missing else 0)
            return doc
