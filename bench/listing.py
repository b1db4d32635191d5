"""Does listing cost grow with the number of campaigns? The listing's main queries at 1k, 10k and
50k campaigns, through the gateway and directly against the campaigns service.

    .venv/bin/python bench/listing.py                          # starts its own stack on free ports
    .venv/bin/python bench/listing.py --sizes 1000,10000 --requests 40

The campaigns are written straight into the campaigns service's datastore (nx-27017), built by
the service's own pure functions (`domain.new_campaign`, `domain.apply_transition`,
`store.listing_keys`), so they are what the service would have stored; totals are random. They
are spread over 40 towns (each around its own centre), nine categories and the statuses a real
platform has (mostly live). Each query is then asked `--requests` times in a row from one
connection, as one visitor would: first page, by city, by category, most funded, near a point
(5 km around a town centre), text search (a word in 2 % of campaigns) and a deep cursor page (the
page after the middle of the newest-first listing, the same cursor the service hands out).

Targets (issue 16): p95 under 50 ms at 10k and under 100 ms at 50k on nx-27017. Prints the
figures; nothing here passes or fails. The load generator shares the machine with the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "devstack" / "src"))

from campaigns import domain  # noqa: E402
from campaigns.domain_funding import empty_totals  # noqa: E402
from campaigns.store import encode_cursor, listing_keys  # noqa: E402

TOWNS = [(f"town-{i:02d}", 43.3 + (i % 8) * 0.9, -1.0 + (i // 8) * 1.6) for i in range(40)]
WORDS = [f"{a}{b}" for a in ("bel", "cor", "dun", "fal", "gar", "hol", "lin", "mor", "pal", "ros")
         for b in ("ane", "bric", "dor", "elle", "ford", "ine", "ley", "mont", "ouse", "ton")]  # fmt: skip
SEARCHED = "orchard"  # in the title of one campaign in 50
STATUSES = ["live"] * 16 + ["succeeded", "failed", "completed", "draft"]


def campaign(i: int, now: datetime, rng: random.Random) -> dict[str, Any]:
    slug, lat, lon = TOWNS[i % len(TOWNS)]
    title = f"{rng.choice(WORDS).title()} {rng.choice(('garden', 'bench', 'mural', 'library'))} {i}"
    if i % 50 == 0:
        title += f" {SEARCHED}"
    fields = {
        "title": title,
        "summary": " ".join(rng.choices(WORDS, k=12)),
        "description": " ".join(rng.choices(WORDS, k=80)),
        "category": domain.CATEGORIES[i % len(domain.CATEGORIES)],
        "municipality": slug,
        "neighbourhood": rng.choice(WORDS).title(),
        "lat": lat + rng.gauss(0, 0.03),
        "lon": lon + rng.gauss(0, 0.04),
        "goal": rng.randrange(50_000, 2_000_000, 1000),
        "currency": "EUR",
        "funding_model": rng.choice(domain.FUNDING_MODELS),
        "duration_days": rng.randint(domain.MIN_DURATION_DAYS, domain.MAX_DURATION_DAYS),
    }
    created = now - timedelta(minutes=i)  # older the further down: i-th newest
    doc = domain.new_campaign(f"cmp_{uuid.uuid4().hex}", f"usr_bench{i % 500}", created, fields)
    status = STATUSES[i % len(STATUSES)]
    if status != "draft":
        doc, _ = domain.apply_transition(doc, "submit", {"owner"}, created)
        doc, _ = domain.apply_transition(doc, "approve", {"admin"}, created + timedelta(seconds=1))
        if status != "live":
            action = {"succeeded": "succeed", "failed": "fail", "completed": "succeed"}[status]
            doc, _ = domain.apply_transition(doc, action, {"system"}, created + timedelta(days=1))
            if status == "completed":
                doc, _ = domain.apply_transition(doc, "complete", {"owner"}, created + timedelta(days=2))
    raised = rng.choice((0, 0, rng.randrange(0, doc["goal"] * 2)))
    doc["totals"] = {
        **empty_totals(),
        "raised": raised,
        "funded": raised,
        "progress_bp": raised * 10_000 // doc["goal"],
        "backers_count": raised // 2_000,
    }
    return {**doc, "rev": 0, **listing_keys(doc)}


async def load(mongo_url: str, upto: int, have: int) -> float:
    """Campaigns number `have` to `upto` - 1 inserted; returns the seconds it took."""
    rng = random.Random(have)
    now = datetime.now(UTC)
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True)
    started = time.perf_counter()
    try:
        collection = client["campaigns"]["campaigns"]
        for start in range(have, upto, 1000):
            docs = [campaign(i, now, rng) for i in range(start, min(upto, start + 1000))]
            await collection.insert_many(docs, ordered=False)
    finally:
        await client.close()
    return time.perf_counter() - started


async def deep_cursor(mongo_url: str, size: int) -> str:
    """The cursor the service would return after the middle live campaign, newest first."""
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        docs = (
            await client["campaigns"]["campaigns"]
            .find({"status": {"$eq": "live"}}, {"_id": 1, "listed_ms": 1, "order": 1})
            .sort([("order.newest", -1)])
            .to_list()
        )
    finally:
        await client.close()
    middle = docs[len(docs) // 2]
    return encode_cursor(middle["listed_ms"], middle["_id"])


def queries(cursor: str) -> list[tuple[str, dict[str, Any]]]:
    _, lat, lon = TOWNS[3]
    return [
        ("first page", {}),
        ("by city", {"municipality": TOWNS[3][0]}),
        ("by category", {"category": "sport"}),
        ("most funded", {"sort": "most_funded"}),
        ("near a point", {"lat": lat, "lon": lon, "within_km": 5}),
        ("text search", {"q": SEARCHED}),
        ("deep cursor page", {"cursor": cursor}),
    ]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1)]


async def timing(
    client: httpx.AsyncClient, path: str, params: dict[str, Any], n: int
) -> tuple[list[float], int]:
    for _ in range(3):  # warm-up: connection, caches
        (await client.get(path, params=params)).raise_for_status()
    times, items = [], 0
    for _ in range(n):
        start = time.perf_counter()
        response = await client.get(path, params=params)
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
        items = len(response.json()["items"])
    return times, items


async def run(gateway: str, direct: str, mongo_url: str, sizes: list[int], n: int) -> None:
    have = 0
    rows: list[tuple[int, str, str, float, float, int]] = []
    async with (
        httpx.AsyncClient(base_url=gateway, timeout=60) as via,
        httpx.AsyncClient(base_url=direct, timeout=60) as straight,
    ):
        for size in sizes:
            seconds = await load(mongo_url, size, have)
            have = size
            print(
                f"{size} campaigns stored ({seconds:.0f} s to write); timing {n} requests per query ...",
                flush=True,
            )
            cursor = await deep_cursor(mongo_url, size)
            for label, params in queries(cursor):
                for path_label, client, path in (
                    ("gateway", via, "/api/v1/campaigns/campaigns"),
                    ("direct", straight, "/campaigns"),
                ):
                    times, items = await timing(client, path, params, n)
                    rows.append((size, label, path_label, pct(times, 0.5), pct(times, 0.95), items))
                    print(f"  {label:<17} {path_label:<8} p50 {pct(times, 0.5):6.1f} ms  p95 {pct(times, 0.95):6.1f} ms  ({items} items)", flush=True)  # fmt: skip
    print(f"\n{'campaigns':>9}  {'query':<17} {'via':<8} {'p50 ms':>7} {'p95 ms':>7} {'items':>6}")
    for size, label, path_label, p50, p95, items in rows:
        print(f"{size:>9}  {label:<17} {path_label:<8} {p50:>7.1f} {p95:>7.1f} {items:>6}")


@contextlib.contextmanager
def own_stack() -> Iterator[tuple[str, str, str]]:
    from devstack.running import throwaway

    print("starting a stack on free ports ...", flush=True)
    env = {"LOG_LEVEL": "WARNING", "RATE_LIMIT_IP": "100000000/minute", "RATE_LIMIT_USER": "100000000/minute"}
    with throwaway("benchlist", env) as stack:
        yield stack.stack.url("gateway"), stack.stack.url("campaigns"), stack.stack.mongo_url("campaigns")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,50000", help="campaign counts, increasing")
    parser.add_argument("--requests", type=int, default=40, help="requests per query and path")
    parser.add_argument("--gateway", help="a running gateway (with --direct and --mongo; default: own stack)")
    parser.add_argument("--direct", help="the campaigns service behind it")
    parser.add_argument("--mongo", help="the campaigns service's MongoDB URL (campaigns are added to it)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.gateway and args.direct and args.mongo:
        asyncio.run(run(args.gateway, args.direct, args.mongo, sizes, args.requests))
        return
    with own_stack() as (gateway, direct, mongo_url):
        asyncio.run(run(gateway, direct, mongo_url, sizes, args.requests))


if __name__ == "__main__":
    main()
