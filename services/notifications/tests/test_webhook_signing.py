"""Standard Webhooks signatures, checked with the official library (`standardwebhooks`): what a
city verifies in its own language; the legacy scheme stays for endpoints registered before."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from notifications.tokens import new_webhook_secret, standard_key, verify_webhook
from notifications.webhooks.rules import new_secret_entry, rotated_secrets, signature, signature_scheme

BODY = (
    b'{"specversion":"1.0","id":"e1","type":"org.civicfund.label.granted","data":{"city":"Montr\xc3\xa9al"}}'
)


def headers(msg_id: str, timestamp: int, sig: str) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": sig}


def test_new_secrets_are_what_the_official_libraries_take() -> None:
    secret = new_webhook_secret()
    assert secret.startswith("whsec_") and len(standard_key(secret)) == 32
    assert new_webhook_secret() != secret


def test_a_standard_endpoint_signs_id_timestamp_and_body_for_every_live_secret() -> None:
    now = datetime.now(UTC)
    first, second = new_webhook_secret(), new_webhook_secret()
    endpoint = {"signature_scheme": "standard", "secrets": [new_secret_entry(first, now)]}
    endpoint["secrets"] = rotated_secrets(endpoint, second, 3600, now)
    ts = int(time.time())
    sig = signature(endpoint, "whd_1", ts, BODY, now)
    assert len(sig.split(" ")) == 2 and all(part.startswith("v1,") for part in sig.split(" "))
    for secret in (first, second):
        assert Webhook(secret).verify(BODY, headers("whd_1", ts, sig))["data"]["city"] == "Montréal"
    # The id and the timestamp are signed, not only the body.
    for tampered in (headers("whd_2", ts, sig), headers("whd_1", ts + 1, sig)):
        with pytest.raises(WebhookVerificationError):
            Webhook(second).verify(BODY, tampered)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(BODY, headers("whd_1", ts, sig))
    # After the grace period only the new secret signs.
    later = signature(endpoint, "whd_1", ts, BODY, now + timedelta(hours=2))
    assert len(later.split(" ")) == 1
    Webhook(second).verify(BODY, headers("whd_1", ts, later))
    with pytest.raises(WebhookVerificationError):
        Webhook(first).verify(BODY, headers("whd_1", ts, later))


def test_an_endpoint_from_before_keeps_the_legacy_scheme_and_its_secret_works_once_switched() -> None:
    now = datetime.now(UTC)
    old_secret = "whsec_Ab-_cd" + "x" * 37  # urlsafe characters: not base64 the libraries read
    endpoint = {"secrets": [{"id": "sec_1", "secret": old_secret, "created_at": now}]}
    assert signature_scheme(endpoint) == "legacy"
    ts = int(time.time())
    legacy = signature(endpoint, "whd_1", ts, BODY, now)
    assert legacy.startswith("v1=") and verify_webhook(old_secret, ts, BODY, legacy)

    switched = {**endpoint, "signature_scheme": "standard"}
    sig = signature(switched, "whd_1", ts, BODY, now)
    Webhook("whsec_" + base64.b64encode(old_secret.encode()).decode()).verify(BODY, headers("whd_1", ts, sig))
    assert not verify_webhook(old_secret, ts, BODY, sig)
