"""Every link notifications puts in an email or an inbox item opens a real page of the site
(issue 10). A real scenario is built through public doors (accounts, a campaign with an update,
a need, an offer and a meetup, a pledge, a city with a manager, a label request, a call with a
proposal, a webhook, an invitation); `notifications.links.sample_links` then renders every email
template and inbox kind with event data carrying those real ids, and each link is opened in the
browser as the person it is meant for. The account links (verify, reset) and the unsubscribe
link come from real emails in the mail sink (they carry tokens only the platform signs)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.async_api import Page

from notifications.links import SAMPLE_EVENTS, all_link_patterns, sample_links

from .conftest import MailBox, Person, api_login
from .test_cities import (
    E,
    appoint,
    call_api,
    make_city,
    new_person,
    open_call,
    path_of,
    register,
    request_label,
)

C = "/api/v1/campaigns/campaigns"

# Who each kind's items are for (the link is opened signed in as them); `anyone` = signed out.
AUDIENCE = {
    "payment.succeeded": "backer", "payment.refunded": "backer", "payment.failed": "backer",
    "pledge.authorized": "backer", "pledge.released": "backer",
    "campaign.update_posted": "backer", "campaign.meetup_scheduled": "backer",
    "label.requested": "manager", "call.opened": "backer", "call.proposal_selected": "backer",
    "subscription.lapsed": "manager", "webhook.disabled": "manager", "official.invited": "invitee",
    "user.verification_requested": "anyone", "user.password_reset_requested": "anyone",
}  # fmt: skip
NOT_FOUND_TITLE = "This page does not exist"


def replaced(value: Any, real: dict[str, str]) -> Any:
    """The sample event data with each sample id swapped for the real one."""
    if isinstance(value, dict):
        return {k: replaced(v, real) for k, v in value.items()}
    if isinstance(value, list):
        return [replaced(v, real) for v in value]
    if isinstance(value, str) and value in real:
        return real[value]
    return value


async def scenario(site_url: str, admin: Person, make_campaign: Any, mailbox: MailBox) -> dict[str, Any]:
    """Real ids for every sample id of notifications' sample events, and the people."""
    people = {name: new_person(name) for name in ("owner", "backer", "manager", "invitee")}
    city = await make_city(site_url, admin)
    slug = city["slug"]
    manager_id = await appoint(site_url, admin, slug, people["manager"], "manager")
    backer_id = await register(site_url, people["backer"], postcode=city["postcode"], mailbox=mailbox)
    invitee_id = await register(site_url, people["invitee"])
    campaign = await make_campaign(people["owner"], municipality=slug, title="Links garden")
    cid = campaign["id"]
    owner = await api_login(site_url, people["owner"])
    backer = await api_login(site_url, people["backer"])
    manager = await api_login(site_url, people["manager"])
    admin_token = await api_login(site_url, admin)

    update = await call_api(site_url, "POST", f"{C}/{cid}/updates", owner,
                            json={"title": "Permit granted", "body": "We start **next week**."})  # fmt: skip
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
    meetup = await call_api(site_url, "POST", f"{C}/{cid}/meetups", owner, json={
        "title": "Planting day", "place": "The square", "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=3)).isoformat(), "capacity": 20})  # fmt: skip
    need = await call_api(site_url, "POST", f"{C}/{cid}/needs", owner,
                          json={"title": "Volunteers", "kind": "volunteers", "quantity": 5, "unit": "people"})  # fmt: skip
    offer = await call_api(site_url, "POST", f"{C}/{cid}/needs/{need['id']}/offers", backer, json={
        "quantity": 2, "message": "My brother and I", "contact": {"channel": "in_app", "value": "me"}})  # fmt: skip
    pledge = await call_api(site_url, "POST", "/api/v1/payments/pledges", backer,
                            headers={"Idempotency-Key": uuid.uuid4().hex},
                            json={"campaign_id": cid, "amount": 2500, "currency": "EUR"})  # fmt: skip
    label = await request_label(site_url, people["owner"], cid, "Could the city lend us the square?")
    call = await open_call(site_url, people["manager"], slug)
    proposal = await call_api(site_url, "POST", f"{E}/calls/{call['id']}/proposals", backer, json={
        "title": "Green yard", "summary": "Trees and benches for the schoolyard.",
        "requested_amount": 250_000, "postcode": city["postcode"]})  # fmt: skip
    endpoint = await call_api(site_url, "POST", "/api/v1/notifications/webhooks/endpoints", manager, json={
        "municipality": slug, "url": "http://127.0.0.1:9/civicfund", "event_types": ["label.*"]})  # fmt: skip
    await call_api(site_url, "POST", f"{E}/municipalities/{slug}/invitations", admin_token,
                   json={"email": people["invitee"].email, "role": "reviewer"})  # fmt: skip
    async with httpx.AsyncClient(base_url=site_url, timeout=30) as client:
        await client.post("/api/v1/auth/password-reset", json={"email": people["backer"].email})

    invitation = mailbox.wait_link(
        people["invitee"].email, r"^https?://[^/]+/invitations/accept\?token=", timeout=30
    )
    verify = mailbox.wait_link(people["backer"].email, r"^https?://[^/]+/verify-email\?token=", timeout=30)
    reset = mailbox.wait_link(people["backer"].email, r"^https?://[^/]+/reset-password\?token=", timeout=30)
    unsubscribe = mailbox.wait_link(
        people["manager"].email, r"^https?://[^/]+/unsubscribe\?token=", timeout=30
    )
    real = {
        "cmp_1": cid, "plg_1": pledge["id"], "pay_1": f"pay_{pledge['id'].removeprefix('plg_')}",
        "upd_1": update["id"], "mtp_1": meetup["id"], "ned_1": need["id"], "off_1": offer["id"],
        "lbl_1": label["id"], "call_1": call["id"], "prp_1": proposal["id"], "whe_1": endpoint["id"],
        "montreuil": slug, "usr_o": campaign["owner_id"], "usr_b": backer_id, "usr_h": backer_id,
        "usr_p": backer_id, "usr_u": backer_id, "a@example.localhost": people["backer"].email,
        "tok": parse_qs(urlsplit(invitation).query)["token"][0],
        "https://it.montreuil.example/civicfund": endpoint["url"],
    }  # fmt: skip
    del manager_id, invitee_id
    return {"people": people, "real": real, "verify": verify, "reset": reset, "unsubscribe": unsubscribe}


def real_events(built: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for kind, data in SAMPLE_EVENTS:
        event = replaced(dict(data), built["real"])
        if "verify_url" in event:
            event["verify_url"] = built["verify"]
        if "reset_url" in event:
            event["reset_url"] = built["reset"]
        events.append((kind, event))
    return events


def links_to_open(
    site_url: str, found: dict[str, set[str]], built: dict[str, Any]
) -> dict[str, tuple[str, str]]:
    """path -> (who opens it, the kind it came from). Sample unsubscribe links are signed with
    the sample key: the real one from the mail sink stands for them."""
    base = site_url.rstrip("/")
    opened: dict[str, tuple[str, str]] = {}
    for kind, links in sorted(found.items()):
        who = AUDIENCE.get(kind, "owner")
        for link in sorted(links):
            assert link.startswith(base), f"{kind}: {link} is not on the site"
            path = path_of(link)
            if path.startswith("/unsubscribe?"):
                path, who = path_of(built["unsubscribe"]), "anyone"
            if path.startswith("/me/") and who == "anyone":
                who = "owner"
            opened.setdefault(path, (who, kind))
    for key in ("verify", "reset"):
        opened.setdefault(path_of(built[key]), ("anyone", f"{key} (from the mail sink)"))
    return opened


async def test_every_link_of_every_email_and_inbox_item_opens_a_page(
    new_page: Callable[..., Awaitable[Page]], admin: Person, make_campaign: Any, log_in: Any,
    mailbox: MailBox, site_url: str,
) -> None:  # fmt: skip
    built = await scenario(site_url, admin, make_campaign, mailbox)
    found = sample_links(site_url, events=real_events(built))
    assert set(found) >= {kind for kind, _ in SAMPLE_EVENTS}
    to_open = links_to_open(site_url, found, built)
    # Every pattern of the table (and the email footer) is among the links followed.
    for kind, patterns in all_link_patterns().items():
        for pattern in patterns:
            if pattern.startswith("{"):
                continue  # the account links: the gateway's URLs from real mails, added above
            regex = re.escape(pattern.split("?")[0])
            regex = re.sub(r"\\\{\w+\\\}", "[^/?]+", regex)
            assert any(re.match(regex + r"($|\?)", path) for path in to_open), (kind, pattern)

    pages: dict[str, Page] = {"anyone": await new_page()}
    for name in {who for who, _ in to_open.values()} - {"anyone"}:
        pages[name] = await new_page()
        await log_in(pages[name], built["people"][name])
        await pages[name].get_by_role("button", name="Log out").wait_for()

    failures: list[str] = []
    # Verification and reset tokens are single-use or change state: open them last.
    order = sorted(to_open, key=lambda p: (p.startswith(("/verify-email", "/reset-password")), p))
    for path in order:
        who, kind = to_open[path]
        page = pages[who]
        answer = await page.goto(path)
        status = answer.status if answer is not None else 0
        heading = (await page.locator("h1").first.text_content(timeout=5000) or "").strip() if status else ""
        final = urlsplit(page.url).path
        problem = None
        if status != 200:
            problem = f"HTTP {status}"
        elif heading == NOT_FOUND_TITLE:
            problem = "the 404 page"
        elif not await page.locator("main#main").count():
            problem = "not a page of the site"
        elif final == "/login" and who != "anyone":
            problem = "sent to the login page although signed in"
        if problem:
            failures.append(f"{path} ({kind}, as {who}): {problem} [h1: {heading!r}]")
    report = "\n".join(failures)
    assert not failures, f"{len(failures)} of {len(to_open)} links do not open a page:\n{report}"


def test_the_table_of_links_names_only_site_pages() -> None:
    """Every pattern is a path of the site (no API path, no other host)."""
    for kind, patterns in all_link_patterns().items():
        for pattern in patterns:
            if pattern.startswith("{"):
                continue  # account links: the gateway's URL, followed above from real emails
            assert pattern.startswith("/") and not pattern.startswith("/api/"), (kind, pattern)
            assert re.fullmatch(r"[\w/{}?=\-.]+", pattern), (kind, pattern)
