"""In-app inbox and preferences over real HTTP."""

from __future__ import annotations

from servicekit.testing.helpers import eventually


async def test_inbox_lists_marks_read_and_counts(svc) -> None:
    owner = await svc.user("owner", "en")
    campaign = svc.campaign_data(owner)
    published = await svc.publish("campaign.published", campaign)
    await svc.publish(
        "campaign.offer_received",
        {
            "campaign_id": campaign["campaign_id"],
            "need_id": "n1",
            "offer_id": "o1",
            "owner_id": owner,
            "from_user_id": "usr_x",
            "quantity": 3,
            "need_title": "Shovels",
        },
    )
    me = svc.auth(owner)

    async def two_items() -> bool:
        return len((await svc.client.get("/me", headers=me)).json()["items"]) == 2

    await eventually(two_items, timeout=15)
    inbox = (await svc.client.get("/me", headers=me)).json()
    assert inbox["unread"] == 2
    kinds = {i["kind"]: i for i in inbox["items"]}
    item = kinds["campaign.published"]
    assert item["id"] == f"{published.id}|{owner}|inapp"
    assert item["data"]["campaign_id"] == campaign["campaign_id"]
    assert item["title"] == "Your campaign “Street workout park in Bel-Air” is live"
    assert item["link"] == f"http://civicfund.test/campaigns/{campaign['campaign_id']}"
    assert item["read"] is False
    assert (
        kinds["campaign.offer_received"]["title"] == "New offer of help for “Street workout park in Bel-Air”"
    )

    # Titles follow the reader's current language.
    await svc.publish("user.updated", {"user_id": owner, "locale": "fr"})

    async def in_french() -> bool:
        items = (await svc.client.get("/me", headers=me)).json()["items"]
        return any(i["title"].startswith("Votre campagne") for i in items)

    await eventually(in_french)

    other = svc.auth("usr_other")
    assert (await svc.client.post(f"/me/items/{item['id']}/read", headers=other)).status_code == 404
    assert (await svc.client.get("/me", headers=other)).json() == {"items": [], "unread": 0}
    marked = await svc.client.post(f"/me/items/{item['id']}/read", headers=me)
    assert marked.status_code == 200 and marked.json() == {"unread": 1}
    assert (await svc.client.get("/me/unread-count", headers=me)).json() == {"unread": 1}
    unread = (await svc.client.get("/me?unread_only=true", headers=me)).json()["items"]
    assert [i["kind"] for i in unread] == ["campaign.offer_received"]
    assert (await svc.client.post("/me/read-all", headers=me)).json() == {"unread": 0}
    assert (await svc.client.get("/me", headers=me)).json()["unread"] == 0

    assert (await svc.client.get("/me")).status_code == 401
    assert (await svc.client.get("/me?limit=0", headers=me)).status_code == 422


async def test_preferences_validate_and_apply_partially(svc) -> None:
    me = svc.auth("usr_pref")
    start = (await svc.client.get("/me/preferences", headers=me)).json()["categories"]
    assert start["receipts"] == {"email": True, "inapp": True, "locked": True, "label": "Reçus de paiement"}
    assert start["calls"]["email"] is False

    changed = await svc.client.put(
        "/me/preferences",
        json={"categories": {"campaign_news": {"email": False}, "calls": {"inapp": True}}},
        headers=me,
    )
    assert changed.status_code == 200
    cats = changed.json()["categories"]
    assert cats["campaign_news"]["email"] is False and cats["campaign_news"]["inapp"] is True
    assert cats["calls"]["inapp"] is True and cats["calls"]["email"] is False

    for body, code in [
        ({"categories": {"receipts": {"email": False}}}, "locked_category"),
        ({"categories": {"spam": {"email": False}}}, "unknown_category"),
        ({"categories": {"calls": {"sms": True}}}, "validation_error"),
        ({"categories": {}, "extra": 1}, "validation_error"),
    ]:
        response = await svc.client.put("/me/preferences", json=body, headers=me)
        assert response.status_code == 422 and response.json()["error"]["code"] == code, response.text
    # Nothing half-written by the refused changes.
    assert (await svc.client.get("/me/preferences", headers=me)).json()["categories"] == cats


async def test_events_about_unknown_users_wait_for_their_contact_details(svc) -> None:
    """Reordering: the receipt's event arrives before the user's registration."""
    late = "usr_late"
    await svc.publish("payment.succeeded", svc.payment_data(late, "cmp_x", 900))
    await eventually(lambda: svc.db_has("email_deliveries", {"user_id": late, "attempts": 1}), timeout=15)
    await svc.publish(
        "user.registered",
        {"user_id": late, "email": f"{late}@example.localhost", "display_name": "Late", "locale": "en"},
    )
    await eventually(lambda: svc.mail_to(late), timeout=15)
    assert svc.mail_to(late)[0]["Subject"] == "Receipt: €9.00 for “cmp_x”"


async def test_deleted_user_gets_nothing_and_keeps_no_contact(svc) -> None:
    gone = await svc.user("gone")
    await svc.publish("user.deleted", {"user_id": gone})
    await eventually(lambda: svc.db_has("users", {"_id": gone, "deleted": True}))
    # Deletion is final: a user.updated arriving afterwards does not bring the address back.
    await svc.publish("user.updated", {"user_id": gone, "email": "back@example.localhost"})
    event = await svc.publish(
        "pledge.authorized",
        {"pledge_id": "p", "campaign_id": "c", "backer_id": gone, "amount": 100, "currency": "EUR"},
    )
    await eventually(
        lambda: svc.db_has("fanout_jobs", {"_id": f"{event.id}|pledge.authorized", "status": "done"})
    )
    user = await svc.ctx.mongo.db.users.find_one({"_id": gone})
    assert "email" not in user
    assert not await svc.db_has("email_deliveries", {"user_id": gone})
