"""Every link notifications puts in an email or an inbox item, in one table.

Links point at pages of the web site (services/web) under `PUBLIC_BASE_URL`. The handlers take
an item's link from `action_path` and the templates get it, with the footer links, from
`message_context`, so the table below is the whole list: `all_link_patterns()` lists it and
`sample_links()` renders every template and inbox kind with sample data and collects the links
actually produced (the web site's tests follow them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from string import Formatter
from typing import Any

from .domain import CATEGORIES, CATEGORY_LABELS, KINDS, LOCALES, category_for
from .rendering import render
from .tokens import sign_unsubscribe

CAMPAIGN = "/campaigns/{campaign_id}"
PROJECT = "/projects/{campaign_id}"  # the owner's dashboard

# The page an item is about, by kind: the first pattern whose fields the event data has wins.
ACTION_PATHS: dict[str, tuple[str, ...]] = {
    "payment.succeeded": (CAMPAIGN,),
    "payment.refunded": (CAMPAIGN,),
    "payment.failed": ("/pledges/{pledge_id}/retry",),
    "pledge.authorized": (CAMPAIGN,),
    "pledge.released": (CAMPAIGN,),
    "campaign.published": (CAMPAIGN,),
    "campaign.goal_reached": (CAMPAIGN,),
    "campaign.succeeded": (CAMPAIGN,),
    "campaign.failed": (CAMPAIGN,),
    "campaign.canceled": (CAMPAIGN,),
    "campaign.update_posted": ("/campaigns/{campaign_id}/updates/{update_id}", CAMPAIGN),
    "campaign.meetup_scheduled": ("/campaigns/{campaign_id}/updates/{update_id}", CAMPAIGN),
    "campaign.offer_received": ("/campaigns/{campaign_id}/offers/{offer_id}",),
    "campaign.offer_decided": (CAMPAIGN,),
    # The owner's dashboard shows the moderator's reason (a returned or rejected campaign is not public).
    "campaign.returned": (PROJECT,),
    "campaign.rejected": (PROJECT,),
    # A hidden offer's author is a helper: the campaign's page; anything else is the owner's own.
    "campaign.content_hidden": (CAMPAIGN + "/offers/{offer_id}", PROJECT),
    "label.requested": ("/cities/{municipality}/labels/{label_id}",),
    "label.granted": (CAMPAIGN,),
    "label.declined": (CAMPAIGN,),
    "label.revoked": (CAMPAIGN,),
    "match.committed": (CAMPAIGN,),
    "call.opened": ("/cities/{municipality}/calls/{call_id}",),
    "call.proposal_selected": (CAMPAIGN, "/cities/{municipality}/calls/{call_id}"),
    "subscription.lapsed": ("/cities/{municipality}/subscription",),
    "webhook.disabled": ("/cities/{municipality}/webhooks",),
    "official.invited": ("/invitations/accept?token={token}",),
}
# Account emails link to a URL the gateway minted and put in the event (its own signed token).
EVENT_URLS: dict[str, str] = {
    "user.verification_requested": "verify_url",
    "user.password_reset_requested": "reset_url",
}
# The footer of every email: preferences always, unsubscribe when the category can be refused.
# The unsubscribe link (and the List-Unsubscribe header) opens the site's page, which calls this
# service; the API's own page (`/api/v1/notifications/unsubscribe`) keeps working for emails
# already sent with the old link.
PREFERENCES_PATH = "/me/notifications"
UNSUBSCRIBE_PATH = "/unsubscribe?token={token}"


def _fields(pattern: str) -> list[str]:
    return [name for _, name, _, _ in Formatter().parse(pattern) if name]


def action_path(kind: str, data: Mapping[str, Any]) -> str:
    """The site path an item of `kind` about `data` links to ("" for account emails, whose
    link is in the event)."""
    for pattern in ACTION_PATHS.get(kind, ()):
        if all(data.get(name) not in (None, "") for name in _fields(pattern)):
            return pattern.format_map(data)
    if kind in EVENT_URLS:
        return ""
    raise KeyError(f"no link for {kind!r} with fields {sorted(data)}")


def event_url(kind: str, data: Mapping[str, Any]) -> str | None:
    """The link an account event carries (None for every other kind)."""
    field = EVENT_URLS.get(kind)
    return data.get(field) if field else None


def preferences_url(base_url: str) -> str:
    return base_url.rstrip("/") + PREFERENCES_PATH


def unsubscribe_url(base_url: str, secret: str, user_id: str, category: str) -> str:
    return base_url.rstrip("/") + UNSUBSCRIBE_PATH.format(token=sign_unsubscribe(secret, user_id, category))


def message_context(base_url: str, item: Mapping[str, Any], user: Mapping[str, Any] | None) -> dict[str, Any]:
    """What every template gets: the event data as `d`, names, links. `item` is an inbox item
    or an email delivery; the unsubscribe link and category label are the mailer's to add."""
    context = dict(item["context"])
    base = base_url.rstrip("/")
    contact = item.get("contact") or {}
    action_url = context.pop("action_url", None) or (
        base + context["action_path"] if context.get("action_path") else None
    )
    return {
        "d": context.get("d", {}),
        "campaign_title": context.get("campaign_title", ""),
        "municipality_name": context.get("municipality_name", ""),
        "role": item.get("role", "user"),
        "name": contact.get("display_name") or (user or {}).get("display_name"),
        "action_url": action_url,
        "unsubscribe_url": None,
        "preferences_url": preferences_url(base),
        "category_label": "",
    }


