"""In-kind help that counts toward the goal: a need declared with a unit value and as counting
adds quantity x value to the campaign's `in_kind_counted` once the owner confirms the accepted
help delivered (never before, never twice), apart from the money; it can reach the goal; the
totals rebuilt from the records agree."""

from __future__ import annotations

from campaigns.store import recompute_totals
from servicekit.testing.helpers import tap


async def _need(svc, cid: str, owner: str, **body) -> str:
    r = await svc.client.post(f"/campaigns/{cid}/needs", json=body, headers=svc.auth(owner))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _accepted_offer(svc, cid: str, nid: str, owner: str, helper: str, quantity: int) -> str:
    r = await svc.client.post(f"/campaigns/{cid}/needs/{nid}/offers", json={"quantity": quantity},
                              headers=svc.auth(helper))  # fmt: skip
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    r = await svc.client.post(f"/campaigns/{cid}/needs/{nid}/offers/{oid}/decision", json={"decision": "accept"},
                              headers=svc.auth(owner))  # fmt: skip
    assert r.status_code == 200, r.text
    return oid


async def test_delivered_in_kind_help_counts_toward_the_goal_at_its_declared_value(svc) -> None:
    _, goal_events = await tap(svc.ctx.bus, "campaign.goal_reached")
    owner, helper, other = svc.user(), svc.user(), svc.user()
    campaign = await svc.live(owner, goal=100_000)
    cid = campaign["id"]
    r = await svc.client.post(f"/campaigns/{cid}/needs", json={"title": "Planks", "quantity": 10, "counts_toward_goal": True},
                              headers=svc.auth(owner))  # fmt: skip
    assert r.status_code == 422  # counting needs a declared value
    planks = await _need(svc, cid, owner, title="Oak planks", kind="goods", quantity=20, unit="plank",
                         unit_value=4_000, counts_toward_goal=True)  # fmt: skip
    hours = await _need(svc, cid, owner, title="Volunteer hours", kind="volunteers", quantity=50, unit="hour",
                        unit_value=1_500)  # fmt: skip
    oid = await _accepted_offer(svc, cid, planks, owner, helper, 15)
    hours_offer = await _accepted_offer(svc, cid, hours, owner, helper, 10)
    pending = await svc.client.post(f"/campaigns/{cid}/needs/{planks}/offers", json={"quantity": 5},
                                    headers=svc.auth(other))  # fmt: skip
    assert (await svc.get(cid))["totals"]["in_kind_counted"] == 0  # accepted is not delivered

    path = f"/campaigns/{cid}/needs/{planks}/offers"
    r = await svc.client.post(f"{path}/{pending.json()['id']}/delivered", headers=svc.auth(owner))
    assert r.status_code == 409 and r.json()["error"]["code"] == "offer_not_accepted"
    r = await svc.client.post(f"{path}/{oid}/delivered", headers=svc.auth(helper))
    assert r.status_code == 403  # only the owner confirms
    r = await svc.client.post(f"{path}/{oid}/delivered", headers=svc.auth(owner))
    assert r.status_code == 200 and r.json()["state"] == "delivered"
    again = await svc.client.post(f"{path}/{oid}/delivered", headers=svc.auth(owner))
    assert again.status_code == 200  # confirming twice counts once
    r = await svc.client.post(
        f"/campaigns/{cid}/needs/{hours}/offers/{hours_offer}/delivered", headers=svc.auth(owner)
    )
    assert r.status_code == 200

    totals = (await svc.get(cid))["totals"]
    assert totals["in_kind_counted"] == 60_000  # 15 planks x 40 EUR; the hours are valued, not counted
    assert totals["in_kind_delivered"] == 75_000
    assert totals["raised"] == 0 and totals["funded"] == 0  # money stays apart
    assert totals["progress_bp"] == 6_000
    needs = (await svc.client.get(f"/campaigns/{cid}/needs")).json()["items"]
    by_id = {n["id"]: n for n in needs}
    assert by_id[planks]["delivered"] == 15 and by_id[planks]["value_delivered"] == 60_000
    assert by_id[hours]["value_delivered"] == 15_000 and by_id[hours]["counts_toward_goal"] is False
    derived = await svc.ctx.mongo.transact(lambda tx: recompute_totals(tx, cid))
    assert derived["in_kind_counted"] == 60_000 and derived["in_kind_delivered"] == 75_000

    # The rest of the planks reach the goal: goal_reached, once.
    last = await _accepted_offer(svc, cid, planks, owner, other, 5)
    await svc.client.post(f"{path}/{last}/delivered", headers=svc.auth(owner))
    final = await svc.get(cid)
    assert final["totals"]["in_kind_counted"] == 80_000
    r = await svc.client.post(f"/campaigns/{cid}/needs", json={"title": "More", "quantity": 1, "unit_value": 20_000,
                                                                "counts_toward_goal": True}, headers=svc.auth(owner))  # fmt: skip
    more = r.json()["id"]
    extra = await _accepted_offer(svc, cid, more, owner, other, 1)
    await svc.client.post(f"/campaigns/{cid}/needs/{more}/offers/{extra}/delivered", headers=svc.auth(owner))
    assert (await svc.get(cid))["totals"]["progress_bp"] == 10_000
    assert len([m for m in goal_events if f'"{cid}"' in m.body.decode()]) <= 1
