"""Pledge to visible: from a backer's confirm to the new total on the campaign, stage by stage.

    .venv/bin/python bench/money.py                 # starts its own stack on free ports
    .venv/bin/python bench/money.py --pledges 300

One live campaign (created, submitted and approved through the API), then `--pledges` pledges one
after the other, each as a browser makes it: create the pledge through the gateway, save the card
on localstripe (what Stripe.js' confirmCardSetup does), then confirm. From the moment the confirm
request leaves, each stage's time is taken where it happens:

  confirm    the confirm request answered (payments charged the card and committed)
  outbox     payments' outbox row for `payment.succeeded` written (its `created_at`)
  relay      that row confirmed by the broker (its `sent_at`: the confirm's time, written when
             the relay marks the batch sent, with its next read)
  broker     the event delivered to a queue of this script bound like campaigns' own
  consumer   campaigns handled it (its inbox row's `received_at`)
  visible    the campaign read through the gateway shows the new total (polled every 5 ms)

The stages overlap (the relay wakes on commit, before the confirm's answer is on its way), so
each is printed as time since the confirm left, p50/p95/max. Target (issue 16): visible p95
under 150 ms. Prints the figures; nothing here passes or fails. Datastore timestamps and this
script share the machine's clock; they are millisecond-precise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
from aio_pika.abc import AbstractIncomingMessage
from pymongo import AsyncMongoClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "devstack" / "src"))

from servicekit.bus import Bus  # noqa: E402
from servicekit.mongo import as_utc  # noqa: E402
from servicekit.settings import ServiceSettings  # noqa: E402

STAGES = ("confirm", "outbox", "relay", "broker", "consumer", "visible")
ADMIN = "bench-admin@example.localhost"
PASSWORD = "bench password, long enough"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]


async def token(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    await client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Bench"}
    )
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def live_campaign(client: httpx.AsyncClient) -> str:
    owner = await token(client, f"bench-owner-{uuid.uuid4().hex[:6]}@example.localhost")
    admin = await token(client, ADMIN)
    body = {"title": "Pledge to visible", "municipality": "montreuil", "goal": 100_000_000,
            "currency": "EUR", "funding_model": "keep_it_all"}  # fmt: skip
    created = await client.post("/api/v1/campaigns/campaigns", json=body, headers=owner)
    created.raise_for_status()
    campaign_id = str(created.json()["id"])
    (await client.post(f"/api/v1/campaigns/campaigns/{campaign_id}/submit", headers=owner)).raise_for_status()
    approved = await client.post(
        f"/api/v1/campaigns/campaigns/{campaign_id}/moderation", json={"decision": "approve"}, headers=admin
    )
    approved.raise_for_status()
    return campaign_id


async def save_card(stripe: httpx.AsyncClient, secret: str) -> None:
    """The browser's part (Stripe.js confirmCardSetup) on localstripe."""
    saved = await stripe.post(
        f"/v1/setup_intents/{secret.split('_secret_')[0]}/confirm",
        data={
            "key": "pk_test_bench",
            "client_secret": secret,
            "payment_method_data[type]": "card",
            "payment_method_data[card][number]": "4242424242424242",
            "payment_method_data[card][exp_month]": "12",
            "payment_method_data[card][exp_year]": "2031",
            "payment_method_data[card][cvc]": "123",
        },
    )
    saved.raise_for_status()


def epoch(value: datetime | str | None) -> float | None:
    """nx-27017 stores a datetime written by `$set` (the relay's `sent_at`) as an ISO string."""
    moment = as_utc(value)
    return moment.timestamp() if moment is not None else None


