"""Email channel end to end: events on the real bus -> fan-out -> SMTP sink."""

from __future__ import annotations

import re

from notifications.app import build
from servicekit.events import new_event
from servicekit.testing.helpers import eventually
from servicekit.testing.server import serve


async def test_receipt_in_french_and_english(svc) -> None:
    amelie = await svc.user("amelie", "fr")
    john = await svc.user("john", "en")
    owner = await svc.user("owner")
    campaign = svc.campaign_data(owner)
    await svc.publish("campaign.created", campaign)
    await eventually(lambda: svc.db_has("campaigns", {"_id": campaign["campaign_id"]}))
    for backer in (amelie, john):
        await svc.publish("payment.succeeded", svc.payment_data(backer, campaign["campaign_id"], 2500))

    await eventually(lambda: svc.mail_to(amelie) and svc.mail_to(john), timeout=20)
    fr = svc.mail_to(amelie)[0]
    assert fr["Subject"] == "Reçu : 25,00\u00a0€ pour « Street workout park in Bel-Air »"
    assert fr["To"].addresses[0].display_name == "Amelie"
    text = fr.get_body(("plain",)).get_content()
    assert "Bonjour Amelie," in text and "Votre paiement de 25,00\u00a0€" in text
    assert "toujours envoyé" in text  # receipts carry no unsubscribe link
    assert "List-Unsubscribe" not in fr
    html = fr.get_body(("html",)).get_content()
    assert '<html lang="fr">' in html and "Bel-Air" in html

    en = svc.mail_to(john)[0]
    assert en["Subject"] == "Receipt: €25.00 for “Street workout park in Bel-Air”"
    assert "Hello John," in en.get_body(("plain",)).get_content()
    # Each backer got exactly their own receipt; the owner nothing.
    assert len(svc.mail_to(amelie)) == len(svc.mail_to(john)) == 1
    assert svc.mail_to(owner) == []


async def test_campaign_news_reaches_owner_backers_and_followers_once(svc) -> None:
    owner = await svc.user("owner", "en")
    backer = await svc.user("backer")
    follower = await svc.user("follower")
    gone = await svc.user("gone")
    campaign = svc.campaign_data(owner)
    cid = campaign["campaign_id"]
    await svc.publish("pledge.authorized", {**svc.payment_data(backer, cid), "funding_model": "keep_it_all"})
    await svc.publish("campaign.followed", {"campaign_id": cid, "user_id": follower})
    await svc.publish("campaign.followed", {"campaign_id": cid, "user_id": gone})
    await svc.publish("campaign.unfollowed", {"campaign_id": cid, "user_id": gone})
    await eventually(lambda: svc.db_has("followers", {"_id": f"{cid}|{gone}", "following": False}))
    await eventually(lambda: svc.mail_to(backer))  # pledge saved

    succeeded = await svc.publish(
        "campaign.succeeded", {**campaign, "status": "succeeded", "raised": 1_300_000}
    )
    # The broker redelivers (or a producer publishes twice): same event id.
    await svc.publish(
        "campaign.succeeded", {**campaign, "status": "succeeded", "raised": 1_300_000}, event_id=succeeded.id
    )

    def news(user: str) -> list:
        return [m for m in svc.mail_to(user) if "funded" in m["Subject"] or "financée" in m["Subject"]]

    await eventually(lambda: news(owner) and news(backer) and news(follower), timeout=20)
    assert news(owner)[0]["Subject"] == "“Street workout park in Bel-Air” is funded"
    assert "Your campaign" in news(owner)[0].get_body(("plain",)).get_content()
    assert "La campagne" in news(follower)[0].get_body(("plain",)).get_content()
    assert "13\u202f000,00\u00a0€" in news(backer)[0].get_body(("plain",)).get_content()
    # Give a duplicate time to show up, by waiting for the in-app copies written with the emails.
    await eventually(lambda: svc.db_has("inbox_items", {"user_id": follower, "kind": "campaign.succeeded"}))
    await eventually(
        lambda: svc.db_has("fanout_jobs", {"_id": f"{succeeded.id}|campaign.succeeded", "status": "done"})
    )
    assert len(news(owner)) == len(news(backer)) == len(news(follower)) == 1
    assert news(gone) == []
    assert await svc.ctx.mongo.db.email_deliveries.count_documents({"context.event_id": succeeded.id}) == 3


