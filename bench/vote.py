"""How fast does a participatory-budget vote go? Paris's budget drew 215,000 voters in 2022.

    .venv/bin/python bench/vote.py                       # starts its own stack on free ports
    .venv/bin/python bench/vote.py --voters 300 --concurrency 32 --rounds 3 --stored 215000

1. Sets up a city, its manager and a vote call with a knapsack ballot, all through the gateway.
2. Creates `--voters` verified residents the way people get one: registration, the verification
   link from the stack's SMTP sink, login (argon2 makes this the slow part; not timed).
3. Each resident puts two lines on their ballot, then checks out ballots through the gateway,
   `--concurrency` at a time, `--rounds` times each (a new checkout replaces the old one, so
   every round is a real checkout): prints ballots/s and p50/p95 latency. Target: >= 100/s.
4. Writes `--stored` synthetic counted ballots straight into the endorsements datastore (the
   bench's shortcut: going through the API would take hours) and times the results route,
   which counts every stored ballot with heading_result. Target: < 10 s for 215,000.

The load generator runs on the same machine as the stack: numbers are relative to it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from endorsements.calls.ballots import ballot_fingerprint
from endorsements.calls.voting import pseudonym

ROOT = Path(__file__).resolve().parents[1]
E = "/api/v1/endorsements"
ADMIN = ("admin@civicfund.localhost", "admin-demo-password")
POSTCODE = "75001"
PASSWORD = "correct horse battery"


def pct(data: list[float], p: float) -> float:
    data = sorted(data)
    return data[min(len(data) - 1, int(len(data) * p))] if data else float("nan")


SEEN: dict[Path, tuple[str, str]] = {}  # verification mail file -> (recipient, token), parsed once


def verification_token(mail_dir: Path, address: str, timeout: float = 300.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in mail_dir.glob("*.eml"):
            if path not in SEEN:
                message = message_from_bytes(path.read_bytes(), policy=policy.default)
                part = message.get_body(preferencelist=("plain", "html"))
                urls = re.findall(r"https?://[^\s\"'<>]+", part.get_content() if part else "")
                tokens = [
                    u.split("token=", 1)[1].split("&", 1)[0]
                    for u in urls
                    if "verify-email" in u and "token=" in u
                ]
                if not tokens:
                    continue  # not a verification mail, or one the sink is still writing: read it again
                SEEN[path] = (str(message.get("To", "")).lower(), tokens[0])
            to, token = SEEN[path]
            if token and address.lower() in to:
                return token
        time.sleep(0.3)
    raise RuntimeError(f"no verification mail to {address}")


async def expect(answer: httpx.Response, *codes: int) -> Any:
    if answer.status_code not in codes:
        raise RuntimeError(
            f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text[:300]}"
        )
    return answer.json() if answer.content else None


async def account(
    client: httpx.AsyncClient, mail_dir: Path, email: str, postcode: str | None
) -> dict[str, str]:
    """A verified, logged-in account: {"id", "token", "refresh"}."""
    body = {"email": email, "password": PASSWORD, "display_name": email.split("@")[0], "locale": "fr"}
    if postcode:
        body["postcode"] = postcode
    await expect(await client.post("/api/v1/auth/register", json=body), 201)
    token = await asyncio.to_thread(verification_token, mail_dir, email)
    await expect(await client.post("/api/v1/auth/verify-email", json={"token": token}), 200)
    tokens = await expect(
        await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}), 200
    )
    return {"id": tokens["user"]["id"], "token": tokens["access_token"], "refresh": tokens["refresh_token"]}


def auth(who: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {who['token']}"}


async def set_up(client: httpx.AsyncClient, mail_dir: Path) -> tuple[dict[str, str], str, list[str]]:
    """A city, its manager (role in the token), a vote call with proposals and a knapsack ballot."""
    created = await client.post("/api/v1/auth/register", json={"email": ADMIN[0], "password": ADMIN[1],
                                                              "display_name": "Admin", "locale": "en"})  # fmt: skip
    await expect(created, 201, 409)
    admin = await expect(
        await client.post("/api/v1/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]}), 200
    )
    admin_h = {"Authorization": f"Bearer {admin['access_token']}"}
    manager = await account(client, mail_dir, f"manager-{uuid.uuid4().hex[:6]}@bench.localhost", POSTCODE)
    slug = f"bench-{uuid.uuid4().hex[:6]}"
    city = {"name": "Bench", "slug": slug, "official_code": "75056", "country": "FR", "postcodes": [POSTCODE]}
    await expect(await client.post(f"{E}/municipalities", json=city, headers=admin_h), 201)
    await expect(await client.put(f"{E}/municipalities/{slug}/officials/{manager['id']}", headers=admin_h,
                                  json={"role": "manager", "email": "m@bench.localhost"}), 200)  # fmt: skip
    await expect(
        await client.post(f"{E}/municipalities/{slug}/trial", json={"days": 30}, headers=admin_h), 200
    )
    for _ in range(200):  # the role reaches the token through official.appointed
        fresh = await expect(
            await client.post("/api/v1/auth/refresh", json={"refresh_token": manager["refresh"]}), 200
        )
        manager["token"], manager["refresh"] = fresh["access_token"], fresh["refresh_token"]
        me = await expect(await client.get("/api/v1/auth/me", headers=auth(manager)), 200)
        if (me.get("municipalities") or {}).get(slug) == "manager":
            break
        await asyncio.sleep(0.3)
    now = datetime.now(UTC)
    call = await expect(await client.post(f"{E}/municipalities/{slug}/calls", headers=auth(manager), json={
        "title": "Budget participatif (bench)", "budget": 100_000_000, "max_award": 5_000_000, "currency": "EUR",
        "submission_opens_at": (now - timedelta(hours=1)).isoformat(),
        "submission_closes_at": (now + timedelta(days=1)).isoformat(),
        "vote_opens_at": (now + timedelta(days=1)).isoformat(),
        "vote_closes_at": (now + timedelta(days=30)).isoformat(), "selection_mode": "vote"}), 201)  # fmt: skip
    proposals = []
    for i in range(12):
        p = await expect(await client.post(f"{E}/calls/{call['id']}/proposals", headers=auth(manager), json={
            "title": f"Projet {i + 1}", "summary": f"Le projet numéro {i + 1} du quartier.",
            "requested_amount": random.randint(50, 500) * 10_000, "postcode": POSTCODE}), 201)  # fmt: skip
        proposals.append(p["id"])
    await expect(await client.put(f"{E}/calls/{call['id']}/ballot-setup", headers=auth(manager), json={
        "rule": {"kind": "knapsack"}, "tie_break": "lowest_amount",
        "headings": [{"key": "paris", "name": "Tout Paris", "budget": 70_000_000},
                     {"key": "prio", "name": "Quartiers populaires", "budget": 30_000_000,
                      "postcodes": ["75019", "75020"], "priority": True}]}), 200)  # fmt: skip
    now = datetime.now(UTC)
    await expect(await client.post(f"{E}/calls/{call['id']}/schedule", headers=auth(manager), json={
        "submission_closes_at": now.isoformat(), "vote_opens_at": now.isoformat(),
        "vote_closes_at": (now + timedelta(days=30)).isoformat()}), 200)  # fmt: skip
    return manager, call["id"], proposals


async def run(gateway: str, mail_dir: Path, mongo_url: str, voters: int, concurrency: int, rounds: int,
              stored: int) -> bool:  # fmt: skip
    limits = httpx.Limits(max_connections=concurrency + 8, max_keepalive_connections=concurrency + 8)
    async with httpx.AsyncClient(base_url=gateway, timeout=120, limits=limits) as client:
        manager, call_id, proposals = await set_up(client, mail_dir)
        print(
            f"call {call_id}: {len(proposals)} proposals; creating {voters} verified residents ...",
            flush=True,
        )
        gate = asyncio.Semaphore(8)

        async def make(i: int) -> dict[str, str]:
            async with gate:
                return await account(
                    client, mail_dir, f"voter-{i}-{uuid.uuid4().hex[:6]}@bench.localhost", POSTCODE
                )

        began = time.perf_counter()
        people = await asyncio.gather(*(make(i) for i in range(voters)))
        print(f"  {voters} residents in {time.perf_counter() - began:.0f} s", flush=True)

        async def lines(who: dict[str, str]) -> None:
            for pid in random.sample(proposals, 2):
                for _ in range(100):  # until endorsements heard the resident's postcode (user.registered)
                    r = await client.put(f"{E}/calls/{call_id}/ballot/lines/{pid}", headers=auth(who))
                    if r.status_code != 403:
                        break
                    await asyncio.sleep(0.2)
                await expect(r, 200)

        async def bounded(coro: Any) -> Any:
            async with sem:
                return await coro

        sem = asyncio.Semaphore(concurrency)
        await asyncio.gather(*(bounded(lines(p)) for p in people))
        latencies: list[float] = []
        errors = 0

        async def checkout(who: dict[str, str]) -> None:
            nonlocal errors
            start = time.perf_counter()
            r = await client.post(f"{E}/calls/{call_id}/ballot/checkout", headers=auth(who))
            latencies.append((time.perf_counter() - start) * 1000)
            errors += r.status_code != 200

        began = time.perf_counter()
        await asyncio.gather(*(bounded(checkout(p)) for _ in range(rounds) for p in people))
        seconds = time.perf_counter() - began
        rate = len(latencies) / seconds
        print(f"\ncheckouts through the gateway: {len(latencies)} in {seconds:.1f} s, {errors} errors, "
              f"concurrency {concurrency}")  # fmt: skip
        print(
            f"  {rate:.0f} ballots/s   p50 {pct(latencies, 0.5):.0f} ms   p95 {pct(latencies, 0.95):.0f} ms"
        )
        ok_rate = rate >= 100 and errors == 0
        print(f"  target >= 100 ballots/s: {'met' if ok_rate else 'NOT met'}", flush=True)

        print(f"\nwriting {stored} synthetic counted ballots into the endorsements datastore ...", flush=True)
        mongo: AsyncMongoClient = AsyncMongoClient(mongo_url)
        try:
            col = mongo["endorsements"]["ballots"]
            rng = random.Random(2022)
            began = time.perf_counter()
            for start in range(0, stored, 5000):
                batch = []
                for i in range(start, min(stored, start + 5000)):
                    chosen = rng.sample(proposals, rng.randint(1, 3))
                    doc = {"_id": f"{call_id}|synthetic-{i}", "call_id": call_id, "voter_id": f"synthetic-{i}",
                           "channel": "online", "status": "counted", "lines": chosen, "counted": chosen,
                           "postcode": POSTCODE}  # fmt: skip
                    if i % 10 == 0:  # a paper ballot: no voter, its own id
                        doc = {**doc, "_id": f"pb_synthetic{i}", "channel": "paper", "voter_id": None}
                    # What endorsements stores at checkout for the count (voting._fingerprint).
                    parts = ballot_fingerprint(pseudonym(call_id, doc), chosen)
                    doc |= {"key": ",".join(sorted(chosen)), **{f"f{k}": p for k, p in enumerate(parts)}}
                    batch.append(doc)
                await col.insert_many(batch)
            print(f"  written in {time.perf_counter() - began:.0f} s", flush=True)
        finally:
            await mongo.close()
        began = time.perf_counter()
        results = await expect(await client.get(f"{E}/calls/{call_id}/results", headers=auth(manager)), 200)
        seconds = time.perf_counter() - began
        print(
            f"results for {results['ballots']} ballots ({results['paper_ballots']} on paper): {seconds:.1f} s"
        )
        ok_results = seconds < 10 and results["ballots"] >= stored
        print(f"  target < 10 s for {stored}: {'met' if ok_results else 'NOT met'}")
        return ok_rate and ok_results


@contextlib.contextmanager
def own_stack() -> Iterator[tuple[str, Path, str]]:
    from devstack.running import throwaway

    print("starting a stack on free ports ...", flush=True)
    unlimited = "100000000/minute"
    env = {"LOG_LEVEL": "WARNING", "RATE_LIMIT_IP": unlimited, "RATE_LIMIT_USER": unlimited,
           "RATE_LIMIT_SENSITIVE": unlimited}  # fmt: skip
    with throwaway("benchvote", env) as stack:
        yield stack.stack.url("gateway"), stack.stack.var / "mail", stack.stack.mongo_url("endorsements")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--voters", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--rounds", type=int, default=3, help="checkouts per resident (each replaces the last)"
    )
    parser.add_argument(
        "--stored", type=int, default=215_000, help="synthetic ballots for the results timing"
    )
    args = parser.parse_args()
    with own_stack() as (gateway, mail_dir, mongo_url):
        ok = asyncio.run(
            run(gateway, mail_dir, mongo_url, args.voters, args.concurrency, args.rounds, args.stored)
        )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
