"""The backer-chosen fallback on localstripe: the choice checked and stored at checkout, and
honoured when an all-or-nothing campaign fails or is canceled (a new pledge with the same
saved card on the other campaign, charged off-session when due), once even if told twice."""

from __future__ import annotations

import json
import uuid
from typing import Any

from servicekit.testing.helpers import eventually, tap


async def live_campaign(payments: Any, funding_model: str, municipality: str = "montreuil") -> str:
    campaign_id = f"cmp_{uuid.uuid4().hex}"
    data = payments.campaign_data(campaign_id, "usr_owner_fb", "live", funding_model, 2)
    await payments.publish("campaign.published", campaign_id, {**data, "municipality": municipality})
    await eventually(lambda: payments.store.campaign(campaign_id))
    return campaign_id


async def end(payments: Any, campaign_id: str, verb: str, funding_model: str, version: int) -> None:
    data = payments.campaign_data(campaign_id, "usr_owner_fb", verb, funding_model, version)
    await payments.publish(f"campaign.{verb}", campaign_id, data)


async def pledge(payments: Any, backer: str, body: dict[str, Any]) -> Any:
    async with payments.client() as client:
        return await client.post(
            "/pledges",
            json={"amount": 2_500, "currency": "EUR", **body},
            headers={**payments.auth(backer), "Idempotency-Key": f"idem-{uuid.uuid4().hex}"},
        )


async def authorised(payments: Any, backer: str, body: dict[str, Any]) -> dict[str, Any]:
    created = await pledge(payments, backer, body)
    assert created.status_code == 201, created.text
    return await payments.checkout(created.json(), payments.good_card, payments.auth(backer))


