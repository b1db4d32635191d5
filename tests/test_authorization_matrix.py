"""The authorisation matrix: every city and admin route of the platform, through the gateway,
for eight callers (anonymous, a citizen, an official of another city, the city's reviewer, its
manager, the platform admin, the city's own API client, another city's API client). A caller
passes a route when the answer is not a refusal (401/403; 404 where the route hides what the
caller may not see); exactly the expected callers pass, every other one is refused.

All accounts are real (registered and logged in through the gateway, officials appointed
through the endorsements API), the API clients are created at the gateway by the cities'
managers and take their tokens with the client-credentials grant."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

E = "/api/v1/endorsements"
W = "/api/v1/notifications/webhooks"
CALLERS = ("anonymous", "citizen", "other_official", "reviewer", "manager", "admin", "client", "other_client")
OFFICIALS = {"reviewer", "manager"}
MANAGER_ADMIN = {"manager", "admin"}
CITY_SYSTEM_READ = {"reviewer", "manager", "client"}
WEBHOOKS = {"manager", "admin", "client"}


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    allowed: frozenset[str]
    body: Any = None
    idempotent: bool = False  # sends an Idempotency-Key (money routes require one)
    hidden: bool = False  # 404 is this route's refusal (it hides what the caller may not see)


def row(method: str, path: str, allowed: set[str], body: Any = None, **kw: Any) -> Row:
    return Row(method, path, frozenset(allowed), body, **kw)


async def _client_token(client: httpx.AsyncClient, manager: Any, slug: str) -> tuple[dict[str, str], str]:
    created = await client.post(
        "/api/v1/auth/clients", json={"municipality": slug, "name": "City IT"}, headers=manager.headers
    )
    assert created.status_code == 201, created.text
    grant = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created.json()["client_id"],
            "client_secret": created.json()["client_secret"],
        },
    )
    assert grant.status_code == 200, grant.text
    return {"Authorization": f"Bearer {grant.json()['access_token']}"}, created.json()["client_id"]


async def _label(platform: Any, owner: Any, slug: str) -> str:
    campaign = await platform.live_campaign(owner, municipality=slug, postcode="93100")
    async with platform.client() as client:
        for _ in range(150):
            r = await client.post(f"{E}/labels", headers=owner.headers, json={"campaign_id": campaign["id"]})
            if r.status_code == 201:
                return r.json()["id"]
            assert r.json()["error"]["code"] == "campaign_not_found", r.text
            await asyncio.sleep(0.2)
    raise AssertionError("endorsements never heard of the campaign")


async def _due(platform: Any, make_account: Any, stack: Any, manager: Any, slug: str, pool: str) -> str:
    """A match the city owes: an on_goal_reached match on a labelled campaign whose goal was
    paid on localstripe, and which ended."""
    owner = await make_account()
    campaign = await platform.live_campaign(owner, municipality=slug, postcode="93100", goal=5_000)
    async with platform.client() as client:
        for _ in range(150):
            r = await client.post(f"{E}/labels", headers=owner.headers, json={"campaign_id": campaign["id"]})
            if r.status_code == 201:
                label = r.json()["id"]
                break
            assert r.json()["error"]["code"] == "campaign_not_found", r.text
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("endorsements never heard of the campaign")
    match = {"pool_id": pool, "condition": "on_goal_reached", "ratio": 1, "cap_per_project": 2_000}
    granted = await platform.call(
        "POST", f"{E}/labels/{label}/grant", manager, headers={"Idempotency-Key": f"grant-due-{label}"},
        json={"match": match},
    )  # fmt: skip
    (commitment,) = granted["commitment_ids"]
    await platform.pledge(await make_account(), campaign, 5_000)
    for _ in range(300):
        got = await platform.call("GET", f"/api/v1/campaigns/campaigns/{campaign['id']}", None)
        if got["totals"]["raised"] == 5_000:
            break
        await asyncio.sleep(0.3)
    await stack.end_campaign_now(campaign["id"])
    for _ in range(400):
        dues = await platform.call(
            "GET", "/api/v1/payments/city-dues", manager, params={"municipality": slug}
        )
        if [d["status"] for d in dues["items"] if d["id"] == commitment] == ["due"]:
            return commitment
        await asyncio.sleep(0.3)
    raise AssertionError(f"the match never became due: {dues}")


async def test_every_city_and_admin_route_admits_exactly_its_callers(
    platform: Any, make_account: Any, stack: Any
) -> None:
    manager, reviewer, citizen, owner, other_manager = [await make_account() for _ in range(5)]
    slug = await platform.city(manager)
    other = await platform.city(other_manager)
    await platform.call(
        "PUT", f"{E}/municipalities/{slug}/officials/{reviewer.user_id}", manager, json={"role": "reviewer"}
    )
    await reviewer.wait_for_role(slug, "reviewer")
    async with platform.client() as client:
        system, _ = await _client_token(client, manager, slug)
        other_system, _ = await _client_token(client, other_manager, other)
        _, spare_client = await _client_token(client, manager, slug)
    headers: dict[str, dict[str, str]] = {
        "anonymous": {},
        "citizen": citizen.headers,
        "other_official": other_manager.headers,
        "reviewer": reviewer.headers,
        "manager": manager.headers,
        "admin": platform.admin.headers,
        "client": system,
        "other_client": other_system,
    }

    pending = await _label(platform, owner, slug)
    flow = await _label(platform, owner, slug)
    pool = await platform.call(
        "POST",
        f"{E}/municipalities/{slug}/pools",
        manager,
        201,
        headers={"Idempotency-Key": f"pool-{slug}"},
        json={"name": "Fonds", "year": 2027, "budget": 1_000_000, "currency": "EUR"},
    )
    now = datetime.now(UTC)
    call_body = {
        "title": "Budget participatif", "budget": 500_000, "max_award": 100_000, "currency": "EUR",
        "submission_opens_at": (now - timedelta(days=2)).isoformat(),
        "submission_closes_at": (now - timedelta(days=1)).isoformat(),
        "vote_opens_at": (now - timedelta(hours=1)).isoformat(),
        "vote_closes_at": (now + timedelta(days=5)).isoformat(),
        "selection_mode": "vote", "winners": 1,
    }  # fmt: skip
    call = await platform.call("POST", f"{E}/municipalities/{slug}/calls", manager, 201, json=call_body)
    to_close = await platform.call("POST", f"{E}/municipalities/{slug}/calls", manager, 201, json=call_body)
    endpoint = await platform.call(
        "POST",
        f"{W}/endpoints",
        manager,
        201,
        json={
            "municipality": slug,
            "url": "http://127.0.0.1:9/never",
            "event_types": ["subscription.lapsed"],
        },
    )
    match = {"pool_id": pool["id"], "condition": "on_goal_reached", "ratio": 1, "cap_per_project": 10_000}
    due = await _due(platform, make_account, stack, manager, slug, pool["id"])
    city_body = {
        "name": "Dup",
        "slug": slug,
        "official_code": "99999",
        "country": "FR",
        "postcodes": ["93100"],
    }
    ep = f"{W}/endpoints/{endpoint['id']}"

    rows = [
        # endorsements: the city, its officials
        row("POST", f"{E}/municipalities", {"admin"}, city_body),
        row("PATCH", f"{E}/municipalities/{slug}", MANAGER_ADMIN, {"page_text": "Our city's page"}),
        row("POST", f"{E}/municipalities/{slug}/trial", {"admin"}, {"days": 30}),
        row("POST", f"{E}/municipalities/{slug}/amqp-user", MANAGER_ADMIN),
        row("GET", f"{E}/municipalities/{slug}/officials", {"reviewer", "manager", "admin"}),
        row("PUT", f"{E}/municipalities/{slug}/officials/{reviewer.user_id}", MANAGER_ADMIN, {"role": "reviewer"}),
        row("DELETE", f"{E}/municipalities/{slug}/officials/usr_not_an_official", MANAGER_ADMIN),
        row("POST", f"{E}/municipalities/{slug}/invitations", MANAGER_ADMIN,
            {"email": "new.reviewer@example.localhost", "role": "reviewer"}),
        row("POST", f"{E}/municipalities/{slug}/officials", MANAGER_ADMIN,
            {"email": "no.account@example.localhost", "role": "reviewer"}),
        row("POST", f"{E}/municipalities/{slug}/own-projects", {"manager"}, {"campaign_id": "cmp_unknown"}),
        # labels
        row("GET", f"{E}/municipalities/{slug}/review-queue", CITY_SYSTEM_READ),
        row("POST", f"{E}/municipalities/{slug}/labels", OFFICIALS, {"campaign_id": "cmp_unknown"}),
        row("GET", f"{E}/labels/{pending}", CITY_SYSTEM_READ, hidden=True),
        row("POST", f"{E}/labels/{flow}/review", OFFICIALS),
        row("POST", f"{E}/labels/{flow}/grant", OFFICIALS, {"support": []}),
        # match funding (on the granted label)
        row("POST", f"{E}/municipalities/{slug}/pools", {"manager"},
            {"name": "Fonds", "year": 2027, "budget": 1_000_000, "currency": "EUR"}, idempotent=True),
        row("GET", f"{E}/municipalities/{slug}/pools", CITY_SYSTEM_READ),
        # residents' gifts: a manager marks the pool (False: nothing changes whoever passes)
        row("PATCH", f"{E}/municipalities/{slug}/pools/{pool['id']}", {"manager"}, {"accepts_gifts": False}),
        row("GET", f"/api/v1/payments/city-pools/gifts?municipality={slug}", {"reviewer", "manager", "admin"}),
        row("POST", f"{E}/labels/{flow}/commitments", {"manager"}, match, idempotent=True),
        row("POST", f"{E}/labels/{flow}/match-preview", {"manager"}, match),
        row("POST", f"{E}/labels/{flow}/decline", OFFICIALS, {"reason": "Not this year, sorry"}),
        row("POST", f"{E}/labels/{flow}/revoke", OFFICIALS, {"reason": "Works never started"}),
        # calls for projects
        row("POST", f"{E}/municipalities/{slug}/calls", {"manager"}, call_body),
        row("POST", f"{E}/calls/{call['id']}/schedule", {"manager"},
            {"vote_closes_at": (now + timedelta(days=6)).isoformat()}),
        row("GET", f"{E}/calls/{call['id']}/results", CITY_SYSTEM_READ),
        row("PUT", f"{E}/calls/{call['id']}/ballot-setup", {"manager"},
            {"rule": {"kind": "approval", "max_lines": 1}, "tie_break": "earliest_submission",
             "headings": [{"key": "city", "name": "City", "budget": 500_000}]}),
        row("POST", f"{E}/calls/{call['id']}/paper-ballots", OFFICIALS,
            {"station": "Mairie", "postcode": "93100", "lines": ["prp_unknown"]}),
        row("GET", f"{E}/calls/{call['id']}/statistics", OFFICIALS),
        # residency: how the city's residents prove it (its managers; a census is sent as
        # text/csv, so the manager's JSON here passes authorisation and is then refused 415)
        row("PUT", f"{E}/municipalities/{slug}/residency", {"manager"}, {"methods": ["census", "letter"]}),
        row("PUT", f"{E}/municipalities/{slug}/residency/census", {"manager"}),
        row("POST", f"{E}/municipalities/{slug}/residency/letters", {"manager"},
            {"call_id": call["id"], "addresses": [{"line1": "1 rue de la Paix", "postcode": "93100"}]}),
        row("POST", f"{E}/calls/{call['id']}/selection", {"manager"}, {}, idempotent=True),
        row("POST", f"{E}/calls/{to_close['id']}/close", {"manager"}),
        # the city systems' feed
        row("GET", f"{E}/municipalities/{slug}/events", {"manager", "client"}),
        # notifications: the city's webhooks
        row("GET", f"{W}/endpoints?municipality={slug}", WEBHOOKS),
        row("POST", f"{W}/endpoints", WEBHOOKS,
            {"municipality": slug, "url": "http://127.0.0.1:9/never", "event_types": ["subscription.lapsed"]}),
        row("GET", ep, WEBHOOKS),
        row("PATCH", ep, WEBHOOKS, {"description": "City IT"}),
        row("POST", f"{ep}/rotate-secret", WEBHOOKS, {"grace_seconds": 0}),
        row("GET", f"{ep}/deliveries", WEBHOOKS),
        row("POST", f"{ep}/replay", WEBHOOKS, {"since": (now - timedelta(hours=1)).isoformat()}),
        row("POST", f"{ep}/deliveries/whd_unknown/replay", WEBHOOKS),
        row("DELETE", ep, WEBHOOKS),
        # gateway: the city's API clients
        row("POST", "/api/v1/auth/clients", MANAGER_ADMIN, {"municipality": slug, "name": "Another system"}),
        row("GET", f"/api/v1/auth/clients?municipality={slug}", MANAGER_ADMIN),
        row("POST", f"/api/v1/auth/clients/{spare_client}/rotate-secret", MANAGER_ADMIN),
        row("DELETE", f"/api/v1/auth/clients/{spare_client}", MANAGER_ADMIN),
        # payments: the city's subscription
        row("GET", f"/api/v1/payments/subscriptions?municipality={slug}", {"reviewer", "manager", "admin"}),
        row("POST", "/api/v1/payments/subscriptions/card-setups", {"manager"}, {"municipality": slug},
            idempotent=True),
        row("POST", f"/api/v1/payments/subscriptions/sub_unknown/refresh?municipality={slug}",
            {"reviewer", "manager", "admin"}),
        row("GET", f"/api/v1/payments/subscriptions/sub_unknown/invoices?municipality={slug}",
            {"reviewer", "manager", "admin"}),
        row("POST", f"/api/v1/payments/subscriptions/sub_unknown/plan?municipality={slug}", {"manager"},
            {"plan": "yearly"}, idempotent=True),
        row("POST", f"/api/v1/payments/subscriptions/sub_unknown/cancellation?municipality={slug}",
            {"manager"}, {"cancel_at_period_end": True}),
        # payments: the match the city owes, paid by transfer (its manager declares it sent, an
        # admin confirms it received; the confirmation comes after the declaration)
        row("POST", f"/api/v1/payments/city-dues/{due}/transfer-declaration", {"manager"},
            {"reference": "VIR-MATRIX-0001"}, idempotent=True),
        row("POST", f"/api/v1/payments/city-dues/{due}/transfer-confirmation", {"admin"}, idempotent=True),
        # payments: a holder's tax status (whether its campaigns' backers get tax receipts)
        row("PUT", f"/api/v1/payments/holders/{owner.user_id}/tax-status", {"admin"},
            {"eligible": True, "legal_name": "Association du Square", "registration": "W931234567",
             "address": "3 rue des Lilas, 93100 Montreuil", "object": "Animer le square"}),
        # payments: the admins' payouts queue
        row("GET", "/api/v1/payments/payouts?status=failed", {"admin"}),
        row("POST", "/api/v1/payments/payouts/po_unknown_1/approve", {"admin"}, idempotent=True),
        row("POST", "/api/v1/payments/payouts/po_unknown_1/retry", {"admin"}, idempotent=True),
        # payments: milestones the backers objected to, decided by an admin
        row("GET", "/api/v1/payments/milestones?status=objected", {"admin"}),
        row("POST", "/api/v1/payments/payouts/po_unknown_1/milestone-decision", {"admin"}, {"decision": "hold"},
            idempotent=True),
        # payments: the admins' refunds after success and the disputes list
        row("POST", "/api/v1/payments/pledges/plg_unknown/refund", {"admin"}, {"reason": "matrix"}, idempotent=True),
        row("POST", "/api/v1/payments/campaigns/cmp_unknown/refund-all", {"admin"}, {"reason": "matrix"},
            idempotent=True),
        row("GET", "/api/v1/payments/disputes", {"admin"}),
        # campaigns: the admins' moderation
        row("GET", "/api/v1/campaigns/reports", {"admin"}),
        row("GET", "/api/v1/campaigns/owner-decisions", {"admin"}),
        row("POST", "/api/v1/campaigns/campaigns/cmp_unknown/moderation", {"admin"}, {"decision": "approve"}),
        row("GET", "/api/v1/campaigns/reports/rpt_unknown", {"admin"}),
        row("POST", "/api/v1/campaigns/reports/rpt_unknown/decision", {"admin"}, {"decision": "dismiss"}),
        row("POST", "/api/v1/campaigns/campaigns/cmp_unknown/owner-decision", {"admin"},
            {"decision": "keep", "reason": "The project goes on"}),
        # ops: what each service's consumers parked, and its replay
        *(row("GET", f"/api/v1/{service}/ops/parked", {"admin"})
          for service in ("campaigns", "payments", "endorsements", "notifications")),
        row("POST", "/api/v1/campaigns/ops/parked/no-such-queue/replay", {"admin"}),
    ]  # fmt: skip

    wrong: list[str] = []
    async with platform.client() as client:
        for r in rows:
            # The refused first: a refusal changes nothing, and the allowed may (a delete).
            for caller in sorted(CALLERS, key=lambda c: c in r.allowed):
                extra = {"Idempotency-Key": f"matrix-{uuid.uuid4().hex}"} if r.idempotent else {}
                answer = await client.request(
                    r.method, r.path, json=r.body, headers={**headers[caller], **extra}
                )
                refused = answer.status_code in ({401, 403, 404} if r.hidden else {401, 403})
                if answer.status_code >= 500:
                    wrong.append(f"{r.method} {r.path} as {caller}: {answer.status_code} {answer.text[:200]}")
                elif refused == (caller in r.allowed):
                    verdict = "refused" if refused else "passed"
                    wrong.append(
                        f"{r.method} {r.path} as {caller}: {verdict} ({answer.status_code} {answer.text[:160]})"
                    )
                elif refused and caller == "anonymous" and answer.status_code == 401:
                    assert answer.json()["error"]["code"] == "unauthenticated"
                elif refused and answer.status_code == 403:
                    assert "code" in answer.json()["error"], answer.text  # the platform's error body
    assert wrong == [], "\n".join(wrong)
