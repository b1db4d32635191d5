"""Residency on the running platform, through the gateway only: a city whose territory is only
a polygon accepts a proposal located inside it; it takes a census as proof of residency; a
resident proves residency and votes; a second account showing the same census entry is refused,
and its ballot too; a resident with only a postcode in the profile no longer votes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

E = "/api/v1/endorsements"
SQUARE = {"type": "Polygon",
          "coordinates": [[[2.40, 48.84], [2.48, 48.84], [2.48, 48.88], [2.40, 48.88], [2.40, 48.84]]]}  # fmt: skip
CENSUS = "document_number,birth_date,postcode\nAB123456,1984-03-02,93100\nCD789012,1990-12-24,93100\n"


async def test_a_census_verified_vote_in_a_polygon_only_city(platform, make_account) -> None:
    manager = await make_account()
    slug = await platform.city(manager)
    await platform.call(
        "PATCH", f"{E}/municipalities/{slug}", manager, json={"postcodes": [], "territory": SQUARE}
    )
    now = datetime.now(UTC)
    call = await platform.call("POST", f"{E}/municipalities/{slug}/calls", manager, 201, json={
        "title": "Budget du quartier", "budget": 100_000, "max_award": 60_000, "currency": "EUR",
        "submission_opens_at": (now - timedelta(hours=1)).isoformat(),
        "submission_closes_at": (now + timedelta(days=1)).isoformat(),
        "vote_opens_at": (now + timedelta(days=1)).isoformat(),
        "vote_closes_at": (now + timedelta(days=8)).isoformat(), "selection_mode": "vote",
    })  # fmt: skip
    cid = call["id"]
    proposer = await make_account()
    body = {"title": "Jardin partagé", "summary": "Un jardin partagé au pied des immeubles", "requested_amount": 20_000,
            "postcode": "93100"}  # fmt: skip
    refused = await platform.call("POST", f"{E}/calls/{cid}/proposals", proposer, 422, json=body)
    assert "location" in refused["error"]["message"]
    await platform.call(
        "POST", f"{E}/calls/{cid}/proposals", proposer, 422, json={**body, "lat": 48.80, "lon": 2.30}
    )
    proposal = await platform.call("POST", f"{E}/calls/{cid}/proposals", proposer, 201,
                                   json={**body, "lat": 48.86, "lon": 2.44})  # fmt: skip
    await platform.call("PUT", f"{E}/calls/{cid}/ballot-setup", manager, json={
        "rule": {"kind": "approval", "max_lines": 2}, "tie_break": "earliest_submission",
        "headings": [{"key": "city", "name": "Tout le quartier", "budget": 100_000}]})  # fmt: skip
    now = datetime.now(UTC)
    await platform.call("POST", f"{E}/calls/{cid}/schedule", manager, json={
        "submission_closes_at": now.isoformat(), "vote_opens_at": now.isoformat(),
        "vote_closes_at": (now + timedelta(days=7)).isoformat()})  # fmt: skip

    await platform.call("PUT", f"{E}/municipalities/{slug}/residency", manager, json={"methods": ["census"]})
    upload = await platform.call("PUT", f"{E}/municipalities/{slug}/residency/census", manager,
                                 content=CENSUS, headers={"content-type": "text/csv"})  # fmt: skip
    assert upload["entries"] == 2 and upload["rejected"] == []

    resident, second, profile_only = await make_account(), await make_account(), await make_account()
    await platform.call("PATCH", "/api/v1/auth/me", profile_only, json={"postcode": "93100"})
    claim = {"document_number": "AB 123 456", "birth_date": "1984-03-02", "postcode": "93100"}
    proof = await platform.call("POST", f"{E}/calls/{cid}/residency/census", resident, json=claim)
    assert proof["verified"] is True and proof["method"] == "census"
    line = f"{E}/calls/{cid}/ballot/lines/{proposal['id']}"
    await platform.call("PUT", line, resident)
    counted = await platform.call("POST", f"{E}/calls/{cid}/ballot/checkout", resident)
    assert counted["counted"] is True, counted

    again = await platform.call("POST", f"{E}/calls/{cid}/residency/census", second, 409, json=claim)
    assert again["error"]["code"] == "proof_already_used"
    for who in (second, profile_only):
        no = await platform.call("PUT", line, who, 403)
        assert no["error"]["code"] == "not_resident" and "prove" in no["error"]["message"]
    mine = await platform.call("GET", f"{E}/calls/{cid}/residency", second)
    assert mine["verified"] is False and mine["methods"] == ["census"]
