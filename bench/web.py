"""How fast and how heavy are the site's pages? Server time of the home page and of a campaign
page through the gateway (p50/p95, sequential requests, as one visitor would load them), and each
page's weight: HTML + CSS + JS as transferred (gzip) and uncompressed, without Stripe.js.

    .venv/bin/python bench/web.py                     # starts its own stack on free ports
    .venv/bin/python bench/web.py --site http://127.0.0.1:8000 --campaign <id>

Targets (issue 10): campaign page p95 under 100 ms on the local stack; under 60 KB per page
(transferred) without Stripe.js. Prints the figures; nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import re
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def own_stack() -> Iterator[str]:
    sys.path.insert(0, str(ROOT / "tools" / "devstack" / "src"))
    from devstack.running import throwaway

    print("starting a stack on free ports ...", flush=True)
    env = {"LOG_LEVEL": "WARNING", "ADMIN_EMAILS": "bench-admin@example.localhost",
           "RATE_LIMIT_IP": "100000000/minute", "RATE_LIMIT_USER": "100000000/minute"}  # fmt: skip
    with throwaway("bench", env) as run:
        yield run.stack.url("gateway")


async def token(client: httpx.AsyncClient, email: str) -> str:
    password = "bench password, long enough"
    await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password, "display_name": "Bench"}
    )
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    login.raise_for_status()
    return str(login.json()["access_token"])


async def make_campaigns(site: str, count: int) -> str:
    """`count` live campaigns made through the API (the owner submits, an admin approves)."""
    async with httpx.AsyncClient(base_url=site, timeout=30) as client:
        owner = {"Authorization": f"Bearer {await token(client, 'bench-owner@example.localhost')}"}
        admin = {"Authorization": f"Bearer {await token(client, 'bench-admin@example.localhost')}"}
        first = ""
        for i in range(count):
            body = {
                "title": f"Neighbourhood project {i}", "summary": "A bench campaign.",
                "description": "## The idea\n\nA **shared** garden.\n\n" + "Some story text. " * 60,
                "municipality": "montreuil", "goal": 500_000 + i, "category": "environment",
            }  # fmt: skip
            created = await client.post(
                "/api/v1/campaigns/campaigns",
                json=body,
                headers={**owner, "Idempotency-Key": uuid.uuid4().hex},
            )
            created.raise_for_status()
            cid = created.json()["id"]
            (await client.post(f"/api/v1/campaigns/campaigns/{cid}/submit", headers=owner)).raise_for_status()
            moderation = await client.post(
                f"/api/v1/campaigns/campaigns/{cid}/moderation", json={"decision": "approve"}, headers=admin
            )
            moderation.raise_for_status()
            first = first or cid
        return first


def pct(values: list[float], p: float) -> float:
    data = sorted(values)
    return data[min(len(data) - 1, int(len(data) * p))] if data else float("nan")


async def timing(client: httpx.AsyncClient, path: str, n: int) -> tuple[float, float, int]:
    for _ in range(5):  # warm-up
        await client.get(path)
    latencies = []
    status = 0
    for _ in range(n):
        start = time.perf_counter()
        response = await client.get(path)
        latencies.append((time.perf_counter() - start) * 1000)
        status = response.status_code
    return pct(latencies, 0.5), pct(latencies, 0.95), status


async def weight(client: httpx.AsyncClient, path: str) -> tuple[int, int]:
    """(bytes transferred with gzip, uncompressed bytes) for the page and its CSS/JS, Stripe.js excluded."""
    page = await client.get(path, headers={"Accept-Encoding": "identity"})
    html = page.content
    assets = re.findall(rb'<(?:link[^>]+href|script[^>]+src)="(/static/[^"]+\.(?:css|js))"', html)
    raw_total = len(html)
    gz_total = len(gzip.compress(html))
    for asset in sorted(set(assets)):
        body = (await client.get(asset.decode(), headers={"Accept-Encoding": "identity"})).content
        raw_total += len(body)
        gz_total += len(gzip.compress(body))
    return gz_total, raw_total


async def run(site: str, campaign: str | None, n: int) -> None:
    campaign = campaign or await make_campaigns(site, 30)
    async with httpx.AsyncClient(base_url=site, timeout=30, headers={"Accept-Language": "fr"}) as client:
        print(f"\n{'page':<22}{'status':>7}{'p50 ms':>9}{'p95 ms':>9}{'gzip KB':>9}{'raw KB':>9}")
        for label, path in (("home /", "/"), ("campaign page", f"/campaigns/{campaign}")):
            p50, p95, status = await timing(client, path, n)
            gz, raw = await weight(client, path)
            print(f"{label:<22}{status:>7}{p50:>9.1f}{p95:>9.1f}{gz / 1024:>9.1f}{raw / 1024:>9.1f}")
    print("\ntargets: campaign page p95 < 100 ms; < 60 KB per page transferred, without Stripe.js")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--site", help="a running stack's gateway (default: start one)")
    parser.add_argument("--campaign", help="a live campaign id on that stack")
    parser.add_argument("-n", type=int, default=200, help="requests per page")
    args = parser.parse_args()
    if args.site:
        asyncio.run(run(args.site, args.campaign, args.n))
    else:
        with own_stack() as site:
            asyncio.run(run(site, None, args.n))


if __name__ == "__main__":
    main()
