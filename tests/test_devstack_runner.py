"""`make up` as a new user meets it: start, back a project, a service crashes, Ctrl-C, start again;
and replicas of every consumer and scheduler on one machine.

The runner runs on its own block of ports and its own `var/` (files, as `make up` keeps them),
against this session's RabbitMQ under a namespace of its own. Every business action goes
through the public doors: the gateway's API with tokens from its login, card entry on
localstripe as Stripe.js does it.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aio_pika
import aio_pika.abc
import httpx
import pytest

from devstack.deadlines import move_deadline_to_the_past
from devstack.running import wait_ready
from devstack.up import ports_from
from servicekit.testing.plugin import TestEnv
from servicekit.testing.rabbit import delete_namespace

from .devstack_runner import free_block, up

pytestmark = pytest.mark.timeout(600)

SERVICE_PROCESSES = {"gateway", "campaigns", "payments", "endorsements", "notifications", "web"}
CARD = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2031", "cvc": "123"}


def _login(gateway: str, email: str, password: str) -> tuple[dict[str, str], str]:
    """Log in through the gateway: (auth headers, user id)."""
    answer = httpx.post(
        f"{gateway}/api/v1/auth/login", json={"email": email, "password": password}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return {"Authorization": f"Bearer {body['access_token']}"}, body["user"]["id"]


def _save_card_as_stripe_js(stripe: str, pledge: dict[str, Any]) -> None:
    secret = pledge["client_secret"]
    data = {"key": "pk_test_civicfund", "client_secret": secret, "payment_method_data[type]": "card"}
    data.update({f"payment_method_data[card][{k}]": v for k, v in CARD.items()})
    confirmed = httpx.post(
        f"{stripe}/v1/setup_intents/{secret.split('_secret_')[0]}/confirm", data=data, timeout=30
    )
    assert confirmed.status_code == 200, confirmed.text


def _pledge(
    gateway: str, stripe: str, who: dict[str, str], campaign: dict[str, Any], key: str
) -> dict[str, Any]:
    """Back a campaign the way the site's checkout does."""
    created = httpx.post(
        f"{gateway}/api/v1/payments/pledges",
        headers={**who, "Idempotency-Key": key},
        json={"campaign_id": campaign["id"], "amount": 1_000, "currency": campaign["currency"], "tip": 0},
        timeout=30,
    )
    assert created.status_code in (200, 201), created.text
    pledge = created.json()
    if pledge.get("next_action") == "confirm_card_setup":
        _save_card_as_stripe_js(stripe, pledge)
        confirmed = httpx.post(
            f"{gateway}/api/v1/payments/pledges/{pledge['id']}/confirm", headers=who, timeout=30
        )
        assert confirmed.status_code == 200, confirmed.text
        pledge = confirmed.json()
    return pledge


