"""Email channel: claims due deliveries, renders them in the recipient's locale, sends over SMTP.

A delivery is claimed (pending -> sending, with a lease) before it is sent, so two replicas
never send the same one; a replica that dies mid-send leaves a lease that expires, and the
retry carries the same Message-ID, so a receiving system can recognise the duplicate.
Preferences are checked again at send time: an opt-out wins over a queued message.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from typing import Any

import aiosmtplib
from pymongo.errors import PyMongoError

from servicekit.app import ServiceContext
from servicekit.logging import get_logger
from servicekit.mongo import Mongo, Tx, utcnow
from servicekit.mongo import epoch_ms as ms

from . import links
from .domain import CATEGORIES, CATEGORY_LABELS, locale_of, retry_delay, wants
from .rendering import Rendered, render
from .settings import Settings
from .store import get_preferences

log = get_logger(__name__)


class NoContact(Exception):
    """We do not know this recipient's address yet (their user.* event may still be on its way)."""


def build_message(
    settings: Settings, item: dict[str, Any], to: str, rendered: Rendered, unsubscribe_url: str | None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = rendered.subject
    domain = parseaddr(settings.mail_from)[1].partition("@")[2] or "civicfund.localhost"
    # Same delivery, same Message-ID: a resend after a crash is recognisable as a duplicate.
    message["Message-ID"] = f"<{hashlib.sha256(item['_id'].encode()).hexdigest()[:32]}@{domain}>"
    message["X-Civicfund-Kind"] = item["kind"]
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


async def _claim(mongo: Mongo, delivery_id: str, lease_s: float) -> dict[str, Any] | None:
    now = ms(utcnow())

    async def claim(tx: Tx) -> dict[str, Any] | None:
        return await tx.db.email_deliveries.find_one_and_update(
            {
                "_id": delivery_id,
                "$or": [
                    {"status": "pending", "due_ms": {"$lte": now}},
                    {"status": "sending", "lease_ms": {"$lt": now}},
                ],
            },
            {"$set": {"status": "sending", "lease_ms": now + int(lease_s * 1000)}},
            session=tx.session,
        )

    return await mongo.transact(claim)


async def _finish(mongo: Mongo, delivery_id: str, update: dict[str, Any]) -> None:
    async def finish(tx: Tx) -> None:
        await tx.db.email_deliveries.update_one(
            {"_id": delivery_id, "status": "sending"}, {"$set": update}, session=tx.session
        )

    await mongo.transact(finish)


async def send_one(ctx: ServiceContext, delivery_id: str) -> str:
    """Claim, render, send and record one delivery; returns its new status (or "" if not ours)."""
    assert ctx.mongo is not None
    settings: Settings = ctx.settings
    item = await _claim(ctx.mongo, delivery_id, settings.claim_lease_s)
    if item is None:
        return ""
    attempts = int(item.get("attempts", 0)) + 1
    try:
        user = await ctx.mongo.db.users.find_one({"_id": item["user_id"]})
        if user is not None and user.get("deleted"):
            await _finish(ctx.mongo, delivery_id, {"status": "skipped", "reason": "user_deleted"})
            return "skipped"
        category = item["category"]
        if not CATEGORIES[category].locked:
            prefs = await get_preferences(ctx.mongo, item["user_id"])
            if not wants(prefs, category, "email"):
                await _finish(ctx.mongo, delivery_id, {"status": "skipped", "reason": "opted_out"})
                return "skipped"
        contact = item.get("contact") or {}
        address = contact.get("email") or (user or {}).get("email")
        if not address:
            raise NoContact(f"no email address for {item['user_id']} yet")
        locale = locale_of(contact.get("locale") or (user or {}).get("locale"))
        context = links.message_context(settings.public_base_url, item, user)
        unsubscribe_url = None
        if not CATEGORIES[category].locked:
            unsubscribe_url = links.unsubscribe_url(
                settings.public_base_url, settings.unsubscribe_secret, item["user_id"], category
            )
        context["unsubscribe_url"] = unsubscribe_url
        context["category_label"] = CATEGORY_LABELS[category][locale]
        rendered = render(item["kind"], locale, context)
        name = context["name"]
        to = formataddr((name, address)) if name else address
        message = build_message(settings, item, to, rendered, unsubscribe_url)
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_s,
        )
    except (NoContact, aiosmtplib.SMTPException, OSError) as exc:
        delay = retry_delay(settings.email_retry_delays_s, attempts)
        error = f"{type(exc).__name__}: {exc}"[:500]
        if delay is None:
            log.error("email_failed", delivery_id=delivery_id, attempts=attempts, error=error)
            await _finish(
                ctx.mongo, delivery_id, {"status": "failed", "attempts": attempts, "last_error": error}
            )
            return "failed"
        log.warning("email_retry", delivery_id=delivery_id, attempts=attempts, error=error)
        await _finish(
            ctx.mongo,
            delivery_id,
            {
                "status": "pending",
                "attempts": attempts,
                "last_error": error,
                "due_ms": ms(utcnow()) + int(delay * 1000),
            },
        )
        return "pending"
    await _finish(
        ctx.mongo,
        delivery_id,
        {"status": "sent", "attempts": attempts, "sent_at": utcnow(), "to": address, "locale": locale},
    )
    log.info("email_sent", delivery_id=delivery_id, kind=item["kind"])
    return "sent"


async def _due(mongo: Mongo, limit: int) -> list[str]:
    now = ms(utcnow())
    docs = (
        await mongo.db.email_deliveries.find(
            {
                "$or": [
                    {"status": "pending", "due_ms": {"$lte": now}},
                    {"status": "sending", "lease_ms": {"$lt": now}},
                ]
            },
            {"_id": 1},
        )
        .sort([("due_ms", 1)])
        .limit(limit)
        .to_list()
    )
    return [d["_id"] for d in docs]


async def run(ctx: ServiceContext, stop: asyncio.Event) -> None:
    """Background task: send due emails, `email_concurrency` at a time, until `stop`."""
    assert ctx.mongo is not None
    settings: Settings = ctx.settings
    wake: asyncio.Event = ctx.extras["wake_mailer"]
    semaphore = asyncio.Semaphore(settings.email_concurrency)

    async def guarded(delivery_id: str) -> None:
        async with semaphore:
            try:
                await send_one(ctx, delivery_id)
            except Exception:
                # Left in "sending": its lease expires and it is retried.
                log.exception("email_send_error", delivery_id=delivery_id)

    while not stop.is_set():
        ids: list[str] = []
        try:
            ids = await _due(ctx.mongo, settings.email_concurrency * 4)
        except PyMongoError as exc:
            log.warning("mailer_db_error", error=str(exc))
        if ids:
            await asyncio.gather(*(guarded(i) for i in ids))
            continue
        wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=settings.worker_poll_s)
