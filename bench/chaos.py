"""The fault-injection money run: pledges on a replicated local stack while it breaks, then every
money invariant checked by code.

    .venv/bin/python bench/chaos.py --seed 1 --campaigns 6 --pledges 60 --faults kill,cut,webhooks,slow

Parameters:
  --seed N          every random choice (amounts, backers, which process is killed, which
                    service is cut, the webhook order) comes from it
  --campaigns N     campaigns, cycling through six kinds: keep-it-all and all-or-nothing, with an
                    instant or an on-goal-reached match, most reaching their goal, some failing
  --pledges N       pledges spread over the campaigns (about ten backers per campaign)
  --faults LIST     the fault schedule, injected in this order, one every --fault-gap seconds,
                    for --rounds rounds, while the pledges are made and the campaigns close:
                      kill      SIGKILL one replica of a service (supervisord restarts it);
                                and both payments replicas once more as soon as one of them
                                is charging an all-or-nothing pledge (a charge cut short)
                      cut       cut a service's broker connection (servicekit's CuttableProxy
                                between it and RabbitMQ) for --cut-s seconds
                      webhooks  Stripe's webhooks (localstripe delivers them to a relay of
                                this script, which passes them on to /webhooks/stripe) held
                                back --late-s seconds, then delivered twice each, shuffled;
                                and every earlier event localstripe holds delivered again,
                                twice each, shuffled
                      slow      payments -> localstripe slowed by --slow-delay-s per chunk (a
                                proxy) for --slow-s seconds
  --rounds N        how many times the schedule is run (default 1)
  --var DIR         the stack's files (default: a temporary directory, removed afterwards)

The stack is `make up`'s runner (supervisord, 2 replicas of campaigns, payments, endorsements and
notifications, SO_REUSEPORT, nx-27017 with the cross-process transaction lock) on its own block
of ports and its own RabbitMQ namespace; each of the four replicated services reaches RabbitMQ
through a proxy of this script, payments reaches localstripe through another. Everything the
run does goes through public doors (accounts, campaigns, city, labels with match rules, pledges
and card entry on localstripe, a city system's webhook), except moving the campaigns' deadlines
into the past (nobody can wait the 7 days a campaign runs at least).

At the end, checked by code (each failure is a breach; exit status 1 on any):
  awards     the call's award is due from the city once, and in the ledger's match and city
             accounts
  totals     each campaign's raised/matched equal its ledger's, the ledger's charged equals what
             Stripe's PaymentIntents took, and payments' reconciliation says ok
  matches    the ledger's matched equals the rule applied to what was charged (instant: each
             charge matched, an all-or-nothing campaign's only once it succeeded; on_goal_reached:
             only when the goal was reached), and the campaign's status is what its pledges made
  charges    no pledge has more than one succeeded PaymentIntent
  emails     no (recipient, Message-ID) twice in the SMTP sink
  webhooks   every public event of the city delivered to its webhook, each exactly once
  outbox     no outbox row pending in any service's datastore
  parked     nothing parked, or each parked message refused by its handler for a stated reason
             (rejected_by_handler, printed); any other reason (max_attempts, contract_violation,
             malformed_envelope, no_handler) is a breach
It prints pledges, faults injected, events, duplicates absorbed (inbox, webhook), retries.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import email
import email.policy
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse, urlunparse

import aio_pika
import aio_pika.abc
import httpx
from fastapi import FastAPI, Request, Response
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from devstack.chaos_stack import Up, free_block, move_deadline_to_the_past
from devstack.rabbit import DEFAULT_URL, ensure
from devstack.stack import SERVICES
from devstack.up import ports_from
from servicekit.parked import peek
from servicekit.testing.proxy import CuttableProxy
from servicekit.testing.rabbit import MANAGEMENT_URL, delete_namespace
from servicekit.testing.server import serve

REPLICATED = ["campaigns", "payments", "endorsements", "notifications"]
FAULTS = ("kill", "cut", "webhooks", "slow")
STRIPE_SECRET = "sk_test_civicfund_local"  # the local stack's localstripe key
ADMIN_EMAIL = "admin@civicfund.localhost"  # an admin by the stack's ADMIN_EMAILS
PASSWORD = "correct horse battery"
C, E, P = "/api/v1/campaigns/campaigns", "/api/v1/endorsements", "/api/v1/payments"
AMOUNTS = (500, 1_000, 1_500, 2_000, 2_500, 3_000)  # multiples of 100: a 0.5 ratio stays exact


@dataclass(frozen=True)
class Kind:
    funding_model: str
    condition: str
    ratio: float
    reaches_goal: bool


KINDS = (
    Kind("keep_it_all", "instant", 1.0, True),
    Kind("all_or_nothing", "on_goal_reached", 0.5, True),
    Kind("all_or_nothing", "instant", 1.0, False),
    Kind("keep_it_all", "on_goal_reached", 1.0, False),
    Kind("all_or_nothing", "instant", 0.5, True),
    Kind("keep_it_all", "on_goal_reached", 0.5, True),
)


@dataclass
class Options:
    seed: int = 1
    campaigns: int = 6
    pledges: int = 60
    faults: list[str] = field(default_factory=lambda: list(FAULTS))
    rounds: int = 1
    fault_gap_s: float = 4.0
    cut_s: float = 6.0
    late_s: float = 5.0
    slow_s: float = 10.0
    slow_delay_s: float = 0.25
    settle_s: float = 150.0
    deadline_race: bool = False
    var: Path | None = None
    amqp_url: str = DEFAULT_URL
    namespace: str = ""


@dataclass
class Account:
    user_id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Campaign:
    id: str
    kind: Kind
    goal: int
    cap: int
    planned: list[int]
    succeeded_pledges: list[str] = field(default_factory=list)  # pledge ids as the bench saw them
    confirmed_total: int = 0  # amount of the pledges that reached succeeded / authorized
    label_id: str = ""
    award: int = 0  # a call for projects' award to it (the city owes it from the selection on)
    award_due: str = ""  # its city due's id in payments


@dataclass
class Report:
    pledges_planned: int = 0
    pledges_made: int = 0
    pledges_failed: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    requests_retried: int = 0
    webhook_redeliveries: int = 0
    webhook_duplicates: int = 0
    webhooks_relayed: int = 0
    webhooks_held: int = 0
    events: int = 0
    figures: dict[str, int] = field(default_factory=dict)
    parked_explained: list[str] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def text(self) -> str:
        faults = collections.Counter(f.split(" ", 1)[0].rstrip(":") for f in self.faults)
        lines = [
            "== chaos run ==",
            f"pledges: {self.pledges_made} made of {self.pledges_planned} planned"
            + (f", {len(self.pledges_failed)} not made" if self.pledges_failed else ""),
            f"faults injected: {len(self.faults)} ({', '.join(f'{k} x{n}' for k, n in faults.items())})",
            *[f"  {f}" for f in self.faults],
            f"events: {self.events} outbox rows (internal and public), {self.figures.get('events seen on the bus', 0)} seen on the bus "
            f"({self.figures.get('events published twice', 0)} of them twice: the relay is at least once)",
            f"deliveries: {self.figures.get('emails', 0)} emails, {self.figures.get('city webhooks', 0)} city webhooks",
            f"Stripe webhooks: {self.webhooks_relayed} relayed as they came, {self.webhooks_held} held "
            "back and delivered late, shuffled, twice",
            f"duplicates absorbed: inbox {self.figures.get('events_duplicate', 0)}+, Stripe webhooks "
            f"{self.webhook_duplicates} of {self.webhook_redeliveries} re-delivered "
            f"({self.figures.get('webhooks_duplicate', 0)}+ counted by payments)",
            f"retries: events {self.figures.get('events_retried', 0)}+, work items "
            f"{self.figures.get('work_retried', 0)}+, the bench's own requests {self.requests_retried}",
            "  (+: counted by the processes alive at the end; a killed process takes its counters)",
            *[f"note: {n}" for n in self.notes],
            *[f"parked (explained): {p}" for p in self.parked_explained],
            "timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in self.seconds.items()),
        ]
        if self.breaches:
            lines += [f"BREACHES: {len(self.breaches)}", *[f"  !! {b}" for b in self.breaches]]
        else:
            lines.append("no breach")
        return "\n".join(lines)


class Api:
    """The gateway's public API, retried across the faults with the same Idempotency-Key."""

    def __init__(self, base: str, report: Report) -> None:
        self.client = httpx.AsyncClient(base_url=base, timeout=60)
        self.report = report

    async def call(
        self,
        method: str,
        path: str,
        who: Account | None,
        expect: tuple[int, ...] = (200, 201),
        wait_for: tuple[str, ...] = (),
        timeout: float = 180.0,
        **kw: Any,
    ) -> Any:
        """Retried while the platform is broken (connection refused or cut, 5xx, a request in
        progress on a killed replica) or while the answer's error code is in `wait_for` (what
        an event not yet consumed gives)."""
        deadline = time.monotonic() + timeout
        headers = {**(who.headers if who else {}), **kw.pop("headers", {})}
        while True:
            try:
                answer = await self.client.request(method, path, headers=headers, **kw)
                if answer.status_code in expect:
                    return answer.json() if answer.content else None
                code = _error_code(answer)
                if answer.status_code < 500 and code not in wait_for and code != "request_in_progress":
                    raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
                last = f"{answer.status_code} {answer.text[:300]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {path}: still failing after {timeout:.0f} s: {last}")
            self.report.requests_retried += 1
            await asyncio.sleep(0.5)