def _gone(pid: int) -> bool:
    """Exited (a zombie nobody reaps yet counts: it runs nothing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_restart_keeps_the_data_a_crash_is_restarted_ctrl_c_stops_services_first_and_a_killed_runner_leaves_nothing(
    env: TestEnv, tmp_path: Path
) -> None:
    namespace = f"{env.namespace}up{uuid.uuid4().hex[:4]}."
    base = free_block()
    ports = ports_from(base)
    gateway, stripe = f"http://127.0.0.1:{ports.gateway}", f"http://127.0.0.1:{ports.localstripe}"
    var = tmp_path / "var"
    try:
        with up(var, base, namespace, "--no-demo") as first:
            first.wait_for("==> Civicfund is running", timeout=300)
            # What the demo's pledge step does: a backer pledges, payments creates their Stripe
            # customer and keeps its id.
            admin, _ = _register(gateway, "admin@civicfund.localhost")
            owner, _ = _register(gateway, f"owner-{uuid.uuid4().hex[:6]}@example.localhost")
            backer_email = f"backer-{uuid.uuid4().hex[:6]}@example.localhost"
            backer, _ = _register(gateway, backer_email)
            campaign = _live_campaign(gateway, owner, admin, "keep_it_all")
            assert _pledge_when_known(gateway, stripe, backer, campaign)["status"] == "succeeded"

            # A service dies: the runner says so, supervisord starts it again, the rest stays up.
            victim = first.pid("services:payments")
            os.kill(victim, signal.SIGKILL)
            first.wait_for("!!! payments crashed (terminated by SIGKILL)", timeout=30)
            first.wait_for("==> payments is running again", timeout=90)
            assert first.pid("services:payments") != victim
            wait_ready(f"http://127.0.0.1:{ports.payments}/readyz", time.monotonic() + 120)
            assert httpx.get(f"{gateway}/readyz", timeout=10).status_code == 200

            assert first.interrupt() == 0, first.output[-3000:]
            stops = first.stops()
            order = [s.name for s in stops]
            services = [i for i, s in enumerate(stops) if s.name in SERVICE_PROCESSES]
            datastores = [i for i, s in enumerate(stops) if s.name not in SERVICE_PROCESSES]
            assert len(services) == len(SERVICE_PROCESSES) and datastores, order
            assert max(services) < min(datastores), order  # every service stopped before any datastore
            assert {s.exit_detail for s in stops if s.name in SERVICE_PROCESSES} == {"exit status 0"}, stops
            assert "==> everything stopped cleanly" in first.output

        # `make up` again: same data, and the same backer can pledge again (localstripe still
        # knows the Stripe customer and card payments kept; an empty one answered 502 here).
        with up(var, base, namespace, "--no-demo") as second:
            second.wait_for("==> Civicfund is running", timeout=240)
            backer, _ = _login(gateway, backer_email, "correct horse battery")
            again = httpx.get(f"{gateway}/api/v1/campaigns/campaigns/{campaign['id']}", timeout=30)
            assert again.status_code == 200 and again.json()["status"] == "live", again.text
            pledge = _pledge(gateway, stripe, backer, campaign, f"after-restart-{uuid.uuid4().hex}")
            assert pledge["status"] == "succeeded", pledge
            mine = _call("GET", f"{gateway}/api/v1/payments/me/pledges", backer)["items"]
            assert len([p for p in mine if p["campaign_id"] == campaign["id"]]) == 2, mine
            # The runner killed outright (what a test's timeout does to its parent): supervisord
            # has SIGTERM from the kernel and stops the services, nothing is left running.
            supervisord = int((var / "run" / "supervisord.pid").read_text())
            service = second.pid("services:payments")
            second.proc.kill()
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not (_gone(supervisord) and _gone(service)):
                time.sleep(0.5)
            assert _gone(service) and _gone(supervisord), (supervisord, service)
    finally:
        delete_namespace(env.amqp_url, namespace)


# -- replicas ------------------------------------------------------------------------------------

REPLICATED = ["gateway", "campaigns", "payments", "endorsements", "notifications"]  # every consumer/scheduler


def _register(
    gateway: str, email: str, password: str = "correct horse battery"
) -> tuple[dict[str, str], str]:
    created = httpx.post(
        f"{gateway}/api/v1/auth/register",
        json={"email": email, "password": password, "display_name": email.split("@")[0], "locale": "en"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return _login(gateway, email, password)


def _call(method: str, url: str, who: dict[str, str], **kwargs: Any) -> Any:
    answer = httpx.request(method, url, headers={**who, **kwargs.pop("headers", {})}, timeout=30, **kwargs)
    assert answer.status_code in (200, 201), f"{method} {url}: {answer.status_code} {answer.text[:500]}"
    return answer.json()


def _live_campaign(
    gateway: str, owner: dict[str, str], admin: dict[str, str], model: str, city: str = "montreuil"
) -> dict[str, Any]:
    base = f"{gateway}/api/v1/campaigns/campaigns"
    campaign = _call(
        "POST", base, owner,
        json={"title": f"Replicas {model} {uuid.uuid4().hex[:6]}", "municipality": city,
              "postcode": "93100", "goal": 1_000, "funding_model": model},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )  # fmt: skip
    _call("POST", f"{base}/{campaign['id']}/submit", owner)
    return _call("POST", f"{base}/{campaign['id']}/moderation", admin, json={"decision": "approve"})


def _until(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _pledge_when_known(
    gateway: str, stripe: str, who: dict[str, str], campaign: dict[str, Any]
) -> dict[str, Any]:
    """Payments learns of a campaign from its events: a pledge right after publication may be
    refused until then."""
    key = uuid.uuid4().hex
    deadline = time.monotonic() + 60
    while True:
        try:
            return _pledge(gateway, stripe, who, campaign, key)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


class _EventTap:
    """A queue of the test's own bound to every internal event: what the relays published."""

    def __init__(self, amqp_url: str, exchange: str, seen: list[tuple[str, str, str]]) -> None:
        self.amqp_url, self.exchange, self.seen = amqp_url, exchange, seen
        self._bound = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._run(),), daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        assert self._bound.wait(30), "could not bind to the events exchange"

    def stop(self) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        connection = await aio_pika.connect(self.amqp_url)
        try:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(self.exchange, passive=True)
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            await queue.bind(exchange, "#")

            async def keep(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                body = json.loads(message.body)
                self.seen.append((body["id"], message.routing_key or "", body.get("subject") or ""))
                await message.ack()

            await queue.consume(keep)
            self._bound.set()
            await self._stop.wait()
        finally:
            await connection.close()


class _CityReceiver:
    """The city system's webhook receiver, a real HTTP server on this machine: how many times
    each event (the `Webhook-Event-Id` header, the CloudEvent id) was delivered."""

    def __init__(self) -> None:
        self.deliveries: Counter[str] = Counter()
        self.types: dict[str, str] = {}
        receiver = self

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                event_id = self.headers.get("Webhook-Event-Id") or ""
                receiver.deliveries[event_id] += 1
                receiver.types[event_id] = json.loads(body)["type"]
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # keep the test's output for failures
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/civicfund"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> _CityReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _claims(headers: dict[str, str]) -> dict[str, Any]:
    """The token's claims, read (not verified: the services do that) to see a role arrive."""
    payload = headers["Authorization"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _city_with_manager(gateway: str, admin: dict[str, str], manager_email: str) -> tuple[str, dict[str, str]]:
    """A municipality registered by the admin, on trial, with its manager appointed through
    endorsements: (slug, the manager's headers once their token carries the role)."""
    slug = f"rep-{uuid.uuid4().hex[:8]}"
    api = f"{gateway}/api/v1/endorsements/municipalities"
    city = {
        "name": f"Town {slug}",
        "slug": slug,
        "official_code": "99999",
        "country": "FR",
        "postcodes": ["93100"],
    }
    _call("POST", api, admin, json=city)
    _, manager_id = _register(gateway, manager_email)
    _call(
        "PUT", f"{api}/{slug}/officials/{manager_id}", admin, json={"role": "manager", "email": manager_email}
    )
    _call("POST", f"{api}/{slug}/trial", admin, json={"days": 30})

    def manager_token() -> dict[str, str] | None:
        # The gateway learns the role from endorsements' official.appointed, asynchronously.
        headers, _ = _login(gateway, manager_email, "correct horse battery")
        return headers if (_claims(headers).get("municipalities") or {}).get(slug) == "manager" else None

    return slug, _until("the manager's role in their token", manager_token, 60)


def _request_label(gateway: str, owner: dict[str, str], campaign_id: str) -> dict[str, Any]:
    """Endorsements learns of the campaign from its events: until then the request is refused."""

    def requested() -> dict[str, Any] | None:
        answer = httpx.post(
            f"{gateway}/api/v1/endorsements/labels",
            headers=owner,
            json={"campaign_id": campaign_id},
            timeout=30,
        )
        if answer.status_code == 201:
            return answer.json()
        assert answer.json()["error"]["code"] == "campaign_not_found", answer.text
        return None

    return _until("endorsements to know the campaign", requested, 60)


WEBHOOK_TYPES = ("label.", "endorsement.", "campaign.")  # what the city's endpoint subscribes to


def _mails(directory: Path) -> list[tuple[str, str, str]]:
    """Every message the SMTP sink kept: (to, subject, body)."""
    found = []
    for path in sorted(directory.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(("plain", "html"))
        found.append((str(message["To"]), str(message["Subject"]), body.get_content() if body else ""))
    return found


def test_two_replicas_of_every_consumer_and_scheduler_process_each_thing_once(
    env: TestEnv, tmp_path: Path
) -> None:
    namespace = f"{env.namespace}rep{uuid.uuid4().hex[:4]}."
    base = free_block()
    ports = ports_from(base)
    gateway, stripe = f"http://127.0.0.1:{ports.gateway}", f"http://127.0.0.1:{ports.localstripe}"
    var = tmp_path / "var"
    replicas = ",".join(f"{s}=2" for s in REPLICATED)
    seen: list[tuple[str, str, str]] = []  # (event id, routing key, subject) as published
    try:
        with _CityReceiver() as hook, up(var, base, namespace, "--no-demo", "--replicas", replicas) as run:
            run.wait_for("==> Civicfund is running", timeout=420)
            for service in REPLICATED:  # both replicas really run, on one port
                assert run.pid(f"services:{service}-1") != run.pid(f"services:{service}-2")
            listener = _EventTap(env.amqp_url, f"{namespace}civicfund.events", seen)
            listener.start()

            admin, _ = _register(gateway, "admin@civicfund.localhost")
            manager_email = f"manager-{uuid.uuid4().hex[:6]}@example.localhost"
            city, manager = _city_with_manager(gateway, admin, manager_email)
            # The city's system listens for its labels and campaigns (registered by its manager).
            _call("POST", f"{gateway}/api/v1/notifications/webhooks/endpoints", manager,
                  json={"municipality": city, "url": hook.url,
                        "event_types": [f"{t}*" for t in WEBHOOK_TYPES]})  # fmt: skip
            owner, _ = _register(gateway, f"owner-{uuid.uuid4().hex[:6]}@example.localhost")
            emails = [f"backer{i}-{uuid.uuid4().hex[:6]}@example.localhost" for i in range(3)]
            backers = [_register(gateway, email) for email in emails]
            keep = _live_campaign(gateway, owner, admin, "keep_it_all", city)
            aon = _live_campaign(gateway, owner, admin, "all_or_nothing", city)
            label = _request_label(gateway, owner, keep["id"])
            _call("POST", f"{gateway}/api/v1/endorsements/labels/{label['id']}/grant", manager,
                  json={"support": [{"kind": "land", "description": "Plot", "address": "Parc des Guilands"}]})  # fmt: skip
            for who, _ in backers:
                assert _pledge_when_known(gateway, stripe, who, keep)["status"] == "succeeded"
                assert _pledge_when_known(gateway, stripe, who, aon)["status"] == "authorized"

            # The deadline passes: one of the two schedulers closes the campaign, payments
            # charges every saved card once.
            move_deadline_to_the_past(f"mongodb://127.0.0.1:{ports.mongo('campaigns')}/?directConnection=true",
                                       var / "run" / "locks", aon["id"])  # fmt: skip
            campaign_url = f"{gateway}/api/v1/campaigns/campaigns/{aon['id']}"
            _until(
                "the campaign to close",
                lambda: httpx.get(campaign_url, timeout=30).json()["status"] == "succeeded",
                90,
            )

            def all_charged() -> bool:
                for who, _ in backers:
                    mine = _call("GET", f"{gateway}/api/v1/payments/me/pledges", who)["items"]
                    if {p["status"] for p in mine if p["campaign_id"] == aon["id"]} != {"succeeded"}:
                        return False
                return True

            _until("every all-or-nothing pledge to be charged", all_charged, 120)

            catalogue = httpx.get(f"{gateway}/api/v1/notifications/webhooks/event-types", timeout=30)
            subscribed = {t for t in catalogue.json()["event_types"] if t.startswith(WEBHOOK_TYPES)}

            def city_events() -> set[str]:
                return {event_id for event_id, key, _ in seen if key in subscribed}

            _until("every city event delivered to the city's webhook",
                   lambda: city_events() <= set(hook.deliveries), 120)  # fmt: skip
            time.sleep(5)  # late duplicates, if any, have time to show
            listener.stop()

            # Outbox relay: every event published once.
            ids = [event_id for event_id, _, _ in seen]
            assert ids and len(ids) == len(set(ids)), [e for e in seen if ids.count(e[0]) > 1]
            # Deadline closing: one closing for the campaign.
            closings = [
                e for e in seen if e[1] in ("campaign.succeeded", "campaign.failed") and e[2] == aon["id"]
            ]
            assert len(closings) == 1, closings
            # Charging: one successful PaymentIntent per pledge on (this stack's own) localstripe.
            intents = httpx.get(f"{stripe}/v1/payment_intents", params={"limit": 100},
                                auth=("sk_test_civicfund_local", ""), timeout=30).json()["data"]  # fmt: skip
            succeeded = [i for i in intents if i["status"] == "succeeded"]
            assert len(succeeded) == 2 * len(backers), [(i["id"], i["amount"], i["status"]) for i in intents]
            # Emails: each person got their verification email, and no message was sent twice.
            mails = _mails(var / "mail")
            for address in ["admin@civicfund.localhost", *emails]:
                assert any(address in to for to, _, _ in mails), (address, [m[:2] for m in mails])
            assert len(mails) == len(set(mails)), [m[:2] for m in mails if mails.count(m) > 1]
            # City webhooks: every event of the city the endpoint subscribes to was delivered, once
            # (two endorsements publishing, two notifications consuming and sending).
            assert set(hook.deliveries) == city_events(), (sorted(hook.types.values()), len(city_events()))
            twice = {i: (n, hook.types[i]) for i, n in hook.deliveries.items() if n != 1}
            assert not twice, twice
            delivered = set(hook.types.values())
            for kind in ("label.requested", "label.granted", "endorsement.granted", "campaign.published",
                         "campaign.succeeded"):  # fmt: skip
                assert f"org.civicfund.{kind}" in delivered, (kind, delivered)
            assert run.interrupt() == 0, run.output[-3000:]
    finally:
        delete_namespace(env.amqp_url, namespace)
