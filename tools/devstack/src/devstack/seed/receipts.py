"""A tax receipt in the demo: the admin records Amina (who carries the street-workout park) as an
association eligible for tax-deductible gifts, and Sofia asks for the receipt of her paid pledge
to it. Re-running is safe: the holder's status is replaced by the same, and a receipt asked again
answers the same receipt."""

from __future__ import annotations

from civicfund_client import ApiError

from .context import Demo

ASSOCIATION = {
    "eligible": True,
    "legal_name": "Association Bel-Air Sport",
    "registration": "W931234567",
    "address": "3 rue des Lilas, 93100 Montreuil",
    "object": "Promouvoir le sport de plein air dans le quartier Bel-Air",
}
SOFIA_ADDRESS = {
    "name": "Sofia Rossi",
    "address": "12 rue de Paris",
    "postcode": "93100",
    "city": "Montreuil",
}


async def _receipt(demo: Demo) -> None:
    admin, amina, sofia = (demo.people.get(k) for k in ("admin", "amina", "sofia"))
    campaign_id = demo.ids.get("campaign.street_workout")
    if not (admin and amina and sofia and campaign_id):
        demo.notes.append("tax receipt: skipped (the street-workout campaign or its people are missing)")
        return
    await demo.api(admin).payments_record_holder(amina.user_id, body=ASSOCIATION)
    pledges = (await demo.api(sofia).payments_my_pledges())["items"]
    paid = [p for p in pledges if p["campaign_id"] == campaign_id and p["status"] == "succeeded"]
    if not paid:
        demo.notes.append("tax receipt: skipped (Sofia's pledge to the street-workout park is not paid)")
        return
    receipt = await demo.api(sofia).payments_issue_receipt(paid[0]["id"], body=SOFIA_ADDRESS)
    demo.ids["tax_receipt.sofia"] = receipt["number"]


async def run(demo: Demo) -> None:
    try:
        await _receipt(demo)
    except ApiError as refused:
        demo.notes.append(f"tax receipt: refused ({refused.status} {refused.code}: {refused.message})")