async def run(gateway: str, stripe_base: str, payments_mongo: str, campaigns_mongo: str,
              amqp_url: str, namespace: str, n: int) -> None:  # fmt: skip
    bus = Bus(ServiceSettings(amqp_url=amqp_url, bus_namespace=namespace, service_name="bench"))
    await bus.connect(retry_forever=False)
    payments = AsyncMongoClient(payments_mongo, tz_aware=True)["payments"]
    campaigns = AsyncMongoClient(campaigns_mongo, tz_aware=True)["campaigns"]
    arrived: dict[str, tuple[str, float]] = {}  # pledge id -> (event id, delivered here at)

    async def delivered(message: AbstractIncomingMessage) -> None:
        at = time.time()
        event = json.loads(message.body)
        arrived[event["data"]["pledge_id"]] = (event["id"], at)
        await message.ack()

    assert bus.channel is not None
    queue = await bus.channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(bus.exchanges["events"], routing_key="payment.succeeded")
    await queue.consume(delivered)
    samples: list[dict[str, float]] = []
    try:
        async with (
            httpx.AsyncClient(base_url=gateway, timeout=30) as client,
            httpx.AsyncClient(base_url=stripe_base, timeout=30) as stripe,
        ):
            campaign_id = await live_campaign(client)
            backer = await token(client, f"bench-backer-{uuid.uuid4().hex[:6]}@example.localhost")
            path = f"/api/v1/campaigns/campaigns/{campaign_id}"
            raised = 0
            print(f"campaign {campaign_id} live; {n} pledges ...", flush=True)
            for i in range(n + 5):  # the first five warm the path up and are not counted
                body = {"campaign_id": campaign_id, "amount": 1_000, "currency": "EUR"}
                for _ in range(200):  # until payments projected the campaign (first pledge only)
                    created = await client.post(
                        "/api/v1/payments/pledges",
                        json=body,
                        headers={**backer, "Idempotency-Key": f"bench-{campaign_id}-{i}"},
                    )
                    if created.status_code == 201:
                        break
                    await asyncio.sleep(0.1)
                created.raise_for_status()
                pledge = created.json()
                await save_card(stripe, pledge["client_secret"])
                start = time.time()
                confirmed = await client.post(
                    f"/api/v1/payments/pledges/{pledge['id']}/confirm", headers=backer
                )
                answered = time.time()
                confirmed.raise_for_status()
                raised += 1_000
                while True:
                    shown = (await client.get(path)).json()["totals"]["raised"]
                    if shown >= raised:
                        visible = time.time()
                        break
                    await asyncio.sleep(0.005)
                event_id = None
                for _ in range(400):  # the broker delivered it to this script too (normally already)
                    if pledge["id"] in arrived:
                        event_id, at_broker = arrived[pledge["id"]]
                        break
                    await asyncio.sleep(0.005)
                if i < 5 or event_id is None:
                    continue
                for _ in range(200):  # the relay marks a batch sent with its next read (<= 20 ms later)
                    row = await payments.outbox.find_one({"_id": event_id}) or {}
                    if row.get("sent_at") is not None:
                        break
                    await asyncio.sleep(0.005)
                inbox = await campaigns.inbox.find_one({"_id": f"campaigns.funding|{event_id}"}) or {}
                stage_times = {
                    "confirm": answered,
                    "outbox": epoch(row.get("created_at")),
                    "relay": epoch(row.get("sent_at")),
                    "broker": at_broker,
                    "consumer": epoch(inbox.get("received_at")),
                    "visible": visible,
                }
                samples.append({k: (v - start) * 1000 for k, v in stage_times.items() if v is not None})
                if (i - 4) % 50 == 0:
                    print(f"  {i - 4} pledges", flush=True)
    finally:
        await bus.close()
        await payments.client.close()
        await campaigns.client.close()
    print(f"\n{len(samples)} pledges; ms since the confirm request left:")
    print(f"{'stage':<10}{'p50':>8}{'p95':>8}{'max':>8}{'n':>6}")
    for stage in STAGES:
        values = [s[stage] for s in samples if stage in s]
        if values:
            print(
                f"{stage:<10}{pct(values, 0.5):>8.1f}{pct(values, 0.95):>8.1f}{max(values):>8.1f}{len(values):>6}"
            )
    after = [s["visible"] - s["confirm"] for s in samples]
    print(f"visible after the confirm's answer: p50 {pct(after, 0.5):.1f} ms, p95 {pct(after, 0.95):.1f} ms")


@contextlib.contextmanager
def own_stack() -> Iterator[tuple[str, str, str, str, str, str]]:
    from devstack.running import throwaway

    print("starting a stack on free ports ...", flush=True)
    env = {"LOG_LEVEL": "WARNING", "ADMIN_EMAILS": ADMIN, "RATE_LIMIT_IP": "100000000/minute",
           "RATE_LIMIT_USER": "100000000/minute", "RATE_LIMIT_PLEDGE": "100000000/minute"}  # fmt: skip
    with throwaway("benchmoney", env) as running:
        stack = running.stack
        yield (
            stack.url("gateway"),
            f"http://127.0.0.1:{stack.ports.localstripe}",
            stack.mongo_url("payments"),
            stack.mongo_url("campaigns"),
            stack.amqp_url,
            stack.bus_namespace,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pledges", type=int, default=300)
    args = parser.parse_args()
    with own_stack() as (gateway, stripe_base, payments_mongo, campaigns_mongo, amqp_url, namespace):
        asyncio.run(
            run(gateway, stripe_base, payments_mongo, campaigns_mongo, amqp_url, namespace, args.pledges)
        )


if __name__ == "__main__":
    main()
