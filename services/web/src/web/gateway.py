"""The site's only way to business data: the gateway's public API, called with the signed-in
person's access token like any other client. Every rule and permission stays in the services;
an answer the API refuses comes back as `ApiFailure` with the platform error body's fields.

Pages call the typed client generated from the API document (`civicfund_client`: one method per
operation, TypedDict answers) through `site.client()`; `Gateway.call(method, path, ...)` remains
for pages that still name paths. Both go through one transport, `SiteClient._call`: one pooled
httpx client, per-request token / request id / client address headers, and the one place where
the client's `ApiError` (and a silent platform) becomes `ApiFailure`."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from civicfund_client import ApiError, CivicfundClient
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


class Send(Protocol):
    """One request to the gateway, answered (2xx/3xx) or raised as `ApiFailure`."""

    def __call__(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
    ) -> Awaitable[httpx.Response]: ...


class SiteClient(CivicfundClient):
    """The typed client on the site's pooled connection, for one caller (token and headers)."""

    async def _call(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        content: str | bytes | None = None,
    ) -> httpx.Response:
        try:
            return await super()._call(
                method, url, params=params, headers=headers, json=json, data=data, content=content
            )
        except ApiError as error:
            raise _failure(error.response) from error
        except httpx.TimeoutException as exc:
            raise ApiFailure(504, "upstream_timeout", "the platform did not answer in time") from exc
        except httpx.HTTPError as exc:
            log.warning("gateway_unreachable", path=url, error=str(exc))
            raise ApiFailure(503, "unavailable", "the platform is unavailable, try again shortly") from exc
        finally:
            # httpx keeps Set-Cookie answers in the shared jar; the API sets none, but a BFF must
            # never carry one person's cookies into another's request.
            self._client.cookies.clear()


class RoutedClient(CivicfundClient):
    """The typed client whose requests go through `send` (the site's: token refreshed on the
    server, a refused token refreshed once) instead of straight to the connection."""

    def __init__(self, send: Send, http: httpx.AsyncClient) -> None:
        super().__init__(str(http.base_url), client=http)
        self._send = send

    async def _call(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        content: str | bytes | None = None,
    ) -> httpx.Response:
        return await self._send(
            method, url, params=params, headers=headers, json=json, data=data, content=content
        )


def parsed(response: httpx.Response) -> Any:
    """The answer's JSON, None for an empty answer."""
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


class Gateway:
    """The pooled HTTP connection to the gateway. `token` is the caller's access token (None for
    anonymous calls); `request_id` ties the API call to the page request in every log."""

    def __init__(self, base_url: str, timeout_s: float, proxy_secret: str = "") -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_s, connect=2.0),
            # A BFF must never carry one person's cookies into another's request.
            cookies=None,
            follow_redirects=False,
        )
        self.proxy_secret = proxy_secret

    async def close(self) -> None:
        await self.http.aclose()

    def client(
        self, token: str | None = None, *, request_id: str | None = None, client_ip: str | None = None
    ) -> SiteClient:
        """A typed client for one caller on the shared connection (cheap: nothing is opened)."""
        headers: dict[str, str] = {}
        if request_id:
            headers["x-request-id"] = request_id
        if client_ip and self.proxy_secret:
            # Only the site, holding the shared secret, may say whom it calls for (rate limits).
            headers["x-site-secret"] = self.proxy_secret
            headers["x-client-ip"] = client_ip
        return SiteClient(str(self.http.base_url), token, client=self.http, headers=headers)

    async def send(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        content: str | bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        request_id: str | None = None,
        client_ip: str | None = None,
    ) -> httpx.Response:
        query = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        api = self.client(token, request_id=request_id, client_ip=client_ip)
        return await api._call(
            method, path, params=query, headers=headers, json=json, data=data, content=content
        )

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
        """A request by path (the pages not on the typed client yet), answered as parsed JSON."""
        response = await self.send(
            method, path, token=token, json=json, params=params, headers=headers,
            request_id=request_id, client_ip=client_ip,
        )  # fmt: skip
        return parsed(response)
