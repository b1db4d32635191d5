"""Email channel: claims due deliveries, renders them in the recipient's locale, sends over SMTP.

Deliveries are `servicekit.jobs` work items: one is claimed (pending -> sending, with a lease)
before it is sent, so two replicas never send the same one; a replica that dies mid-send leaves
a lease that expires, and the retry carries the same Message-ID, so a receiving system can
recognise the duplicate. Failures are retried on EMAIL_RETRY_DELAYS_S, then marked failed.
Preferences are checked again at send time: an opt-out wins over a queued message.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from typing import Any

import aiosmtplib

from servicekit.app import ServiceContext
from servicekit.jobs import WorkQueue
from servicekit.logging import get_logger
from servicekit.mongo import Mongo, utcnow

from . import links, store
from .domain import CATEGORIES, CATEGORY_LABELS, locale_of, wants
from .rendering import Rendered, render
from .settings import Settings

log = get_logger(__name__)


@dataclass
class Mailer:
    """The email queue, and the bell the fan-out rings when it has queued mail (so the mailer
    does not wait for its next poll)."""

    queue: WorkQueue
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def create(cls, mongo: Mongo, settings: Settings) -> Mailer:
        return cls(store.email_queue(mongo, settings.claim_lease_s, settings.email_retry_delays_s))


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


async def send(mongo: Mongo, settings: Settings, queue: WorkQueue, item: dict[str, Any]) -> str:
    """Render, send and record one claimed delivery; returns its new status."""
    delivery_id = item["_id"]
    try:
        user = await store.find_user(mongo, item["user_id"])
        if user is not None and user.get("deleted"):
            await queue.complete(delivery_id, {"status": "skipped", "reason": "user_deleted"})
            return "skipped"
        category = item["category"]
        if not CATEGORIES[category].locked:
            prefs = await store.get_preferences(mongo, item["user_id"])
            if not wants(prefs, category, "email"):
                await queue.complete(delivery_id, {"status": "skipped", "reason": "opted_out"})
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
        error = f"{type(exc).__name__}: {exc}"[:500]
        attempts = item["attempts"]
        if await queue.retry(delivery_id, error):
            log.warning("email_retry", delivery_id=delivery_id, attempts=attempts, error=error)
            return "pending"
        log.error("email_failed", delivery_id=delivery_id, attempts=attempts, error=error)
        return "failed"
    await queue.complete(
        delivery_id, {"status": "sent", "sent_at": utcnow(), "to": address, "locale": locale}
    )
    log.info("email_sent", delivery_id=delivery_id, kind=item["kind"])
    return "sent"


async def run(ctx: ServiceContext, stop: asyncio.Event) -> None:
    """Background task: send due emails, `email_concurrency` at a time, until `stop`."""
    mongo = ctx.get(Mongo)
    settings = ctx.get(Settings)
    mailer = ctx.get(Mailer)

    async def worker(item: dict[str, Any]) -> None:
        await send(mongo, settings, mailer.queue, item)

    await mailer.queue.run(
        worker, stop, concurrency=settings.email_concurrency, poll_s=settings.worker_poll_s, wake=mailer.wake
    )
