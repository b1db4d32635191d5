"""The match cost preview: a pure function of the rule and the contributions so far (the same
rules settlement applies), and the read-only route a city manager calls before committing."""

from __future__ import annotations

import pytest

from endorsements.matching.domain import Contribution, CostPreview, RuleError, preview_cost
from endorsements.municipalities.domain import Territory, located_by


def _c(n: int, backer: str, amount: int) -> Contribution:
    return Contribution(f"pay_{n}", backer, amount)


def test_instant_preview_matches_past_contributions_first_come_first_served() -> None:
    rule = {"condition": "instant", "ratio": 1, "cap_per_project": 12_000, "cap_per_contribution": 5_000,
            "max_contributions_per_backer": 1}  # fmt: skip
    paid = [_c(1, "lucas", 3_000), _c(2, "lucas", 4_000), _c(3, "sofia", 8_000), _c(4, "nadia", 6_000)]
    # lucas once (3 000), sofia capped per contribution (5 000), nadia gets what is left (4 000).
    assert preview_cost(rule, paid, goal=100_000) == CostPreview(12_000, 12_000, 12_000, False)
    # Nothing raised yet: it costs nothing now; at the goal, the ratio until the project cap.
    assert preview_cost({**rule, "cap_per_project": 300_000}, [], goal=100_000) == CostPreview(
        300_000, 0, 100_000, False
    )
    half = {"condition": "instant", "ratio": 0.5, "cap_per_project": 300_000}
    assert preview_cost(half, [_c(1, "a", 1_001)], goal=100_000).now == 500  # floored to the cent


def test_instant_preview_waits_for_the_minimum_number_of_backers() -> None:
    rule = {"condition": "instant", "ratio": 2, "cap_per_project": 100_000, "min_backers": 2}
    paid = [_c(1, "a", 1_000), _c(2, "a", 1_000), _c(3, "b", 1_000), _c(4, "a", 500)]
    # The first two came before a second backer: unmatched, as settlement would have done.
    assert preview_cost(rule, paid, goal=50_000).now == 3_000


def test_on_goal_reached_and_lump_sum_previews() -> None:
    on_goal = {"condition": "on_goal_reached", "ratio": 1, "cap_per_project": 20_000}
    paid = [_c(1, "a", 6_000), _c(2, "b", 4_000)]
    assert preview_cost(on_goal, paid, goal=30_000) == CostPreview(20_000, 10_000, 20_000, False)
    # All-or-nothing pledges not charged yet count at the plain ratio.
    assert preview_cost(on_goal, paid, goal=30_000, reported_total=15_000).now == 15_000
    lump = {"condition": "lump_sum_at_threshold", "ratio": 1, "lump_sum": 50_000, "threshold_percent": 50}
    assert preview_cost(lump, paid, goal=30_000) == CostPreview(50_000, 0, 50_000, False)
    assert preview_cost(lump, [*paid, _c(3, "c", 5_000)], goal=30_000) == CostPreview(
        50_000, 50_000, 50_000, True
    )


def test_an_inconsistent_rule_is_refused() -> None:
    with pytest.raises(RuleError):
        preview_cost({"condition": "instant", "ratio": 1}, [], goal=1_000)  # no cap_per_project
    with pytest.raises(RuleError):
        preview_cost({"condition": "lump_sum_at_threshold", "ratio": 1, "lump_sum": 10}, [], goal=1_000)


def test_a_reviewer_sees_how_a_campaign_is_on_the_territory() -> None:
    square = {
        "type": "Polygon",
        "coordinates": [[[2.4, 48.85], [2.5, 48.85], [2.5, 48.9], [2.4, 48.9], [2.4, 48.85]]],
    }
    territory = Territory.build(["93100"], square)
    assert located_by({"lat": 48.86, "lon": 2.44, "postcode": "93100"}, "montreuil", territory) == "area"
    assert located_by({"lat": 40.0, "lon": 2.44, "postcode": "93100 "}, "montreuil", territory) == "postcode"
    assert located_by({"municipality": "montreuil", "postcode": "75001"}, "montreuil", territory) == "named"
    assert located_by({"municipality": "bagnolet", "postcode": "93170"}, "montreuil", territory) is None


async def _setup(svc) -> tuple[str, str, str, str]:
    slug = await svc.city()
    await svc.appoint(slug, "usr_claire", "manager")
    await svc.appoint(slug, "usr_yusuf", "reviewer")
    await svc.trial(slug)
    cid = await svc.campaign("usr_amina", slug, goal=200_000)
    await svc.known("campaigns", {"_id": cid})
    r = await svc.http.post("/labels", json={"campaign_id": cid, "message": "A plot, please"},
                            headers=svc.who("usr_amina"))  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["message"] == "A plot, please"
    body = {"name": "Budget 2027", "year": 2027, "budget": 100_000, "currency": "EUR"}
    p = await svc.http.post(f"/municipalities/{slug}/pools", json=body,
                            headers={**svc.who("usr_claire"), "Idempotency-Key": f"pool-{slug}"})  # fmt: skip
    assert p.status_code == 201, p.text
    return slug, cid, r.json()["id"], p.json()["id"]


