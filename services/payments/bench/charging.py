"""How long payments takes to charge an all-or-nothing campaign's pledges off-session once it
succeeds, on the real stack pieces (localstripe, nx-27017, RabbitMQ at AMQP_URL).

    .venv/bin/python services/payments/bench/charging.py --pledges 100 --concurrency 4

Prints pledges set up, time from `campaign.succeeded` published to every pledge `succeeded`,
and charges per second. A number for this machine, not an assertion.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from payments.app import build
from payments.settings import Settings
from payments.store import Store
from servicekit.events import new_event
from servicekit.signing import SigningKey, access_claims, jwks
from servicekit.testing import procs
from servicekit.testing.helpers import eventually
from servicekit.testing.server import serve

SECRET = "sk_test_bench"


async def main(pledges: int, concurrency: int) -> None:
    from fastapi import FastAPI

    key = SigningKey.generate()
    jwks_app = FastAPI()
    jwks_app.get("/.well-known/jwks.json")(lambda: jwks([key]))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        nx_port, ls_port = procs.free_port(), procs.free_port()
        with (
            procs.process(procs.nx_args(nx_port, "memory", work), nx_port, work / "nx.out"),
            procs.process(procs.localstripe_args(ls_port), ls_port, work / "ls.out"),
        ):
            async with serve(jwks_app, ready_path=None) as jwks_base:
                settings = Settings(
                    mongo_url=f"mongodb://127.0.0.1:{nx_port}/?directConnection=true",
                    mongo_db="payments_bench",
                    amqp_url=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
                    bus_namespace=f"bench{uuid.uuid4().hex[:6]}.",
                    jwks_url=f"{jwks_base}/.well-known/jwks.json",
                    stripe_api_base=f"http://127.0.0.1:{ls_port}",
                    stripe_secret_key=SECRET,
                    stripe_local_webhook=False,
                    worker_tick_s=0.2,
                    charge_concurrency=concurrency,
                    log_level="WARNING",
                    log_json=True,
                )
                app = build(settings)
                async with serve(app) as url:
                    await run(app.state.ctx, url, key, f"http://127.0.0.1:{ls_port}", pledges)


async def run(ctx, url: str, key: SigningKey, stripe_base: str, n: int) -> None:  # type: ignore[no-untyped-def]
    campaign_id = f"cmp_bench_{uuid.uuid4().hex[:8]}"
    data = {
        "campaign_id": campaign_id,
        "owner_id": "usr_owner",
        "title": "Bench",
        "status": "live",
        "municipality": "montreuil",
        "goal": 100,
        "currency": "EUR",
        "funding_model": "all_or_nothing",
        "version": 2,
    }
    await ctx.bus.wait_ready()
    await ctx.bus.publish(new_event("campaigns", "campaign.published", campaign_id, data))
    store = ctx.get(Store)
    await eventually(lambda: store.campaign(campaign_id), timeout=30)
    async with (
        httpx.AsyncClient(base_url=url, timeout=30) as api,
        httpx.AsyncClient(base_url=stripe_base, timeout=30) as stripe,
    ):
        for i in range(n):
            token = key.sign(
                access_claims(f"usr_{i}", issuer="civicfund-gateway", audience="civicfund", ttl_s=900)
            )
            auth = {"Authorization": f"Bearer {token}"}
            pledge = (
                await api.post(
                    "/pledges",
                    json={"campaign_id": campaign_id, "amount": 1_000, "currency": "EUR"},
                    headers={**auth, "Idempotency-Key": f"bench-{i}-{campaign_id}"},
                )
            ).json()
            secret = pledge["client_secret"]
            await stripe.post(
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
            await api.post(f"/pledges/{pledge['id']}/confirm", headers=auth)
    print(f"pledges authorised: {await store.db.pledges.count_documents({'status': 'authorized'})}")
    started = time.perf_counter()
    await ctx.bus.publish(
        new_event(
            "campaigns", "campaign.succeeded", campaign_id, {**data, "status": "succeeded", "version": 3}
        )
    )

    async def all_charged() -> bool:
        return (
            await store.db.pledges.count_documents({"campaign_id": campaign_id, "status": "succeeded"}) == n
        )

    await eventually(all_charged, timeout=600, interval=0.05)
    elapsed = time.perf_counter() - started
    print(f"charged {n} pledges off-session in {elapsed:.2f}s ({n / elapsed:.1f} charges/s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pledges", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.pledges, args.concurrency))
