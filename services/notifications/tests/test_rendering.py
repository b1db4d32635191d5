"""Every notification kind renders in French and English, plain text and HTML, from the
required fields of its event contract alone (optional fields may be missing)."""

from __future__ import annotations

import pytest

from notifications.domain import KINDS, LOCALES
from notifications.rendering import render

# Required fields only, shaped by contracts/events/*.json.
MINIMAL = {
    "payment.succeeded": {
        "payment_id": "pay_1",
        "pledge_id": "p",
        "campaign_id": "c",
        "backer_id": "b",
        "amount": 2500,
        "currency": "EUR",
    },
    "payment.refunded": {
        "payment_id": "pay_1",
        "pledge_id": "p",
        "campaign_id": "c",
        "backer_id": "b",
        "amount": 2500,
        "currency": "EUR",
    },
    "payment.failed": {
        "payment_id": "pay_1",
        "pledge_id": "p",
        "campaign_id": "c",
        "backer_id": "b",
        "amount": 2500,
        "currency": "EUR",
    },
    "pledge.authorized": {
        "pledge_id": "p",
        "campaign_id": "c",
        "backer_id": "b",
        "amount": 2500,
        "currency": "EUR",
    },
    "pledge.released": {
        "pledge_id": "p",
        "campaign_id": "c",
        "backer_id": "b",
        "amount": 2500,
        "currency": "EUR",
    },
    "campaign.update_posted": {
        "campaign_id": "c",
        "update_id": "u",
        "owner_id": "o",
        "title": "Permit granted",
    },
    "campaign.meetup_scheduled": {
        "campaign_id": "c",
        "meetup_id": "m",
        "owner_id": "o",
        "title": "Planting day",
        "starts_at": "2026-12-05T14:00:00Z",
    },
    "campaign.offer_received": {
        "campaign_id": "c",
        "need_id": "n",
        "offer_id": "f",
        "owner_id": "o",
        "from_user_id": "u",
        "quantity": 2,
    },
    "campaign.offer_decided": {
        "campaign_id": "c",
        "need_id": "n",
        "offer_id": "f",
        "owner_id": "o",
        "from_user_id": "u",
        "quantity": 2,
        "decision": "declined",
    },
    "campaign.content_hidden": {
        "campaign_id": "c",
        "owner_id": "o",
        "report_id": "r",
        "target": "update",
        "target_id": "u",
        "author_id": "o",
        "report_reason": "spam",
        "reason": "Advertising",
    },
    "label.requested": {
        "label_id": "e",
        "campaign_id": "c",
        "municipality": "montreuil",
        "status": "requested",
    },
    "label.granted": {
        "label_id": "e",
        "campaign_id": "c",
        "municipality": "montreuil",
        "status": "granted",
    },
    "label.declined": {
        "label_id": "e",
        "campaign_id": "c",
        "municipality": "montreuil",
        "status": "declined",
    },
    "label.revoked": {
        "label_id": "e",
        "campaign_id": "c",
        "municipality": "montreuil",
        "status": "revoked",
    },
    "match.committed": {
        "commitment_id": "m",
        "campaign_id": "c",
        "municipality": "montreuil",
        "currency": "EUR",
        "rule": {},
        "max_amount": 1_000_000,
    },
    "call.opened": {"call_id": "k", "municipality": "montreuil", "title": "Oasis schoolyards"},
    "call.proposal_selected": {
        "call_id": "k",
        "proposal_id": "p",
        "municipality": "montreuil",
        "proposer_id": "u",
        "title": "Green yard",
        "award": 500_000,
        "currency": "EUR",
    },
    "subscription.lapsed": {"subscription_id": "s", "municipality": "montreuil", "status": "past_due"},
    "webhook.disabled": {
        "endpoint_id": "w",
        "url": "https://city.example/hooks",
        "failing_since": "2026-11-20T10:00:00+00:00",
        "last_error": "HTTP 500",
    },
    "user.verification_requested": {
        "user_id": "u",
        "email": "a@b.c",
        "locale": "fr",
        "verify_url": "https://x/verify",
    },
    "user.password_reset_requested": {
        "user_id": "u",
        "email": "a@b.c",
        "locale": "fr",
        "reset_url": "https://x/reset",
    },
    "official.invited": {
        "invitation_id": "i",
        "municipality": "montreuil",
        "email": "a@b.c",
        "role": "reviewer",
        "token": "tok",
        "expires_at": "2026-12-01T00:00:00+00:00",
    },
}
CAMPAIGN = {
    "campaign_id": "c",
    "owner_id": "o",
    "title": "Park",
    "status": "live",
    "municipality": "montreuil",
    "goal": 100000,
    "currency": "EUR",
    "funding_model": "all_or_nothing",
    "version": 1,
}
for _kind in (
    "campaign.published",
    "campaign.goal_reached",
    "campaign.succeeded",
    "campaign.failed",
    "campaign.canceled",
):
    MINIMAL[_kind] = CAMPAIGN
