"""Demo people, through the public API: register (or find the account already there) and log
in. The admin is an admin because the local stack lists admin@civicfund.localhost in the
gateway's ADMIN_EMAILS; the Montreuil officials get their roles when the cities step appoints
them (it then calls `demo.relogin(person)`)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time
from email.message import EmailMessage
from pathlib import Path

from civicfund_client import ApiError

from .context import Demo, Person, refusal_ok, token_claims

MAIL_WAIT_S = 30.0

PEOPLE = [
    Person("admin", "admin@civicfund.localhost", "Platform admin", "admin-demo-password", "en"),
    Person(
        "montreuil_manager",
        "claire.martin@montreuil.localhost",
        "Claire Martin (Montreuil)",
        "demo-password-1",
        municipalities={"montreuil": "manager"},
    ),
    Person(
        "montreuil_reviewer",
        "yusuf.kaya@montreuil.localhost",
        "Yusuf Kaya (Montreuil)",
        "demo-password-2",
        municipalities={"montreuil": "reviewer"},
    ),
    Person(
        "bagnolet_manager",
        "nadia.haddad@bagnolet.localhost",
        "Nadia Haddad (Bagnolet)",
        "demo-password-6",
        municipalities={"bagnolet": "manager"},
    ),
    Person("amina", "amina@example.localhost", "Amina Diallo", "demo-password-3"),
    Person("lucas", "lucas@example.localhost", "Lucas Bernard", "demo-password-4", "en"),
    Person("sofia", "sofia@example.localhost", "Sofia Rossi", "demo-password-5"),
]


async def run(demo: Demo) -> None:
    for person in PEOPLE:
        # 409: the account exists from an earlier seed run; logging in below is enough.
        await refusal_ok(
            demo.api().gateway_register(
                body={
                    "email": person.email,
                    "password": person.password,
                    "display_name": person.display_name,
                    "locale": person.locale,
                    "postcode": person.postcode,
                }
            ),
            409,
        )
        await demo.login(person)
        await _verify_email(demo, person)
        demo.people[person.key] = person


def _newest_link(mail_dir: Path, address: str, since: float) -> str | None:
    """The newest verification link emailed to `address` at or after `since` (epoch seconds)."""
    for path in sorted(mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
        if path.stat().st_mtime < since:
            break
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if address.lower() not in str(message.get("To", "")).lower():
            continue
        part = message.get_body(preferencelist=("plain", "html"))
        text = part.get_content() if isinstance(part, EmailMessage) else ""
        for url in re.findall(r"https?://[^\s\"'<>]+", text):
            if "verify-email" in url and "token=" in url:
                return str(url)
    return None


async def _link(mail_dir: Path, address: str, since: float) -> str | None:
    deadline = time.monotonic() + MAIL_WAIT_S
    while time.monotonic() < deadline:
        link = await asyncio.to_thread(_newest_link, mail_dir, address, since)
        if link:
            return link
        await asyncio.sleep(0.3)
    return None


async def _verify_email(demo: Demo, person: Person) -> None:
    """Proposing, voting and larger pledges need a verified address: open the link the platform
    emailed, as the person would, from the local stack's SMTP sink (var/mail). Without a sink
    (another gateway's seed) the accounts stay unverified and the notes say so."""
    if token_claims(person.token).get("email_verified") is True:
        return
    mail_dir = demo.var / "mail"
    if not mail_dir.is_dir():
        demo.notes.append(f"{person.email}: not verified (no mail sink at {mail_dir})")
        return
    link = await _link(mail_dir, person.email, since=0)
    if link is None or not await _open(demo, link):
        # The mail never came or its link expired: ask for another, as the site offers.
        asked = time.time() - 1
        await demo.api(person).gateway_resend_verification()
        link = await _link(mail_dir, person.email, since=asked)
        if link is None or not await _open(demo, link):
            raise RuntimeError(f"no working verification mail to {person.email} in {mail_dir}")
    await demo.login(person)  # the new token carries email_verified


async def _open(demo: Demo, link: str) -> bool:
    token = link.split("token=", 1)[1].split("&", 1)[0]
    return not isinstance(
        await refusal_ok(demo.api().gateway_verify_email(body={"token": token}), 400, 410), ApiError
    )