def _error_code(answer: httpx.Response) -> str:
    with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
        return str(answer.json()["error"]["code"])
    return ""


class Chaos:
    def __init__(self, options: Options, var: Path) -> None:
        self.o = options
        self.rng = random.Random(options.seed)
        self.var = var
        self.base = free_block()
        self.ports = ports_from(self.base)
        self.gateway = f"http://127.0.0.1:{self.ports.gateway}"
        self.stripe = f"http://127.0.0.1:{self.ports.localstripe}"
        self.namespace = options.namespace or f"chaos{uuid.uuid4().hex[:6]}."
        self.report = Report()
        self.api = Api(self.gateway, self.report)
        self.broker_proxies: dict[str, CuttableProxy] = {}
        self.stripe_proxy = CuttableProxy("127.0.0.1", self.ports.localstripe)
        self.run: Up | None = None
        self.campaigns: list[Campaign] = []
        self.hooks: collections.Counter[str] = collections.Counter()
        self.holding: list[tuple[bytes, str]] | None = None  # Stripe's deliveries held back
        self.relays: list[asyncio.Task[None]] = []
        self.published: list[tuple[str, str, str]] = []  # (event id, routing key, municipality) as seen
        self.redeliveries: list[asyncio.Task[None]] = []
        self.exits = contextlib.AsyncExitStack()

    # -- the stack --------------------------------------------------------------------------------

    async def serve_bench(self) -> None:
        """The bench's own HTTP server: the city system's webhook receiver (`/hook`) and the
        relay localstripe delivers Stripe's webhooks to (`/stripe`), which passes them on to
        the gateway's /webhooks/stripe, or holds them while the webhooks fault lasts."""
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body = json.loads(await request.body())
            self.hooks[str(body.get("id"))] += 1
            return Response(status_code=204)

        @app.post("/stripe")
        async def stripe_relay(request: Request) -> Response:
            delivery = (await request.body(), request.headers.get("stripe-signature", ""))
            if self.holding is not None:
                self.holding.append(delivery)
            else:
                self.relays.append(asyncio.create_task(self.forward(*delivery)))
            return Response(status_code=200)

        self.bench_url = await self.exits.enter_async_context(serve(app, ready_path=None))

    async def forward(self, payload: bytes, signature: str, redelivery: bool = False) -> None:
        try:
            answer = await self.api.call(
                "POST", "/webhooks/stripe", None, content=payload,
                headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
            )  # fmt: skip
        except RuntimeError as exc:
            self.report.breaches.append(f"a Stripe webhook was refused: {exc}")
            return
        if redelivery:
            self.report.webhook_redeliveries += 1
            self.report.webhook_duplicates += bool(answer.get("duplicate"))
        else:
            self.report.webhooks_relayed += 1

    async def start(self) -> None:
        # As `make up` does: the broker answers and has the management plugin, which lists the
        # parked queues and deletes the namespace afterwards (off on a fresh machine's broker).
        await asyncio.to_thread(ensure, self.o.amqp_url)
        await self.serve_bench()
        broker = urlparse(self.o.amqp_url)
        for service in REPLICATED:
            proxy = await CuttableProxy(broker.hostname or "127.0.0.1", broker.port or 5672).start()
            self.broker_proxies[service] = proxy
        await self.stripe_proxy.start()
        args = ["--replicas", ",".join(f"{s}=2" for s in REPLICATED), "--environment", "test",
                "--env", "DEADLINE_TICK_S=1", "--env", "OUTBOX_POLL_INTERVAL_S=0.2",
                # A charge cut short by a kill is taken up again within the run (default 10 min).
                "--env", "STUCK_CLAIM_AFTER_S=30",
                "--stripe-via", f"payments=http://127.0.0.1:{self.stripe_proxy.port}",
                "--env", f"STRIPE_LOCAL_WEBHOOK_URL={self.bench_url}/stripe"]  # fmt: skip
        for service, proxy in self.broker_proxies.items():
            netloc = f"{broker.username or 'guest'}:{broker.password or 'guest'}@127.0.0.1:{proxy.port}"
            args += ["--amqp-via", f"{service}={urlunparse(broker._replace(netloc=netloc))}"]
        self.run = Up(
            self.var, self.base, self.namespace, *args, module="devstack.chaos_stack",
            env={"AMQP_URL": self.o.amqp_url},
        )  # fmt: skip
        await asyncio.to_thread(self.wait_ready, 900)
        await self.tap()

    def wait_ready(self, timeout: float) -> None:
        """Every service's /readyz green (the runner's own start-up check gives up after 3
        minutes, which a loaded machine can take)."""
        assert self.run is not None
        deadline = time.monotonic() + timeout
        for service in SERVICES:
            while True:
                if self.run.proc.poll() is not None:
                    raise RuntimeError(f"the runner exited ({self.run.proc.returncode})")
                with contextlib.suppress(httpx.HTTPError):
                    if (
                        httpx.get(
                            f"http://127.0.0.1:{self.ports.http(service)}/readyz", timeout=5
                        ).status_code
                        == 200
                    ):
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{service} not ready after {timeout:.0f} s")
                time.sleep(0.5)

    async def tap(self) -> None:
        """A queue of the bench's own bound to every internal event: what the relays published
        (to know which events the city's webhook must get, and to count them)."""
        connection = await aio_pika.connect(self.o.amqp_url)
        self.exits.push_async_callback(connection.close)
        channel = await connection.channel()
        exchange = await channel.declare_exchange(f"{self.namespace}civicfund.events", passive=True)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, "#")

        async def keep(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            body = json.loads(message.body)
            data = body.get("data") if isinstance(body.get("data"), dict) else {}
            self.published.append(
                (str(body.get("id")), message.routing_key or "", str(data.get("municipality")))
            )
            await message.ack()

        await queue.consume(keep)

    async def stop(self) -> None:
        for task in [*self.redeliveries, *self.relays]:
            task.cancel()
        await self.exits.aclose()
        if self.run is not None:
            await asyncio.to_thread(self.run.kill)
        for proxy in [*self.broker_proxies.values(), self.stripe_proxy]:
            with contextlib.suppress(Exception):
                await proxy.stop()
        await self.api.client.aclose()
        await asyncio.to_thread(delete_namespace, self.o.amqp_url, self.namespace)

    # -- people, city, campaigns ------------------------------------------------------------------

    async def account(self, address: str) -> Account:
        body = {"email": address, "password": PASSWORD, "display_name": address.split("@")[0], "locale": "en"}
        await self.api.call("POST", "/api/v1/auth/register", None, expect=(201, 409), json=body)
        login = await self.api.call(
            "POST", "/api/v1/auth/login", None, json={"email": address, "password": PASSWORD}
        )
        return Account(login["user"]["id"], address, login["access_token"])

    async def city(self, admin: Account, manager: Account) -> str:
        slug = f"chaos-{uuid.uuid4().hex[:6]}"
        city = {"name": f"Chaos {slug}", "slug": slug, "official_code": "99999", "country": "FR",
                "postcodes": ["93100"]}  # fmt: skip
        await self.api.call("POST", f"{E}/municipalities", admin, json=city)
        await self.api.call(
            "PUT", f"{E}/municipalities/{slug}/officials/{manager.user_id}", admin,
            json={"role": "manager", "email": manager.email},
        )  # fmt: skip
        await self.api.call("POST", f"{E}/municipalities/{slug}/trial", admin, json={"days": 30})
        deadline = time.monotonic() + 120
        while True:  # the gateway learns the role from official.appointed
            login = await self.api.call(
                "POST", "/api/v1/auth/login", None, json={"email": manager.email, "password": PASSWORD}
            )
            manager.token = login["access_token"]
            if (_claims(manager.token).get("municipalities") or {}).get(slug) == "manager":
                return slug
            if time.monotonic() > deadline:
                raise RuntimeError(f"{manager.email} never became the manager of {slug}")
            await asyncio.sleep(0.5)

    async def campaign(self, i: int, owner: Account, admin: Account, manager: Account, slug: str,
                       pool_id: str, planned: list[int]) -> Campaign:  # fmt: skip
        kind = KINDS[i % len(KINDS)]
        total = sum(planned)
        goal = total if kind.reaches_goal else 4 * total + 1_000
        cap = int(goal * kind.ratio)
        body = {"title": f"Chaos {i} {kind.funding_model} {kind.condition}", "municipality": slug,
                "postcode": "93100", "goal": goal, "funding_model": kind.funding_model}  # fmt: skip
        made = await self.api.call("POST", C, owner, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        await self.api.call("POST", f"{C}/{made['id']}/submit", owner)
        await self.api.call("POST", f"{C}/{made['id']}/moderation", admin, json={"decision": "approve"})
        label = await self.api.call(
            "POST", f"{E}/labels", owner, wait_for=("campaign_not_found",), json={"campaign_id": made["id"]}
        )
        rule = {"pool_id": pool_id, "condition": kind.condition, "ratio": kind.ratio, "cap_per_project": cap}
        await self.api.call(
            "POST", f"{E}/labels/{label['id']}/grant", manager,
            headers={"Idempotency-Key": f"grant-{label['id']}"},
            json={"support": [{"kind": "land", "description": "Plot", "address": "Parc"}], "match": rule},
        )  # fmt: skip
        return Campaign(made["id"], kind, goal, cap, planned, label_id=label["id"])

    async def verify(self, who: Account) -> None:
        """Open the verification link notifications emailed (proposing needs a verified email)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for path in sorted((self.var / "mail").glob("*.eml")):
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                if who.email.lower() not in str(message.get("To", "")).lower():
                    continue
                part = message.get_body(preferencelist=("plain", "html"))
                for url in re.findall(r"https?://[^\s\"'<>]+", part.get_content() if part else ""):
                    if "verify-email" in url:
                        token = url.split("token=", 1)[1].split("&", 1)[0]
                        await self.api.call("POST", "/api/v1/auth/verify-email", None, json={"token": token})
                        login = await self.api.call(
                            "POST",
                            "/api/v1/auth/login",
                            None,
                            json={"email": who.email, "password": PASSWORD},
                        )
                        who.token = login["access_token"]
                        return
            await asyncio.sleep(0.5)
        raise RuntimeError(f"no verification email reached {who.email}")

    async def award_call(self, owner: Account, manager: Account, slug: str, c: Campaign) -> None:
        """A call for projects of the city, decided by a jury: the owner proposes a live campaign,
        the manager selects it with an award. From then on the city owes the award (payments'
        city dues, the ledger) and campaigns counts it as match toward the goal."""
        await self.verify(owner)
        now = datetime.now(UTC)
        call = await self.api.call(
            "POST", f"{E}/municipalities/{slug}/calls", manager,
            json={"title": "Chaos call", "budget": 50_000, "max_award": 20_000, "currency": "EUR",
                  "submission_opens_at": (now - timedelta(minutes=1)).isoformat(),
                  "submission_closes_at": (now + timedelta(days=1)).isoformat()},
        )  # fmt: skip
        proposal = await self.api.call(
            "POST", f"{E}/calls/{call['id']}/proposals", owner, wait_for=("not_your_campaign",),
            json={"title": "Chaos proposal", "summary": "A proposal the jury selects during the run.",
                  "category": "other", "requested_amount": 10_000, "goal": c.goal, "postcode": "93100",
                  "campaign_id": c.id},
        )  # fmt: skip
        c.award = 10_000
        await self.api.call(  # the jury decides once submissions closed
            "POST", f"{E}/calls/{call['id']}/schedule", manager,
            json={"submission_closes_at": datetime.now(UTC).isoformat()},
        )  # fmt: skip
        await self.api.call(
            "POST", f"{E}/calls/{call['id']}/selection", manager,
            headers={"Idempotency-Key": f"select-{call['id']}"},
            json={"winners": [{"proposal_id": proposal["id"], "award": c.award}]},
        )  # fmt: skip
        c.award_due = f"award_{proposal['id']}"
        self.report.notes.append(
            f"award: {c.award} to campaign {c.id} by a jury of the city's call, due from the city"
        )

    async def receiver(self, slug: str, manager: Account) -> None:
        """A city system of the run's city: its client token, its webhook here, deliveries
        counted per event id."""
        url = self.bench_url
        client = await self.api.call(
            "POST", "/api/v1/auth/clients", manager, json={"municipality": slug, "name": "City IT"}
        )
        grant = await self.api.call(
            "POST", "/oauth/token", None,
            data={"grant_type": "client_credentials", "client_id": client["client_id"],
                  "client_secret": client["client_secret"]},
        )  # fmt: skip
        self.system = Account("system", "", grant["access_token"])
        types = (await self.api.call("GET", "/api/v1/notifications/webhooks/event-types", self.system))[
            "event_types"
        ]
        self.hook_types = [t for t in types if not t.startswith(("subscription.", "call."))]
        await self.api.call(
            "POST", "/api/v1/notifications/webhooks/endpoints", self.system,
            json={"municipality": slug, "url": f"{url}/hook", "event_types": self.hook_types},
        )  # fmt: skip

    # -- pledges ------------------------------------------------------------------------------------

    async def pledge(self, backer: Account, campaign: Campaign, amount: int) -> None:
        key = f"chaos-{uuid.uuid4().hex}"
        body = {"campaign_id": campaign.id, "amount": amount, "currency": "EUR", "tip": 0}
        try:
            created = await self.api.call(
                "POST", f"{P}/pledges", backer, wait_for=("campaign_not_found",), json=body,
                headers={"Idempotency-Key": key},
            )  # fmt: skip
            pledge = created
            if created.get("next_action") == "confirm_card_setup":
                await self.save_card(created["client_secret"])
                pledge = await self.api.call("POST", f"{P}/pledges/{created['id']}/confirm", backer)
            deadline = time.monotonic() + 120
            while pledge["status"] not in ("succeeded", "authorized", "failed", "canceled"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"pledge {pledge['id']} stuck {pledge['status']}")
                await asyncio.sleep(1)
                pledge = await self.api.call("GET", f"{P}/pledges/{created['id']}", backer)
            want = "succeeded" if campaign.kind.funding_model == "keep_it_all" else "authorized"
            if pledge["status"] != want:
                raise RuntimeError(f"pledge {pledge['id']} ended {pledge['status']}, not {want}")
            campaign.succeeded_pledges.append(pledge["id"])
            campaign.confirmed_total += amount
            self.report.pledges_made += 1
        except RuntimeError as exc:
            self.report.pledges_failed.append(str(exc))
            self.report.breaches.append(f"a pledge could not be made through the faults: {exc}")

    async def save_card(self, client_secret: str) -> None:
        """The browser's part (Stripe.js confirmCardSetup), on localstripe itself."""
        data = {"key": "pk_test_civicfund", "client_secret": client_secret, "payment_method_data[type]": "card",
                "payment_method_data[card][number]": "4242424242424242", "payment_method_data[card][exp_month]": "12",
                "payment_method_data[card][exp_year]": "2031", "payment_method_data[card][cvc]": "123"}  # fmt: skip
        async with httpx.AsyncClient(base_url=self.stripe, timeout=30) as stripe:
            saved = await stripe.post(
                f"/v1/setup_intents/{client_secret.split('_secret_')[0]}/confirm", data=data
            )
        if saved.status_code != 200:
            raise RuntimeError(f"card entry on localstripe: {saved.status_code} {saved.text[:300]}")

    # -- faults -------------------------------------------------------------------------------------

    async def schedule(self) -> None:
        for _ in range(self.o.rounds):
            for kind in self.o.faults:
                await asyncio.sleep(self.o.fault_gap_s / 2)
                await self.inject(kind)
                await asyncio.sleep(self.o.fault_gap_s / 2)

    async def inject(self, kind: str, service: str | None = None, when: str = "") -> None:
        at = f"{time.monotonic() - self.t0:.0f}s" + (f", {when}" if when else "")
        assert self.run is not None
        if kind == "kill":
            service = service or self.rng.choice(REPLICATED)
            program = f"services:{service}-{self.rng.choice((1, 2))}"
            pid = await asyncio.to_thread(self.run.pid, program)
            os.kill(pid, signal.SIGKILL)
            self.report.faults.append(f"kill {program} (pid {pid}) at {at}")
        elif kind == "cut":
            service = self.rng.choice(REPLICATED)
            proxy = self.broker_proxies[service]
            proxy.cut()
            self.report.faults.append(f"cut {service}'s broker connection for {self.o.cut_s:.0f} s at {at}")
            await asyncio.sleep(self.o.cut_s)
            proxy.restore()
        elif kind == "slow":
            self.stripe_proxy.delay_s = self.o.slow_delay_s
            self.report.faults.append(
                f"slow payments -> localstripe by {self.o.slow_delay_s * 1000:.0f} ms a chunk for "
                f"{self.o.slow_s:.0f} s at {at}"
            )
            await asyncio.sleep(self.o.slow_s)
            self.stripe_proxy.delay_s = 0.0
        elif kind == "webhooks":
            events = await self.stripe_events()
            self.report.faults.append(
                f"webhooks: {len(events)} Stripe events again, twice each, {self.o.late_s:.0f} s late, "
                f"shuffled, at {at}"
            )
            self.redeliveries.append(asyncio.create_task(self.redeliver(events)))
        else:
            raise SystemExit(f"--faults: unknown fault {kind!r} (one of {', '.join(FAULTS)})")

    async def kill_while_charging(self) -> None:
        """Both payments replicas SIGKILLed as soon as one of them has claimed an all-or-nothing
        pledge to charge it (its datastore says `charging`), so a charge is cut short for sure."""
        assert self.run is not None
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            f"mongodb://127.0.0.1:{self.ports.mongo('payments')}/?directConnection=true"
        )
        ours = [c.id for c in self.campaigns]
        # Asked first: supervisorctl takes a second, a charge less.
        pids = [await asyncio.to_thread(self.run.pid, f"services:payments-{i}") for i in (1, 2)]
        deadline, seen = time.monotonic() + 60, 0
        try:
            while time.monotonic() < deadline and not seen:
                seen = await client.payments.pledges.count_documents(
                    {"campaign_id": {"$in": ours}, "status": {"$eq": "charging"}}
                )
                due = await client.payments.pledges.count_documents(
                    {"campaign_id": {"$in": ours}, "status": {"$eq": "charge_due"}}
                )
                if due and not seen:  # charging is about to start: do not miss it between two looks
                    deadline = min(deadline, time.monotonic() + 5)
        finally:
            await client.close()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        at = f"{time.monotonic() - self.t0:.0f}s"
        what = f"{seen} pledge(s) being charged" if seen else "no charge seen in flight"
        self.report.faults.append(
            f"kill services:payments-1,2 (pids {pids}) at {at}, while the campaigns close: {what}"
        )

    async def stripe_events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        after: str | None = None
        async with httpx.AsyncClient(base_url=self.stripe, timeout=60, auth=(STRIPE_SECRET, "")) as stripe:
            while True:
                params: dict[str, Any] = {"limit": 100, **({"starting_after": after} if after else {})}
                page = (await stripe.get("/v1/events", params=params)).json()
                events += page["data"]
                if not page.get("has_more") or not page["data"]:
                    return events
                after = page["data"][-1]["id"]

    async def redeliver(self, events: list[dict[str, Any]]) -> None:
        """What Stripe does on a bad day: what it sends meanwhile held back --late-s seconds and
        then delivered twice each, shuffled; and every earlier event again, twice, shuffled."""
        self.holding = []
        await asyncio.sleep(self.o.late_s)
        held, self.holding = self.holding, None
        late = [d for d in held for _ in range(2)]
        self.rng.shuffle(late)
        self.report.webhooks_held += len(held)
        for payload, signature in late:
            await self.forward(payload, signature, redelivery=True)
        deliveries = [e for e in events for _ in range(2)]
        self.rng.shuffle(deliveries)
        secret = os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_civicfund_local")  # the stack's (settings)
        for event in deliveries:
            payload = json.dumps(event).encode()
            stamp = int(time.time())
            signature = hmac.new(secret.encode(), b"%d.%s" % (stamp, payload), hashlib.sha256).hexdigest()
            await self.forward(payload, f"t={stamp},v1={signature}", redelivery=True)

    # -- the run ------------------------------------------------------------------------------------

    async def execute(self) -> Report:
        self.t0 = time.monotonic()
        await self.start()
        self.report.seconds["stack start"] = time.monotonic() - self.t0
        t = time.monotonic()
        admin = await self.account(ADMIN_EMAIL)
        manager, owner = await asyncio.gather(
            self.account(f"manager-{uuid.uuid4().hex[:6]}@example.localhost"),
            self.account(f"owner-{uuid.uuid4().hex[:6]}@example.localhost"),
        )
        slug = await self.city(admin, manager)
        await self.receiver(slug, manager)
        n = max(1, self.o.campaigns)
        plans = [[self.rng.choice(AMOUNTS) for _ in range(self.o.pledges // n + (i < self.o.pledges % n))]
                 for i in range(n)]  # fmt: skip
        budget = sum(int((sum(p) if KINDS[i % 6].reaches_goal else 4 * sum(p) + 1_000) * KINDS[i % 6].ratio)
                     for i, p in enumerate(plans))  # fmt: skip
        pool = await self.api.call(
            "POST", f"{E}/municipalities/{slug}/pools", manager, headers={"Idempotency-Key": f"pool-{slug}"},
            json={"name": "Chaos budget", "year": 2027, "budget": budget + 100_000, "currency": "EUR"},
        )  # fmt: skip
        backers = await asyncio.gather(
            *[self.account(f"backer{j}-{uuid.uuid4().hex[:6]}@example.localhost")
              for j in range(max(len(p) for p in plans))]
        )  # fmt: skip
        self.campaigns = list(
            await asyncio.gather(
                *[self.campaign(i, owner, admin, manager, slug, pool["id"], p) for i, p in enumerate(plans)]
            )
        )
        await self.award_call(owner, manager, slug, self.campaigns[0])
        self.report.pledges_planned = sum(len(p) for p in plans)
        self.report.seconds["set-up"] = time.monotonic() - t

        t = time.monotonic()
        faults = asyncio.create_task(self.schedule())
        work = [(c, backers[j], amount) for c in self.campaigns for j, amount in enumerate(c.planned)]
        self.rng.shuffle(work)
        queue: asyncio.Queue[tuple[Campaign, Account, int]] = asyncio.Queue()
        for item in work:
            queue.put_nowait(item)

        # Paced over the fault schedule, so that the faults land among the pledges.
        span = self.o.rounds * (len(self.o.faults) * self.o.fault_gap_s
                                + self.o.cut_s * self.o.faults.count("cut") + self.o.slow_s * self.o.faults.count("slow"))  # fmt: skip
        pace, start, made = span / max(1, len(work)), time.monotonic(), 0

        async def worker() -> None:
            nonlocal made
            while not queue.empty():
                campaign, backer, amount = queue.get_nowait()
                slot, made = start + made * pace, made + 1
                await asyncio.sleep(max(0.0, slot - time.monotonic()))
                await self.pledge(backer, campaign, amount)

        await asyncio.gather(*[worker() for _ in range(3)])
        self.report.seconds["pledges"] = time.monotonic() - t

        t = time.monotonic()
        if not self.o.deadline_race:
            await self.until_known()
        mongo = f"mongodb://127.0.0.1:{self.ports.mongo('campaigns')}/?directConnection=true"
        for c in self.campaigns:
            await asyncio.to_thread(move_deadline_to_the_past, mongo, self.var / "run" / "locks", c.id)
        if "kill" in self.o.faults:
            await self.kill_while_charging()
        await self.until_closed()
        await faults
        await asyncio.gather(*self.redeliveries)
        await asyncio.gather(*self.relays)
        self.report.seconds["closing"] = time.monotonic() - t

        t = time.monotonic()
        await self.settle_and_check(admin, slug)
        self.report.seconds["settle + checks"] = time.monotonic() - t
        return self.report

    async def until_known(self) -> None:
        """Until campaigns counts every pledge the bench saw confirmed: a deadline days away
        passes long after that (see --deadline-race for the other case)."""
        deadline = time.monotonic() + 180
        for c in self.campaigns:
            while True:
                totals = (await self.api.call("GET", f"{C}/{c.id}", None))["totals"]
                if int(totals.get("raised", 0)) + int(totals.get("pledged", 0)) >= c.confirmed_total:
                    break
                if time.monotonic() > deadline:
                    self.report.breaches.append(f"campaign {c.id} never counted its pledges: {totals}")
                    break
                await asyncio.sleep(1)

    async def until_closed(self) -> None:
        deadline = time.monotonic() + 300
        for c in self.campaigns:
            while True:
                got = await self.api.call("GET", f"{C}/{c.id}", None)
                if got["status"] in ("succeeded", "failed"):
                    break
                if time.monotonic() > deadline:
                    self.report.breaches.append(f"campaign {c.id} never closed (still {got['status']})")
                    break
                await asyncio.sleep(1)

    # -- the checks ---------------------------------------------------------------------------------

    async def settle_and_check(self, admin: Account, slug: str) -> None:
        """The checks, again and again until they pass or --settle-s runs out (the platform is
        eventually consistent: what is still on its way is not a breach, what never arrives is)."""
        deadline = time.monotonic() + self.o.settle_s
        admin.token = (await self.api.call(
            "POST", "/api/v1/auth/login", None, json={"email": ADMIN_EMAIL, "password": PASSWORD}
        ))["access_token"]  # fmt: skip
        while True:
            breaches, explained = await self.check(admin, slug)
            if not breaches or time.monotonic() > deadline:
                break
            await asyncio.sleep(3)
        self.report.breaches += breaches
        self.report.parked_explained = explained
        self.report.figures = await self.figures()
        self.report.events = await self.outbox_rows()
        ids = collections.Counter(i for i, _, _ in self.published)
        self.report.figures["events seen on the bus"] = len(ids)
        self.report.figures["events published twice"] = sum(1 for n in ids.values() if n > 1)

    async def check(self, admin: Account, slug: str) -> tuple[list[str], list[str]]:
        breaches: list[str] = []
        intents = await self.stripe_list("/v1/payment_intents")
        ours = {c.id for c in self.campaigns}
        taken: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)  # campaign -> succeeded PIs
        per_pledge: collections.Counter[str] = collections.Counter()
        for pi in intents:
            meta = pi.get("metadata") or {}
            if pi["status"] == "succeeded" and meta.get("campaign_id") in ours:
                taken[meta["campaign_id"]].append(pi)
                per_pledge[meta.get("pledge_id", "?")] += 1
        breaches += [f"pledge {p} charged {n} times on Stripe" for p, n in per_pledge.items() if n > 1]

        for c in self.campaigns:
            camp = await self.api.call("GET", f"{C}/{c.id}", None)
            ledger = await self.api.call("GET", f"{P}/campaigns/{c.id}/ledger", admin)
            recon = await self.api.call("GET", f"{P}/campaigns/{c.id}/reconciliation", admin)
            name = f"campaign {c.id} ({c.kind.funding_model}, {c.kind.condition} x{c.kind.ratio})"
            charges = sorted(taken[c.id], key=lambda pi: (pi["created"], pi["id"]))
            charged = sum(pi["amount"] for pi in charges)
            lt, ct = ledger["totals"], camp["totals"]
            if lt["charged"] != charged:
                breaches.append(f"{name}: ledger charged {lt['charged']} but Stripe took {charged}")
            if ct["raised"] != lt["raised"]:
                breaches.append(f"{name}: campaign raised {ct['raised']} but ledger {lt['raised']}")
            if ct["matched"] != lt["matched"]:
                breaches.append(f"{name}: campaign matched {ct['matched']} but ledger {lt['matched']}")
            if not recon["ok"]:
                breaches.append(f"{name}: reconciliation with Stripe differs: {recon['differences']}")
            # What the bench saw confirmed is what the campaign must have been decided on.
            instant_counted = 0
            if c.kind.condition == "instant" and c.kind.funding_model == "keep_it_all":
                instant_counted = _rule(c, [pi["amount"] for pi in charges])
            reached = c.confirmed_total + instant_counted >= c.goal
            if c.kind.funding_model == "all_or_nothing":
                status = "succeeded" if reached else "failed"
                if camp["status"] != status:
                    breaches.append(f"{name}: {camp['status']} but its pledges make it {status}")
                expected_charged = c.confirmed_total if reached else 0
                if charged != expected_charged:
                    breaches.append(f"{name}: Stripe took {charged}, the pledges make {expected_charged}")
            elif charged != c.confirmed_total:
                breaches.append(
                    f"{name}: Stripe took {charged}, the confirmed pledges were {c.confirmed_total}"
                )
            expected = self.expected_match(c, [pi["amount"] for pi in charges], reached) + c.award
            if lt["matched"] != expected:
                breaches.append(
                    f"{name}: matched {lt['matched']} in the ledger, the rule on what was charged gives "
                    f"{expected} (goal {'reached' if reached else 'not reached'}, status {camp['status']})"
                )
        breaches += await self.check_awards(admin, slug)
        breaches += self.check_mails()
        breaches += await self.check_city_hooks(slug)
        pending = await self.outbox_pending()
        breaches += [f"{s}: {n} outbox rows still pending" for s, n in pending.items() if n]
        parked, explained = await self.parked()
        return breaches + parked, explained

    async def check_awards(self, admin: Account, slug: str) -> list[str]:
        """The award is owed by the city once (its due, and the ledger's `city` account)."""
        breaches: list[str] = []
        dues = (await self.api.call("GET", f"{P}/city-dues", admin, params={"municipality": slug}))["items"]
        for c in self.campaigns:
            if not c.award:
                continue
            mine = [d for d in dues if d["id"] == c.award_due]
            if len(mine) != 1 or mine[0]["amount"] != c.award or mine[0]["status"] == "canceled":
                breaches.append(f"campaign {c.id}: award {c.award} not due from the city as one due: {mine}")
            owed = (await self.api.call("GET", f"{P}/campaigns/{c.id}/ledger", admin))["totals"]
            if owed["match_owed_by_city"] < c.award:
                breaches.append(f"campaign {c.id}: the ledger has the city owing {owed['match_owed_by_city']}, "
                                f"less than the award {c.award}")  # fmt: skip
        return breaches

    def expected_match(self, c: Campaign, charges: list[int], reached: bool) -> int:
        """The rule (the fixed one, see the module's docstring) on what Stripe charged."""
        if c.kind.condition == "instant":
            if c.kind.funding_model == "all_or_nothing" and not reached:
                return 0
            return _rule(c, charges)
        return _rule(c, charges) if reached else 0

    def check_mails(self) -> list[str]:
        seen: collections.Counter[tuple[str, str]] = collections.Counter()
        for path in (self.var / "mail").glob("*.eml"):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            seen[(str(message["To"]), str(message["Message-ID"]))] += 1
        self.report.figures["emails"] = sum(seen.values())
        return [f"email {mid} delivered {n} times to {to}" for (to, mid), n in seen.items() if n > 1]

    async def check_city_hooks(self, slug: str) -> list[str]:
        """Every event of a subscribed type about the city, as the bus carried it, delivered to
        its webhook exactly once."""
        wanted = {i for i, key, town in self.published if town == slug and key in self.hook_types}
        self.report.figures["city webhooks"] = sum(self.hooks.values())
        breaches = [f"city webhook: event {e} delivered {n} times" for e, n in self.hooks.items() if n > 1]
        breaches += [f"city webhook: event {e} never delivered" for e in sorted(wanted - set(self.hooks))]
        breaches += [
            f"city webhook: event {e} delivered, never published" for e in sorted(set(self.hooks) - wanted)
        ]
        if not wanted:
            breaches.append("city webhook: no event of the city was published at all")
        return breaches

    async def outbox_pending(self) -> dict[str, int]:
        counts = {}
        for service in SERVICES:
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
                f"mongodb://127.0.0.1:{self.ports.mongo(service)}/?directConnection=true"
            )
            try:
                counts[service] = await client[service].outbox.count_documents({"status": {"$eq": "pending"}})
            finally:
                await client.close()
        return counts

    async def outbox_rows(self) -> int:
        total = 0
        for service in SERVICES:
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
                f"mongodb://127.0.0.1:{self.ports.mongo(service)}/?directConnection=true"
            )
            try:
                total += await client[service].outbox.count_documents({})
            finally:
                await client.close()
        return total

    async def parked(self) -> tuple[list[str], list[str]]:
        """Every `<queue>.dead` of the run's namespace (all six services), peeked and left there."""
        parsed = urlparse(self.o.amqp_url)
        vhost = quote(unquote(parsed.path[1:]) if parsed.path not in ("", "/") else "/", safe="")
        auth = (unquote(parsed.username or "guest"), unquote(parsed.password or "guest"))
        async with httpx.AsyncClient(base_url=MANAGEMENT_URL, auth=auth, timeout=30) as management:
            listing = await management.get(f"/api/queues/{vhost}", params={"columns": "name"})
        if listing.status_code != 200:
            return [f"parked: the broker's management API answered {listing.status_code}"], []
        dead = [
            q["name"]
            for q in listing.json()
            if q["name"].startswith(self.namespace) and q["name"].endswith(".dead")
        ]
        breaches, explained = [], []
        connection = await aio_pika.connect(self.o.amqp_url)
        try:
            channel = await connection.channel()
            for name in sorted(dead):
                queue = name.removeprefix(self.namespace).removesuffix(".dead")
                for m in await peek(channel, name.removesuffix(".dead"), 200):
                    body = m["body"] if isinstance(m["body"], dict) else {}
                    what = f"{queue}: {body.get('type')} {body.get('subject')} ({m['reason']}: {m['error']})"
                    (explained if m["reason"] == "rejected_by_handler" else breaches).append(what)
        finally:
            await connection.close()
        return [f"parked: {b}" for b in breaches], explained

    async def stripe_list(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after: str | None = None
        async with httpx.AsyncClient(base_url=self.stripe, timeout=60, auth=(STRIPE_SECRET, "")) as stripe:
            while True:
                params: dict[str, Any] = {"limit": 100, **({"starting_after": after} if after else {})}
                page = (await stripe.get(path, params=params)).json()
                items += page["data"]
                if not page.get("has_more") or not page["data"]:
                    return items
                after = page["data"][-1]["id"]

    async def figures(self) -> dict[str, int]:
        """Counters summed over the distinct live processes of each service (each scrape lands
        on one replica; process_start_time_seconds tells them apart)."""
        wanted = {"events_duplicate": "events_duplicate_total", "events_retried": "events_retried_total",
                  "work_retried": "work_items_retried_total"}  # fmt: skip
        totals = dict(self.report.figures)
        per_process: dict[tuple[str, float], dict[str, float]] = {}
        async with httpx.AsyncClient(timeout=10) as client:
            for service in REPLICATED:
                for _ in range(8):
                    with contextlib.suppress(httpx.HTTPError):
                        # A new connection each time: SO_REUSEPORT spreads connections, not requests.
                        text = (await client.get(f"http://127.0.0.1:{self.ports.http(service)}/metrics",
                                                 headers={"Connection": "close"})).text  # fmt: skip
                        values: dict[str, float] = collections.defaultdict(float)
                        start = 0.0
                        for family in text_string_to_metric_families(text):
                            for sample in family.samples:
                                if sample.name == "process_start_time_seconds":
                                    start = sample.value
                                for key, name in wanted.items():
                                    if sample.name == name:
                                        values[key] += sample.value
                                if (sample.name == "payments_stripe_webhooks_total"
                                        and sample.labels.get("result") == "duplicate"):  # fmt: skip
                                    values["webhooks_duplicate"] += sample.value
                        per_process[(service, start)] = values
        for values in per_process.values():
            for key, value in values.items():
                totals[key] = totals.get(key, 0) + int(value)
        return totals


def _rule(c: Campaign, charges: list[int]) -> int:
    """ratio on each charge (floored), the project's cap over all: first come, first served."""
    hundredths = round(c.kind.ratio * 100)
    return min(sum(a * hundredths // 100 for a in charges), c.cap)


def _claims(token: str) -> dict[str, Any]:
    import base64

    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    d = Options()
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--campaigns", type=int, default=d.campaigns)
    parser.add_argument("--pledges", type=int, default=d.pledges)
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--rounds", type=int, default=d.rounds)
    parser.add_argument("--fault-gap-s", type=float, default=d.fault_gap_s)
    parser.add_argument("--cut-s", type=float, default=d.cut_s)
    parser.add_argument("--late-s", type=float, default=d.late_s)
    parser.add_argument("--slow-s", type=float, default=d.slow_s)
    parser.add_argument("--slow-delay-s", type=float, default=d.slow_delay_s)
    parser.add_argument("--settle-s", type=float, default=d.settle_s)
    parser.add_argument(
        "--deadline-race",
        action="store_true",
        help="move the deadlines at once, before the platform has heard of the last pledges",
    )
    parser.add_argument("--var", type=Path, default=None)
    parser.add_argument("--amqp-url", default=os.environ.get("AMQP_URL", DEFAULT_URL))
    parser.add_argument("--namespace", default="", help="the RabbitMQ name prefix (default: a fresh one)")
    a = parser.parse_args(argv)
    faults = [f for f in a.faults.split(",") if f]
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        parser.error(f"--faults: unknown {', '.join(unknown)} (one of {', '.join(FAULTS)})")
    return Options(a.seed, a.campaigns, a.pledges, faults, a.rounds, a.fault_gap_s, a.cut_s, a.late_s,
                   a.slow_s, a.slow_delay_s, a.settle_s, a.deadline_race, a.var, a.amqp_url, a.namespace)  # fmt: skip


async def run_chaos(options: Options) -> Report:
    """The whole run on a stack of its own; the report (its `breaches` empty when all held)."""
    temporary = options.var is None
    var = Path(tempfile.mkdtemp(prefix="civicfund-chaos-")) if options.var is None else options.var.resolve()
    chaos = Chaos(options, var)
    try:
        return await chaos.execute()
    except BaseException:
        if chaos.run is not None:
            print("\n".join(chaos.run.lines[-80:]), file=sys.stderr)
        raise
    finally:
        await chaos.stop()
        if temporary:
            shutil.rmtree(var, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    report = asyncio.run(run_chaos(parse_args(argv)))
    print(report.text())
    return 1 if report.breaches else 0


if __name__ == "__main__":
    sys.exit(main())