async def test_a_label_is_told_once_under_its_new_name(svc) -> None:
    """Endorsements publishes label.* and, for one release, the same change as endorsement.*:
    the owner hears about it once."""
    owner = await svc.user("owner", "en")
    campaign = svc.campaign_data(owner)
    cid = campaign["campaign_id"]
    await svc.publish("campaign.created", campaign)
    await eventually(lambda: svc.db_has("campaigns", {"_id": cid}))
    change = {"campaign_id": cid, "municipality": "montreuil", "status": "granted"}
    old = await svc.publish("endorsement.granted", {**change, "endorsement_id": "lbl_1"})
    new = await svc.publish("label.granted", {**change, "label_id": "lbl_1"})
    await eventually(lambda: svc.mail_to(owner), timeout=20)
    assert svc.mail_to(owner)[0]["Subject"] == "Montreuil labels “Street workout park in Bel-Air”"
    await eventually(lambda: svc.db_has("inbox_items", {"user_id": owner, "kind": "label.granted"}))
    await eventually(lambda: svc.db_has("fanout_jobs", {"_id": f"{new.id}|label.granted", "status": "done"}))
    assert len(svc.mail_to(owner)) == 1
    assert not await svc.db_has("fanout_jobs", {"context.event_id": old.id})


async def test_opted_out_user_gets_only_receipts_and_unsubscribe_link_works(svc) -> None:
    owner = await svc.user("owner")
    fan = await svc.user("fan", "en")
    cid = svc.campaign_data(owner)["campaign_id"]
    await svc.publish("campaign.followed", {"campaign_id": cid, "user_id": fan})
    await eventually(lambda: svc.db_has("followers", {"_id": f"{cid}|{fan}"}))
    await svc.publish(
        "campaign.update_posted",
        {
            "campaign_id": cid,
            "update_id": "upd_1",
            "owner_id": owner,
            "title": "We have the permit",
            "campaign_title": "Bel-Air park",
        },
    )
    await eventually(lambda: svc.mail_to(fan), timeout=20)
    update = svc.mail_to(fan)[0]
    assert update["Subject"] == "News from “Bel-Air park”: We have the permit"
    link = re.search(r"Stop these emails: (\S+)", update.get_body(("plain",)).get_content()).group(1)
    assert update["List-Unsubscribe"] == f"<{link}>"
    assert link.startswith("http://civicfund.test/unsubscribe?token=")  # the site's page
    path = link.removeprefix("http://civicfund.test")  # the API's own page takes the same token

    # No login: the signed token is the authority. GET only asks; POST (form or one-click) acts.
    page = await svc.client.get(path)
    assert page.status_code == 200 and "<form" in page.text and "Campaigns I follow or back" in page.text
    prefs = (await svc.client.get("/me/preferences", headers=svc.auth(fan))).json()
    assert prefs["categories"]["campaign_news"]["email"] is True
    done = await svc.client.post(path)
    assert done.status_code == 200 and "Done" in done.text
    prefs = (await svc.client.get("/me/preferences", headers=svc.auth(fan))).json()["categories"]
    assert prefs["campaign_news"] == {
        "email": False,
        "inapp": True,
        "locked": False,
        "label": "Campaigns I follow or back",
    }
    forged = await svc.client.post(path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"))
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "invalid_token"

    # Opted out: no news email (in-app still on), but the receipt for money paid still comes.
    second = await svc.publish(
        "campaign.update_posted",
        {
            "campaign_id": cid,
            "update_id": "upd_2",
            "owner_id": owner,
            "title": "Works start",
            "campaign_title": "Bel-Air park",
        },
    )
    await svc.publish("payment.succeeded", svc.payment_data(fan, cid, 1000))
    await eventually(lambda: len(svc.mail_to(fan)) == 2, timeout=20)
    await eventually(lambda: svc.db_has("inbox_items", {"_id": f"{second.id}|{fan}|inapp"}))
    subjects = [m["Subject"] for m in svc.mail_to(fan)]
    assert subjects[1].startswith("Receipt: €10.00")
    assert not await svc.db_has("email_deliveries", {"_id": f"{second.id}|{fan}|email"})


async def test_call_opened_reaches_only_residents_who_opted_in(svc) -> None:
    await svc.publish(
        "municipality.registered",
        {"municipality_id": "mun_1", "slug": "montreuil", "name": "Montreuil", "postcodes": ["93100"]},
    )
    keen = await svc.user("keen", "fr", "93100")
    quiet = await svc.user("quiet", "fr", "93100")
    elsewhere = await svc.user("elsewhere", "fr", "75011")
    for user in (keen, elsewhere):
        await eventually(lambda u=user: svc.db_has("users", {"_id": u}))
        r = await svc.client.put(
            "/me/preferences", json={"categories": {"calls": {"email": True}}}, headers=svc.auth(user)
        )
        assert r.status_code == 200 and r.json()["categories"]["calls"]["email"] is True
    await eventually(lambda: svc.db_has("municipalities", {"_id": "montreuil"}))
    await svc.publish(
        "call.opened",
        {
            "call_id": "call_1",
            "municipality": "montreuil",
            "title": "Des cours d'école oasis",
            "budget": 5_000_000,
            "currency": "EUR",
        },
    )
    await eventually(lambda: svc.mail_to(keen), timeout=20)
    assert svc.mail_to(keen)[0]["Subject"] == "Appel à projets à Montreuil : Des cours d'école oasis"
    await eventually(lambda: svc.db_has("fanout_jobs", {"kind": "call.opened", "status": "done"}))
    assert svc.mail_to(quiet) == [] and svc.mail_to(elsewhere) == []


async def test_large_fan_out_goes_page_by_page_under_back_pressure(env, sink, settings_for) -> None:
    """120 followers, pages of 25, expansion paused while more than 30 emails wait."""
    app = build(settings_for(env, sink.port, fanout_page_size=25, fanout_max_pending=30, email_concurrency=8))
    async with serve(app):
        ctx = app.state.ctx
        cid = "cmp_big"
        followers = [f"usr_f{n:03d}" for n in range(120)]
        for user in followers:
            await ctx.bus.publish(
                new_event(
                    "gateway",
                    "user.registered",
                    None,
                    {
                        "user_id": user,
                        "email": f"{user}@example.localhost",
                        "display_name": user,
                        "locale": "en",
                    },
                )
            )
            await ctx.bus.publish(
                new_event("campaigns", "campaign.followed", None, {"campaign_id": cid, "user_id": user})
            )
        await eventually(lambda: _count(ctx, cid), timeout=60)
        event = new_event(
            "campaigns",
            "campaign.meetup_scheduled",
            None,
            {
                "campaign_id": cid,
                "meetup_id": "m1",
                "owner_id": "usr_owner",
                "title": "Planting day",
                "campaign_title": "Big park",
                "starts_at": "2026-12-05T14:00:00Z",
            },
        )
        await ctx.bus.publish(event)
        await eventually(lambda: all(sink.to(f"{u}@example.localhost") for u in followers), timeout=90)
        await eventually(
            lambda: ctx.mongo.db.fanout_jobs.find_one(
                {"_id": f"{event.id}|campaign.meetup_scheduled", "status": "done"}
            )
        )

        async def all_recorded_sent() -> bool:
            # The sink has the mail a moment before the mailer records it as sent.
            query = {"context.event_id": event.id, "status": "sent"}
            return await ctx.mongo.db.email_deliveries.count_documents(query) == 120

        await eventually(all_recorded_sent)
        assert all(len(sink.to(f"{u}@example.localhost")) == 1 for u in followers)


async def _count(ctx, cid: str) -> bool:
    return await ctx.mongo.db.followers.count_documents({"campaign_id": cid}) == 120


async def test_official_invitation_is_emailed_with_its_token_in_the_invitees_language(svc) -> None:
    # A known account gets it in its language; an address without an account gets English.
    known = await svc.user("known", "fr")
    await svc.publish(
        "municipality.registered",
        {"municipality_id": "m1", "slug": "montreuil", "name": "Montreuil", "postcodes": ["93100"]},
    )
    await eventually(lambda: svc.db_has("users", {"_id": known}))
    for email, token in (
        (f"{known}@example.localhost", "tok-known"),
        ("new.person@example.localhost", "tok-new"),
    ):
        await svc.publish(
            "official.invited",
            {
                "invitation_id": f"inv-{token}",
                "municipality": "montreuil",
                "email": email,
                "role": "reviewer",
                "token": token,
                "expires_at": "2026-12-24T00:00:00+00:00",
            },
        )
    await eventually(lambda: svc.mail_to(known) and svc.sink.to("new.person@example.localhost"), timeout=20)
    fr = svc.mail_to(known)[0]
    assert fr["Subject"] == "Montreuil vous invite à rejoindre Civicfund comme relecteur·rice"
    assert "tok-known" in fr.get_body(("plain",)).get_content()
    en = svc.sink.to("new.person@example.localhost")[0]
    assert en["Subject"] == "Montreuil invites you to join as a reviewer"
    text = en.get_body(("plain",)).get_content()
    assert "tok-new" in text and "/invitations/accept?token=tok-new" in text


async def test_each_offer_decision_reaches_its_helper_once_in_their_language(svc) -> None:
    owner = await svc.user("owner", "en")
    amina = await svc.user("amina", "fr")
    john = await svc.user("john", "en")
    cid = svc.campaign_data(owner)["campaign_id"]
    offer = {
        "campaign_id": cid,
        "need_id": "ned_1",
        "owner_id": owner,
        "quantity": 2,
        "need_title": "Shovels",
        "campaign_title": "Bel-Air park",
    }
    accepted = await svc.publish(
        "campaign.offer_decided",
        {**offer, "offer_id": "off_a", "from_user_id": amina, "decision": "accepted"},
    )
    await svc.publish(  # redelivered: the same event id
        "campaign.offer_decided",
        {**offer, "offer_id": "off_a", "from_user_id": amina, "decision": "accepted"},
        event_id=accepted.id,
    )
    declined = await svc.publish(
        "campaign.offer_decided",
        {**offer, "offer_id": "off_j", "from_user_id": john, "decision": "declined"},
    )

    await eventually(lambda: svc.mail_to(amina) and svc.mail_to(john), timeout=20)
    fr = svc.mail_to(amina)[0]
    assert fr["Subject"] == "Votre proposition d'aide a été acceptée : « Bel-Air park »"
    assert "pour le besoin « Shovels »" in fr.get_body(("plain",)).get_content()
    en = svc.mail_to(john)[0]
    assert en["Subject"] == "Thank you for your offer: “Bel-Air park”"
    assert f"http://civicfund.test/campaigns/{cid}" in en.get_body(("plain",)).get_content()

    for event, helper in ((accepted, amina), (declined, john)):
        key = f"{event.id}|campaign.offer_decided"
        await eventually(lambda key=key: svc.db_has("fanout_jobs", {"_id": key, "status": "done"}))
        inbox = (await svc.client.get("/me", headers=svc.auth(helper))).json()
        assert len(inbox["items"]) == 1 and inbox["unread"] == 1
        assert inbox["items"][0]["kind"] == "campaign.offer_decided"
        assert inbox["items"][0]["link"] == f"http://civicfund.test/campaigns/{cid}"
        assert len(svc.mail_to(helper)) == 1
    assert (await svc.client.get("/me", headers=svc.auth(amina))).json()["items"][0]["title"] == fr["Subject"]
    # The owner made the decision: they are not told about it.
    assert svc.mail_to(owner) == []
    assert (await svc.client.get("/me", headers=svc.auth(owner))).json()["items"] == []
