"""The campaign page in one call: campaign (with its totals), labels and the caller's own pledge,
fetched concurrently from campaigns, endorsements and payments. A part that fails or is slow
becomes null and is named in `unavailable`; the page still answers. Only a campaign the caller
may not see (404/401/403 from campaigns) fails the whole page."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from servicekit.errors import DomainError
from servicekit.logging import get_logger

from .deps import SettingsDep, UpstreamClientDep
from .proxy import new_traceparent

log = get_logger(__name__)
router = APIRouter(prefix="/api/v1/pages", tags=["pages"])


class CampaignPage(BaseModel):
    campaign: dict[str, Any] | None = Field(description="campaigns' campaign view, null if unavailable")
    totals: dict[str, Any] | None = Field(description="raised / matched / backers, null if unavailable")
    labels: list[dict[str, Any]] | None = Field(description="cities' granted labels, null if unavailable")
    commitments: list[dict[str, Any]] | None = Field(
        description="cities' match-funding commitments, null if unavailable"
    )
    my_pledge: dict[str, Any] | None = Field(
        description="the caller's pledge to this campaign; null if none, anonymous or unavailable"
    )
    unavailable: list[str] = Field(description="parts that could not be fetched this time")


class PartFailed(Exception):
    pass


class Hidden(Exception):
    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return [x for x in body if isinstance(x, dict)]
    if isinstance(body, dict):
        for key in ("items", "labels", "endorsements", "pledges"):
            if isinstance(body.get(key), list):
                return [x for x in body[key] if isinstance(x, dict)]
    raise PartFailed("unexpected shape")


async def _get(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], timeout: float
) -> httpx.Response:
    try:
        return await asyncio.wait_for(client.get(url, headers=headers, timeout=timeout), timeout + 0.5)
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        raise PartFailed(str(exc) or type(exc).__name__) from exc


@router.get("/campaigns/{campaign_id}", response_model=CampaignPage)
async def campaign_page(
    request: Request,
    settings: SettingsDep,
    client: UpstreamClientDep,
    campaign_id: str = Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$"),
) -> CampaignPage:
    timeout = settings.page_part_timeout_s
    request_id = request.scope.get("state", {}).get("request_id") or ""
    headers = {"x-request-id": request_id, "traceparent": new_traceparent(request_id)}
    authorization = request.headers.get("authorization")
    if authorization:
        headers["authorization"] = authorization

    async def campaign() -> dict[str, Any]:
        response = await _get(
            client, f"{settings.upstream_campaigns}/campaigns/{campaign_id}", headers, timeout
        )
        if response.status_code in (401, 403, 404):
            raise Hidden(response.status_code, response.content)
        if response.status_code != 200:
            raise PartFailed(f"status {response.status_code}")
        return response.json()

    async def labels() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        url = settings.upstream_endorsements + settings.page_labels_path.format(id=campaign_id)
        response = await _get(client, url, headers, timeout)
        if response.status_code == 404:
            return [], []
        if response.status_code != 200:
            raise PartFailed(f"status {response.status_code}")
        body = response.json()
        commitments = body.get("commitments") if isinstance(body, dict) else None
        return _items(body), [c for c in commitments or [] if isinstance(c, dict)]

    async def my_pledge() -> dict[str, Any] | None:
        if not authorization:
            return None
        url = settings.upstream_payments + settings.page_pledges_path.format(id=campaign_id)
        response = await _get(client, url, headers, timeout)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PartFailed(f"status {response.status_code}")
        mine = [p for p in _items(response.json()) if p.get("campaign_id") == campaign_id]
        # Several pledges to one campaign (a failed one, then a new one): the latest counts.
        return max(mine, key=lambda p: str(p.get("created_at", ""))) if mine else None

    results = await asyncio.gather(campaign(), labels(), my_pledge(), return_exceptions=True)
    names = ("campaign", "labels", "my_pledge")
    unavailable: list[str] = []
    values: dict[str, Any] = {}
    for name, result in zip(names, results, strict=True):
        if isinstance(result, Hidden):
            message = "campaign not found" if result.status == 404 else "you may not see this campaign"
            code = {401: "unauthenticated", 403: "forbidden", 404: "not_found"}[result.status]
            raise DomainError(code, result.status, message)
        if isinstance(result, BaseException):
            if not isinstance(result, PartFailed | ValueError):
                raise result
            log.warning("page_part_unavailable", part=name, error=str(result))
            unavailable.append(name)
            values[name] = None
        else:
            values[name] = result
    camp = values["campaign"]
    labels_and_commitments = values["labels"] or (None, None)
    totals = camp.get("totals") if isinstance(camp, dict) else None
    if camp is None:
        unavailable.append("totals")
    return CampaignPage(
        campaign=camp,
        totals=totals if isinstance(totals, dict) else None,
        labels=labels_and_commitments[0],
        commitments=labels_and_commitments[1],
        my_pledge=values["my_pledge"],
        unavailable=unavailable,
    )