async def test_the_choice_is_checked_and_stored_with_the_consent(payments: Any) -> None:
    own = await live_campaign(payments, "all_or_nothing")
    other = await live_campaign(payments, "all_or_nothing")
    elsewhere = await live_campaign(payments, "all_or_nothing", municipality="bagnolet")
    keep = await live_campaign(payments, "keep_it_all")
    ended = await live_campaign(payments, "all_or_nothing")
    await end(payments, ended, "failed", "all_or_nothing", 4)
    await eventually(lambda: _status_is(payments, ended, "failed"))
    backer = f"usr_fb_{uuid.uuid4().hex[:6]}"

    def to(campaign_id: str) -> dict[str, Any]:
        return {"kind": "campaign", "campaign_id": campaign_id}

    for body, code in [
        ({"campaign_id": own, "fallback": to(other)}, "fallback_consent_required"),
        ({"campaign_id": own, "fallback": to(other), "fallback_consent": False}, "fallback_consent_required"),
        ({"campaign_id": own, "fallback": to(own), "fallback_consent": True}, "fallback_same_campaign"),
        ({"campaign_id": own, "fallback": to(elsewhere), "fallback_consent": True}, "fallback_other_city"),
        ({"campaign_id": own, "fallback": to(ended), "fallback_consent": True}, "fallback_campaign_not_live"),
        (
            {"campaign_id": own, "fallback": to("cmp_nope"), "fallback_consent": True},
            "fallback_campaign_not_found",
        ),
        ({"campaign_id": keep, "fallback": to(other), "fallback_consent": True}, "fallback_not_offered"),
        (
            {
                "campaign_id": own,
                "fallback": {"kind": "city_pool", "municipality": "montreuil"},
                "fallback_consent": True,
            },
            "fallback_unavailable",  # montreuil has no pool taking gifts here (test_fallback_pool.py)
        ),
    ]:
        answer = await pledge(payments, backer, body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"]["code"] == code, answer.text
    # A malformed choice is the framework's 422 too.
    bad = await pledge(payments, backer, {"campaign_id": own, "fallback": {"kind": "lottery"}})
    assert bad.status_code == 422, bad.text

    default = await pledge(payments, backer, {"campaign_id": own})
    assert default.status_code == 201 and default.json()["fallback"]["kind"] == "refund", default.text
    chosen = await pledge(
        payments, backer, {"campaign_id": own, "fallback": to(other), "fallback_consent": True}
    )
    assert chosen.status_code == 201, chosen.text
    async with payments.client() as client:
        shown = (await client.get(f"/pledges/{chosen.json()['id']}", headers=payments.auth(backer))).json()
    assert shown["fallback"]["kind"] == "campaign" and shown["fallback"]["campaign_id"] == other
    assert shown["fallback"]["consent_version"].startswith("fallback-consent-")
    assert shown["fallback"]["consented_at"]


async def _status_is(payments: Any, campaign_id: str, status: str) -> bool:
    doc = await payments.store.campaign(campaign_id)
    return doc is not None and doc["status"] == status


async def test_a_failed_campaign_moves_the_saved_card_to_the_chosen_campaign_once(payments: Any) -> None:
    """All-or-nothing to all-or-nothing: released here, authorized there, nothing charged until
    the other campaign succeeds; then charged once, off-session, for the same amount."""
    _q, seen = await tap(payments.ctx.bus, "pledge.*")
    own = await live_campaign(payments, "all_or_nothing")
    other = await live_campaign(payments, "all_or_nothing")
    backer = f"usr_fb_{uuid.uuid4().hex[:6]}"
    moving = await authorised(
        payments,
        backer,
        {
            "campaign_id": own,
            "fallback": {"kind": "campaign", "campaign_id": other},
            "fallback_consent": True,
        },
    )
    staying = await authorised(payments, backer, {"campaign_id": own, "amount": 1_200})
    assert moving["status"] == staying["status"] == "authorized"

    # The failure arrives twice (a redelivery under a new event id).
    before = await payments.store.db.inbox.count_documents({"type": "campaign.failed"})
    await end(payments, own, "failed", "all_or_nothing", 4)
    await end(payments, own, "failed", "all_or_nothing", 4)

    async def moved() -> bool:
        original = await payments.store.pledge(moving["id"])
        return original["status"] == "released" and bool(original.get("fallback_pledge_id"))

    await eventually(moved, timeout=15)
    await eventually(lambda: _inbox_count(payments, "campaign.failed", before + 2))
    original = await payments.store.pledge(moving["id"])
    of_other = await payments.store.pledges_of_campaign(other)
    assert [(p["_id"], p["status"], p["amount"], p["fallback_of"]) for p in of_other] == [
        (original["fallback_pledge_id"], "authorized", 2_500, moving["id"])
    ]
    assert of_other[0]["payment_method"] == original["payment_method"]
    assert (await payments.store.pledge(staying["id"]))["status"] == "released"
    async with payments.client() as client:
        mine = (await client.get("/me/pledges", headers=payments.auth(backer))).json()["items"]
    by_id = {p["id"]: p for p in mine}
    assert by_id[moving["id"]]["fallback_pledge_id"] == of_other[0]["_id"]
    assert by_id[of_other[0]["_id"]]["fallback_of"] == moving["id"]
    assert by_id[of_other[0]["_id"]]["fallback"]["kind"] == "refund"  # no second move

    def events(kind: str) -> list[str]:
        return [json.loads(m.body)["data"]["pledge_id"] for m in seen if m.routing_key == kind]

    await eventually(lambda: len(events("pledge.released")) == 2)
    assert sorted(events("pledge.released")) == sorted([moving["id"], staying["id"]])
    await eventually(lambda: of_other[0]["_id"] in events("pledge.authorized"))
    assert events("pledge.authorized").count(of_other[0]["_id"]) == 1
    for p in (moving, staying):
        assert await payments.browser.intents_of(p["id"]) == []

    await end(payments, other, "succeeded", "all_or_nothing", 5)

    async def charged() -> bool:
        await payments.charger_tick()
        return (await payments.store.pledge(of_other[0]["_id"]))["status"] == "succeeded"

    await eventually(charged, timeout=20)
    intents = await payments.browser.intents_of(of_other[0]["_id"])
    assert [(i["status"], i["amount"]) for i in intents] == [("succeeded", 2_500)]
    entries = await payments.store.ledger(other)
    assert sum(e["amount"] for e in entries if e["account"] == "project") == 2_500


async def test_a_keep_it_all_target_is_charged_off_session_and_an_ended_one_means_release(
    payments: Any,
) -> None:
    own = await live_campaign(payments, "all_or_nothing")
    keep = await live_campaign(payments, "keep_it_all")
    closing = await live_campaign(payments, "all_or_nothing")
    backer = f"usr_fb_{uuid.uuid4().hex[:6]}"
    to_keep = await authorised(
        payments,
        backer,
        {"campaign_id": own, "fallback": {"kind": "campaign", "campaign_id": keep}, "fallback_consent": True},
    )
    to_closing = await authorised(
        payments,
        backer,
        {
            "campaign_id": own,
            "amount": 900,
            "fallback": {"kind": "campaign", "campaign_id": closing},
            "fallback_consent": True,
        },
    )
    # The chosen campaign ended before this one: its backer's money is released, as a refund choice.
    await end(payments, closing, "failed", "all_or_nothing", 4)
    await eventually(lambda: _status_is(payments, closing, "failed"))
    await end(payments, own, "canceled", "all_or_nothing", 4)

    async def settled() -> bool:
        a = await payments.store.pledge(to_keep["id"])
        b = await payments.store.pledge(to_closing["id"])
        return a["status"] == b["status"] == "released"

    await eventually(settled, timeout=15)
    assert (await payments.store.pledge(to_closing["id"])).get("fallback_pledge_id") is None
    assert await payments.store.pledges_of_campaign(closing) == []
    new_id = (await payments.store.pledge(to_keep["id"]))["fallback_pledge_id"]

    async def paid() -> bool:
        await payments.charger_tick()
        return (await payments.store.pledge(new_id))["status"] == "succeeded"

    await eventually(paid, timeout=20)
    assert [(i["status"], i["amount"]) for i in await payments.browser.intents_of(new_id)] == [
        ("succeeded", 2_500)
    ]
    assert await payments.browser.intents_of(to_keep["id"]) == []
    await payments.charger_tick()  # charged once, not again
    assert len(await payments.browser.intents_of(new_id)) == 1


async def test_keep_it_all_cancel_refunds_as_before(payments: Any) -> None:
    """Money already taken is refunded whatever happens (why: README)."""
    keep = await live_campaign(payments, "keep_it_all")
    backer = f"usr_fb_{uuid.uuid4().hex[:6]}"
    created = await pledge(payments, backer, {"campaign_id": keep})
    assert created.status_code == 201 and created.json()["fallback"] == {
        "kind": "refund",
        "campaign_id": None,
        "municipality": None,
        "pool_id": None,
        "pool_name": None,
        "consent_version": None,
        "consented_at": None,
    }
    paid = await payments.checkout(created.json(), payments.good_card, payments.auth(backer))
    assert paid["status"] == "succeeded", paid
    await end(payments, keep, "canceled", "keep_it_all", 4)

    async def refunded() -> bool:
        await payments.charger_tick()
        return (await payments.store.pledge(paid["id"]))["status"] == "refunded"

    await eventually(refunded, timeout=20)


async def _inbox_count(payments: Any, kind: str, n: int) -> bool:
    return await payments.store.db.inbox.count_documents({"type": kind}) >= n