def all_link_patterns() -> dict[str, list[str]]:
    """Kind -> the path patterns its items link to (relative to PUBLIC_BASE_URL); account kinds
    name the event field holding the gateway's URL; `email footer` is on every email."""
    patterns: dict[str, list[str]] = {kind: list(paths) for kind, paths in ACTION_PATHS.items()}
    for kind, field in EVENT_URLS.items():
        patterns[kind] = [
            f"{{{field}}} (from the event: /verify-email?token=... or /reset-password?token=...)"
        ]
    patterns["email footer"] = [PREFERENCES_PATH, UNSUBSCRIBE_PATH]
    return patterns


# -- sample data: one event per kind and link variant, shaped by contracts/events/*.json ------

SAMPLE_BASE_URL = "http://civicfund.test"
_MONEY = {"amount": 2500, "currency": "EUR"}
_PAYMENT = {
    "payment_id": "pay_1",
    "pledge_id": "plg_1",
    "campaign_id": "cmp_1",
    "backer_id": "usr_b",
    **_MONEY,
}
_PLEDGE = {"pledge_id": "plg_1", "campaign_id": "cmp_1", "backer_id": "usr_b", **_MONEY}
_CAMPAIGN = {
    "campaign_id": "cmp_1",
    "owner_id": "usr_o",
    "title": "Street workout park",
    "status": "live",
    "municipality": "montreuil",
    "goal": 100000,
    "currency": "EUR",
    "funding_model": "all_or_nothing",
    "version": 1,
}
_LABEL = {"label_id": "lbl_1", "campaign_id": "cmp_1", "municipality": "montreuil"}
_CALL = {"call_id": "call_1", "proposal_id": "prp_1", "municipality": "montreuil", "proposer_id": "usr_p"}
SAMPLE_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("payment.succeeded", _PAYMENT),
    ("payment.refunded", _PAYMENT),
    ("payment.failed", _PAYMENT),
    ("pledge.authorized", _PLEDGE),
    ("pledge.released", _PLEDGE),
    *[
        (kind, _CAMPAIGN)
        for kind in (
            "campaign.published",
            "campaign.goal_reached",
            "campaign.succeeded",
            "campaign.failed",
            "campaign.canceled",
        )
    ],
    (
        "campaign.update_posted",
        {"campaign_id": "cmp_1", "update_id": "upd_1", "owner_id": "usr_o", "title": "Permit granted"},
    ),
    (
        "campaign.meetup_scheduled",
        {
            "campaign_id": "cmp_1",
            "meetup_id": "mtp_1",
            "owner_id": "usr_o",
            "title": "Planting day",
            "starts_at": "2026-12-05T14:00:00Z",
        },
    ),
    (
        "campaign.offer_received",
        {
            "campaign_id": "cmp_1",
            "need_id": "ned_1",
            "offer_id": "off_1",
            "owner_id": "usr_o",
            "from_user_id": "usr_h",
            "quantity": 2,
        },
    ),
    *[
        (
            "campaign.offer_decided",
            {
                "campaign_id": "cmp_1",
                "need_id": "ned_1",
                "offer_id": "off_1",
                "owner_id": "usr_o",
                "from_user_id": "usr_h",
                "quantity": 2,
                "decision": decision,
            },
        )
        for decision in ("accepted", "declined")
    ],
    ("campaign.returned", {**_CAMPAIGN, "status": "draft", "reason": "Please add a photo of the site"}),
    ("campaign.rejected", {**_CAMPAIGN, "status": "rejected", "reason": "Not a non-profit project"}),
    *[
        (
            "campaign.content_hidden",
            {
                "campaign_id": "cmp_1",
                "owner_id": "usr_o",
                "report_id": "rep_1",
                "target": target,
                "target_id": target_id,
                "author_id": author,
                "report_reason": "spam",
                "reason": "Advertising is not allowed",
                **extra,
            },
        )
        for target, target_id, author, extra in (
            ("update", "upd_1", "usr_o", {"update_id": "upd_1"}),
            ("offer", "off_1", "usr_h", {"offer_id": "off_1"}),
        )
    ],
    ("label.requested", {**_LABEL, "status": "requested"}),
    ("label.granted", {**_LABEL, "status": "granted"}),
    ("label.declined", {**_LABEL, "status": "declined"}),
    ("label.revoked", {**_LABEL, "status": "revoked"}),
    (
        "match.committed",
        {
            "commitment_id": "mtc_1",
            "campaign_id": "cmp_1",
            "municipality": "montreuil",
            "currency": "EUR",
            "rule": {},
            "max_amount": 1_000_000,
        },
    ),
    ("call.opened", {"call_id": "call_1", "municipality": "montreuil", "title": "Oasis schoolyards"}),
    ("call.proposal_selected", {**_CALL, "title": "Green yard", "award": 500_000, "currency": "EUR"}),
    (
        "call.proposal_selected",
        {**_CALL, "title": "Green yard", "award": 500_000, "currency": "EUR", "campaign_id": "cmp_1"},
    ),
    ("subscription.lapsed", {"subscription_id": "sub_1", "municipality": "montreuil", "status": "past_due"}),
    (
        "webhook.disabled",
        {
            "endpoint_id": "whe_1",
            "url": "https://it.montreuil.example/civicfund",
            "failing_since": "2026-11-20T10:00:00+00:00",
            "last_error": "HTTP 500",
            "municipality": "montreuil",
        },
    ),
    (
        "user.verification_requested",
        {
            "user_id": "usr_u",
            "email": "a@example.localhost",
            "locale": "fr",
            "verify_url": f"{SAMPLE_BASE_URL}/verify-email?token=tok",
        },
    ),
    (
        "user.password_reset_requested",
        {
            "user_id": "usr_u",
            "email": "a@example.localhost",
            "locale": "fr",
            "reset_url": f"{SAMPLE_BASE_URL}/reset-password?token=tok",
        },
    ),
    (
        "official.invited",
        {
            "invitation_id": "inv_1",
            "municipality": "montreuil",
            "email": "a@example.localhost",
            "role": "reviewer",
            "token": "tok",
            "expires_at": "2026-12-01T00:00:00+00:00",
        },
    ),
]

