"""Moderation's answers reach the right person once, by email and in the inbox, with the
moderator's reason: a returned or rejected campaign its owner; hidden content its author."""

from __future__ import annotations

from servicekit.testing.helpers import eventually


async def test_a_returned_and_a_rejected_campaign_tell_their_owner_the_reason(svc) -> None:
    owner = await svc.user("owner", "en")
    follower = await svc.user("follower", "en")
    campaign = svc.campaign_data(owner, status="draft", reason="Please add a photo of the site")
    cid = campaign["campaign_id"]
    await svc.publish("campaign.followed", {"campaign_id": cid, "user_id": follower})
    returned = await svc.publish("campaign.returned", campaign)
    await svc.publish("campaign.returned", campaign, event_id=returned.id)  # redelivered

    await eventually(lambda: svc.mail_to(owner), timeout=20)
    mail = svc.mail_to(owner)[0]
    assert mail["Subject"] == "“Street workout park in Bel-Air” needs changes before publication"
    text = mail.get_body(("plain",)).get_content()
    assert "Their reason: Please add a photo of the site" in text
    assert f"http://civicfund.test/projects/{cid}" in text
    await eventually(
        lambda: svc.db_has("fanout_jobs", {"_id": f"{returned.id}|campaign.returned", "status": "done"})
    )
    inbox = (await svc.client.get("/me", headers=svc.auth(owner))).json()
    [item] = inbox["items"]
    assert item["kind"] == "campaign.returned"
    # The inbox's title carries the reason: the inbox shows titles only.
    assert item["title"] == f"{mail['Subject']}: Please add a photo of the site"
    assert item["link"] == f"http://civicfund.test/projects/{cid}"
    assert item["data"]["reason"] == "Please add a photo of the site"
    assert len(svc.mail_to(owner)) == 1
    # Nobody else hears of a campaign that is not public.
    assert svc.mail_to(follower) == []

    french = await svc.user("proprietaire", "fr")
    rejected = svc.campaign_data(french, status="rejected", reason="Ce projet n'est pas sans but lucratif")
    await svc.publish("campaign.rejected", rejected)
    await eventually(lambda: svc.mail_to(french), timeout=20)
    fr = svc.mail_to(french)[0]
    assert fr["Subject"] == "« Street workout park in Bel-Air » n'a pas été accepté"
    assert "Son motif : Ce projet n'est pas sans but lucratif" in fr.get_body(("plain",)).get_content()


async def test_hidden_content_tells_its_author_why(svc) -> None:
    owner = await svc.user("owner", "en")
    helper = await svc.user("helper", "fr")
    cid = svc.campaign_data(owner)["campaign_id"]
    base = {
        "campaign_id": cid,
        "owner_id": owner,
        "campaign_title": "Bel-Air park",
        "report_reason": "spam",
    }
    await svc.publish(
        "campaign.content_hidden",
        {**base, "report_id": "rep_u", "target": "update", "target_id": "upd_1", "update_id": "upd_1",
         "author_id": owner, "reason": "Advertising is not allowed"},
    )  # fmt: skip
    await svc.publish(
        "campaign.content_hidden",
        {**base, "report_id": "rep_o", "target": "offer", "target_id": "off_1", "offer_id": "off_1",
         "author_id": helper, "reason": "Publicité interdite"},
    )  # fmt: skip

    await eventually(lambda: svc.mail_to(owner) and svc.mail_to(helper), timeout=20)
    en = svc.mail_to(owner)[0]
    assert en["Subject"] == "Your update on “Bel-Air park” was hidden"
    assert "Their reason: Advertising is not allowed" in en.get_body(("plain",)).get_content()
    fr = svc.mail_to(helper)[0]
    # (Compared without spaces: the sink's header parsing drops the one between two encoded words.)
    assert fr["Subject"].replace(
        " ", ""
    ) == "Votre proposition d'aide à « Bel-Air park » a été masquée".replace(" ", "")
    assert "Son motif : Publicité interdite" in fr.get_body(("plain",)).get_content()

    async def items(user: str) -> list[dict]:
        return (await svc.client.get("/me", headers=svc.auth(user))).json()["items"]

    await eventually(lambda: items(owner), timeout=15)
    await eventually(lambda: items(helper), timeout=15)
    assert [i["link"] for i in await items(owner)] == [f"http://civicfund.test/projects/{cid}"]
    [item] = await items(helper)
    assert item["link"] == f"http://civicfund.test/campaigns/{cid}/offers/off_1"
    assert item["title"] == "Votre proposition d'aide à « Bel-Air park » a été masquée : Publicité interdite"
