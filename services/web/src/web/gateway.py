"""The site's only way to business data: the gateway's public API, called with the signed-in
person's access token like any other client. Every rule and permission stays in the services;
an answer the API refuses comes back as `ApiFailure` with the platform error body's fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from servicekit.logging import get_logger

log = get_logger(__name__)


@dataclass
class ApiFailure(Exception):
    status: int
    code: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)
    request_id: str | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def field_errors(self) -> dict[str, str]:
        """Validation details keyed by the field they name (the last part of `loc`), for forms."""
        errors: dict[str, str] = {}
        for detail in self.details:
            loc = [str(part) for part in detail.get("loc", []) if part not in ("body", "query", "path")]
            name = loc[0] if loc else "__all__"
            errors.setdefault(name, str(detail.get("msg", self.message)))
        return errors


def _failure(response: httpx.Response) -> ApiFailure:
    try:
        body = response.json().get("error", {})
    except (ValueError, AttributeError):
        body = {}
    return ApiFailure(
        status=response.status_code,
        code=str(body.get("code") or "error"),
        message=str(body.get("message") or response.reason_phrase or "error"),
        details=body.get("details") or [],
        request_id=body.get("request_id") or response.headers.get("x-request-id"),
    )


class Gateway:
    """A pooled HTTP client to the gateway. `token` is the caller's access token (None for
    anonymous calls); `request_id` ties the API call to the page request in every log."""

    def __init__(self, base_url: str, timeout_s: float, proxy_secret: str = "") -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_s, connect=2.0),
            # A BFF must never carry one person's cookies into another's request.
            cookies=None,
            follow_redirects=False,
        )
        self.proxy_secret = proxy_secret

    async def close(self) -> None:
        await self.client.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        request_id: str | None = None,
        client_ip: str | None = None,
    ) -> Any:
        sent = dict(headers or {})
        if token:
            sent["authorization"] = f"Bearer {token}"
        if request_id:
            sent["x-request-id"] = request_id
        if client_ip and self.proxy_secret:
            sent["x-site-secret"] = self.proxy_secret
            sent["x-client-ip"] = client_ip
        query = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        try:
            response = await self.client.request(method, path, json=json, params=query, headers=sent)
        except httpx.TimeoutException as exc:
            raise ApiFailure(504, "upstream_timeout", "the platform did not answer in time") from exc
        except httpx.HTTPError as exc:
            log.warning("gateway_unreachable", path=path, error=str(exc))
            raise ApiFailure(503, "unavailable", "the platform is unavailable, try again shortly") from exc
        self.jar_clear()
        if response.status_code >= 400:
            raise _failure(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def jar_clear(self) -> None:
        # httpx keeps Set-Cookie answers in the client's jar; the API sets none, but be sure.
        self.client.cookies.clear()