_SAMPLE_KEY = "sample-unsubscribe-key"  # signs the sample unsubscribe links
_URL = re.compile(r"https?://[^\s\"'<>]+")


def sample_item(kind: str, data: Mapping[str, Any], role: str = "user") -> dict[str, Any]:
    """An inbox item / email delivery as the fan-out would write it for this event."""
    context: dict[str, Any] = {
        "event_id": "evt_sample",
        "d": dict(data),
        "action_path": action_path(kind, data),
        "campaign_title": "Street workout park",
        "municipality_name": "Montreuil",
    }
    if url := event_url(kind, data):
        context["action_url"] = url
    return {"_id": f"evt_sample|usr_sample|{kind}", "kind": kind, "role": role, "context": context}


def sample_links(
    base_url: str = SAMPLE_BASE_URL,
    signing_key: str = _SAMPLE_KEY,
    events: Sequence[tuple[str, Mapping[str, Any]]] = SAMPLE_EVENTS,
) -> dict[str, set[str]]:
    """Kind -> every link under `base_url` found in its rendered emails (text and HTML, every
    locale, with the footer the mailer adds) and its inbox item, for each of `events` (kind,
    event data): the samples above, or a test's own with ids that exist on its stack."""
    base = base_url.rstrip("/")
    found: dict[str, set[str]] = {}
    for kind, data in events:
        item = sample_item(kind, data)
        links = found.setdefault(kind, set())
        for locale in LOCALES:
            context = message_context(base, item, None)
            if context["action_url"]:
                links.add(context["action_url"])  # the inbox item's link
            if "email" in KINDS[kind].channels:
                category = category_for(kind, "user")
                if not CATEGORIES[category].locked:
                    context["unsubscribe_url"] = unsubscribe_url(base, signing_key, "usr_sample", category)
                context["category_label"] = CATEGORY_LABELS[category][locale]
                rendered = render(kind, locale, context)
                for text in (rendered.text, rendered.html):
                    links.update(u for u in _URL.findall(text.replace("&amp;", "&")) if u.startswith(base))
    return found