async def test_a_manager_previews_the_cost_at_the_current_totals_and_nothing_is_reserved(svc) -> None:
    slug, cid, lid, pool = await _setup(svc)
    for n, (backer, amount) in enumerate([("usr_lucas", 30_000), ("usr_sofia", 10_000)]):
        data = {"payment_id": f"pay_{cid}_{n}", "pledge_id": f"plg_{n}", "campaign_id": cid,
                "backer_id": backer, "amount": amount, "currency": "EUR"}  # fmt: skip
        await svc.publish("payment.succeeded", data["payment_id"], data, source="payments")
        await svc.known("contributions", {"_id": data["payment_id"]})
    rule = {"pool_id": pool, "condition": "instant", "ratio": 1, "cap_per_project": 60_000}
    claire = svc.who("usr_claire")
    r = await svc.http.post(f"/labels/{lid}/match-preview", json=rule, headers=claire)
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["raised"] == 40_000 and preview["backers"] == 2 and preview["goal"] == 200_000
    assert (
        preview["reserved"] == 60_000 and preview["cost_now"] == 40_000 and preview["cost_at_goal"] == 60_000
    )
    assert preview["pool_available"] == 100_000 and preview["pool_available_after"] == 40_000
    assert preview["fits_pool"] is True and preview["pool_name"] == "Budget 2027"
    # Asking reserved nothing; a rule bigger than the pool says it would not fit.
    big = await svc.http.post(f"/labels/{lid}/match-preview", json={**rule, "cap_per_project": 150_000},
                              headers=claire)  # fmt: skip
    assert big.status_code == 200 and big.json()["fits_pool"] is False
    assert big.json()["pool_available"] == 100_000 and big.json()["pool_available_after"] == -50_000
    pools = (await svc.http.get(f"/municipalities/{slug}/pools", headers=claire)).json()["items"]
    assert pools[0]["committed"] == 0

    # The same refusals as committing: an inconsistent rule, another city's pool; a reviewer
    # does not commit money so does not preview it; a stranger neither.
    bad = await svc.http.post(f"/labels/{lid}/match-preview", json={**rule, "cap_per_project": None},
                              headers=claire)  # fmt: skip
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_match_rule"
    unknown = await svc.http.post(f"/labels/{lid}/match-preview", json={**rule, "pool_id": "pool_nope"},
                                  headers=claire)  # fmt: skip
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "pool_not_found"
    for who in ("usr_yusuf", "usr_amina"):
        r = await svc.http.post(f"/labels/{lid}/match-preview", json=rule, headers=svc.who(who))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await svc.http.post("/labels/lbl_nope/match-preview", json=rule, headers=claire)
    assert r.status_code == 404
    r = await svc.http.post(f"/labels/{lid}/match-preview", json={**rule, "ratio": "lots"}, headers=claire)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    # What the preview said is what a grant then commits.
    g = await svc.http.post(f"/labels/{lid}/grant", json={"match": rule},
                            headers={**claire, "Idempotency-Key": f"grant-{lid}"})  # fmt: skip
    assert g.status_code == 200, g.text
    pools = (await svc.http.get(f"/municipalities/{slug}/pools", headers=claire)).json()["items"]
    assert pools[0]["available"] == preview["pool_available_after"]
    # The request's message is for the city: the granted label is public, its message is not.
    assert (await svc.http.get(f"/labels/{lid}", headers=claire)).json()["message"] == "A plot, please"
    assert (await svc.http.get(f"/labels/{lid}", headers=svc.who("usr_amina"))).json()[
        "message"
    ] == "A plot, please"
    assert (await svc.http.get(f"/labels/{lid}")).json()["message"] == ""
    assert (await svc.http.get(f"/campaigns/{cid}/labels")).json()["labels"][0]["message"] == ""
    city = (await svc.http.get(f"/municipalities/{slug}/page")).json()
    assert city["labelled_campaigns"][0]["label"]["message"] == ""
    assert city["labelled_campaigns"][0]["campaign"]["matched"] == 0


async def test_the_review_queue_says_where_each_campaign_is_and_carries_the_message(svc) -> None:
    slug, cid, _lid, _pool = await _setup(svc)
    near = await svc.campaign("usr_lucas", "elsewhere", postcode="93100", title="Benches")
    await svc.known("campaigns", {"_id": near})
    r = await svc.http.get(f"/municipalities/{slug}/review-queue", headers=svc.who("usr_yusuf"))
    assert r.status_code == 200, r.text
    items = {i["campaign"]["id"]: i for i in r.json()["items"]}
    assert items[cid]["located_by"] == "named" and items[cid]["label"]["message"] == "A plot, please"
    assert items[near]["located_by"] == "postcode" and items[near]["label"] is None
    assert items[cid]["campaign"]["goal"] == 200_000
    assert r.json()["items"][0]["campaign"]["id"] == cid  # requests first
    r = await svc.http.get(f"/municipalities/{slug}/review-queue", headers=svc.who("usr_amina"))
    assert r.status_code == 403