# Moderation's answers: the snapshot (its reason is optional in the contract).
MINIMAL["campaign.returned"] = {**CAMPAIGN, "status": "draft"}
MINIMAL["campaign.rejected"] = {**CAMPAIGN, "status": "rejected"}


def test_every_kind_has_minimal_data() -> None:
    assert set(MINIMAL) == set(KINDS)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("role", ["owner", "backer", "follower"])
def test_renders(kind: str, locale: str, role: str) -> None:
    context = {
        "d": MINIMAL[kind],
        "campaign_title": "Jardin <partagé>",
        "municipality_name": "Montreuil",
        "role": role,
        "name": "Amina",
        "action_url": "https://civicfund.example/x",
        "unsubscribe_url": "https://civicfund.example/u?token=t",
        "preferences_url": "https://civicfund.example/p",
        "category_label": "Label",
    }
    out = render(kind, locale, context)
    assert out.subject and out.title and "\n" not in out.subject
    for text in (out.subject, out.text, out.html):
        assert "None" not in text and "{{" not in text
    assert (
        "https://civicfund.example/u?token=t" in out.text
        and "https://civicfund.example/u?token=t" in out.html
    )
    assert "<partagé>" not in out.html  # HTML escapes what it is given
    assert f'<html lang="{locale}">' in out.html
    greeting = {"fr": "Bonjour Amina,", "en": "Hello Amina,"}[locale]
    assert out.text.startswith(greeting)


def test_items_stored_under_the_old_label_names_still_render() -> None:
    context = {
        "d": MINIMAL["label.granted"],
        "campaign_title": "Park",
        "municipality_name": "Montreuil",
        "role": "owner",
        "name": None,
        "action_url": None,
        "unsubscribe_url": None,
        "preferences_url": "https://civicfund.example/p",
        "category_label": "",
    }
    assert render("endorsement.granted", "en", context) == render("label.granted", "en", context)


OFFER_DECIDED = {
    ("accepted", "en"): ("Your offer was accepted: “Park”", "accepted your offer of help for “Shovels”"),
    ("declined", "en"): ("Thank you for your offer: “Park”", "did not take up your offer"),
    ("accepted", "fr"): (
        "Votre proposition d'aide a été acceptée : « Park »",
        "a accepté votre proposition d'aide pour le besoin « Shovels »",
    ),
    ("declined", "fr"): (
        "Merci de votre proposition d'aide pour « Park »",
        "n'a pas retenu votre proposition",
    ),
}


@pytest.mark.parametrize(("decision", "locale"), sorted(OFFER_DECIDED))
def test_an_offer_decision_tells_the_helper_which_it_was(decision: str, locale: str) -> None:
    context = {
        "d": {**MINIMAL["campaign.offer_decided"], "decision": decision, "need_title": "Shovels"},
        "campaign_title": "Park",
        "municipality_name": "",
        "role": "helper",
        "name": "Amina",
        "action_url": "https://civicfund.example/campaigns/c",
        "unsubscribe_url": "https://civicfund.example/u?token=t",
        "preferences_url": "https://civicfund.example/p",
        "category_label": "Label",
    }
    out = render("campaign.offer_decided", locale, context)
    subject, sentence = OFFER_DECIDED[(decision, locale)]
    assert out.subject == subject and out.title == subject
    for text in (out.text, out.html.replace("&#39;", "'")):
        assert sentence in text and "https://civicfund.example/campaigns/c" in text
    other = {"accepted": "declined", "declined": "accepted"}[decision]
    assert OFFER_DECIDED[(other, locale)][1] not in out.text
