"""Residency verification over real HTTP and nx-27017: a census upload keeps only hashes, a
census entry or letter code verifies one account per call, guessing is bounded, codes expire,
and a polygon-only city's letters are checked against the polygon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from endorsements.residency import domain

CENSUS = (
    "document_number,birth_date,postcode\n"
    "AB 123 456,1984-03-02,93100\n"
    "CD789012,1990-12-24,93100\n"
    "EF345678,not-a-date,93100\n"
    "GH901234,1975-01-01,75001\n"
    "CD789012,1990-12-24,93100\n"
)
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[2.40, 48.84], [2.48, 48.84], [2.48, 48.88], [2.40, 48.88], [2.40, 48.84]]],
}


async def _vote_call(svc, slug: str, manager: str) -> str:
    now = datetime.now(UTC)
    call = {
        "title": "Budget participatif 2027", "budget": 100_000, "max_award": 60_000, "currency": "EUR",
        "submission_opens_at": (now - timedelta(hours=1)).isoformat(),
        "submission_closes_at": (now + timedelta(days=10)).isoformat(),
        "vote_opens_at": (now + timedelta(days=10)).isoformat(),
        "vote_closes_at": (now + timedelta(days=20)).isoformat(),
        "selection_mode": "vote",
    }  # fmt: skip
    r = await svc.http.post(f"/municipalities/{slug}/calls", json=call, headers=svc.who(manager))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_census_keeps_hashes_only_and_one_entry_verifies_one_account_per_call(svc) -> None:
    slug = await svc.city(postcodes=("93100",))
    await svc.appoint(slug, "usr_claire", "manager")
    await svc.appoint(slug, "usr_yusuf", "reviewer")
    await svc.trial(slug)
    call_id = await _vote_call(svc, slug, "usr_claire")
    csv_headers = {**svc.who("usr_claire"), "content-type": "text/csv"}

    r = await svc.http.put(f"/municipalities/{slug}/residency/census", content=CENSUS, headers=csv_headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "method_not_enabled"
    r = await svc.http.put(
        f"/municipalities/{slug}/residency", json={"methods": ["census"]}, headers=svc.who("usr_yusuf")
    )
    assert r.status_code == 403
    r = await svc.http.put(
        f"/municipalities/{slug}/residency", json={"methods": ["postal"]}, headers=svc.who("usr_claire")
    )
    assert r.status_code == 422
    r = await svc.http.put(
        f"/municipalities/{slug}/residency", json={"methods": ["census"]}, headers=svc.who("usr_claire")
    )
    assert r.status_code == 200 and r.json()["methods"] == ["census"]

    r = await svc.http.put(
        f"/municipalities/{slug}/residency/census", content="a,b\n1,2\n", headers=csv_headers
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_census_file"
    r = await svc.http.put(
        f"/municipalities/{slug}/residency/census",
        content=CENSUS,
        headers={**csv_headers, "content-type": "application/json"},
    )
    assert r.status_code == 415
    r = await svc.http.put(f"/municipalities/{slug}/residency/census", content=CENSUS, headers=csv_headers)
    assert r.status_code == 200, r.text
    upload = r.json()
    assert upload["entries"] == 2
    assert [(x["line"], x["reason"]) for x in upload["rejected"]] == [
        (4, "birth_date is not a date (YYYY-MM-DD)"),
        (5, "postcode is not on the city's territory"),
        (6, "the same person appears on an earlier line"),
    ]
    stored = await svc.ctx.mongo.db.census_entries.find({"municipality": slug}).to_list()
    assert len(stored) == 2
    flat = repr(stored)
    assert "AB123456" not in flat and "123 456" not in flat and "1984" not in flat  # hashes only

    r = await svc.http.get(f"/calls/{call_id}/residency", headers=svc.who("usr_amina"))
    assert r.status_code == 200 and r.json() == {**r.json(), "verified": False, "methods": ["census"]}
    claim = {"document_number": "ab123456", "birth_date": "1984-03-02", "postcode": "93100"}
    r = await svc.http.post(f"/calls/{call_id}/residency/census", json=claim, headers=svc.who("usr_amina"))
    assert r.status_code == 200, r.text
    assert r.json()["verified"] is True and r.json()["method"] == "census" and r.json()["postcode"] == "93100"
    # The same account again: still verified; a second account with the same entry: refused.
    r = await svc.http.post(f"/calls/{call_id}/residency/census", json=claim, headers=svc.who("usr_amina"))
    assert r.status_code == 200 and r.json()["verified"] is True
    r = await svc.http.post(
        f"/calls/{call_id}/residency/census", json=claim, headers=svc.who("usr_amina_bis")
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "proof_already_used"
    # A census uploaded again hashes the person to the same entry: still one account per call.
    r = await svc.http.put(f"/municipalities/{slug}/residency/census", content=CENSUS, headers=csv_headers)
    assert r.status_code == 200
    r = await svc.http.post(
        f"/calls/{call_id}/residency/census", json=claim, headers=svc.who("usr_amina_bis")
    )
    assert r.status_code == 409

    # Guessing is bounded: five misses an hour, then 429 even for a right answer.
    wrong = {**claim, "birth_date": "1984-03-03"}
    for _ in range(domain.MAX_FAILED_ATTEMPTS):
        r = await svc.http.post(
            f"/calls/{call_id}/residency/census", json=wrong, headers=svc.who("usr_mallory")
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "not_in_census"
    right = {"document_number": "CD789012", "birth_date": "1990-12-24", "postcode": "93100"}
    r = await svc.http.post(f"/calls/{call_id}/residency/census", json=right, headers=svc.who("usr_mallory"))
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"

    r = await svc.http.get(f"/municipalities/{slug}/residency", headers=svc.who("usr_yusuf"))
    assert r.status_code == 200 and r.json()["census_entries"] == 2


async def test_letters_codes_verify_once_expire_and_follow_the_polygon(svc) -> None:
    slug = await svc.city(postcodes=(), territory=SQUARE)
    await svc.appoint(slug, "usr_claire", "manager")
    await svc.trial(slug)
    call_id = await _vote_call(svc, slug, "usr_claire")
    # A polygon-only city: a proposal located inside the polygon is accepted, one with a postcode
    # only is told to give its location, one outside is refused.
    proposal = {"title": "Bal du Bel-Air", "summary": "Un bal pour le quartier", "requested_amount": 20_000,
                "postcode": "93100"}  # fmt: skip
    for where, status, words in [({}, 422, "location"), ({"lat": 48.80, "lon": 2.30}, 422, "territory"),
                                 ({"lat": 48.86, "lon": 2.44}, 201, "")]:  # fmt: skip
        r = await svc.http.post(
            f"/calls/{call_id}/proposals", json={**proposal, **where}, headers=svc.who("usr_amina")
        )
        assert r.status_code == status, r.text
        assert status == 201 or words in r.json()["error"]["message"]
    await svc.http.put(
        f"/municipalities/{slug}/residency", json={"methods": ["letter"]}, headers=svc.who("usr_claire")
    )
    inside = {
        "name": "M. Diallo",
        "line1": "12 rue de Paris",
        "postcode": "93100",
        "city": "Montreuil",
        "lat": 48.86,
        "lon": 2.44,
    }
    outside = {**inside, "name": "Mme Martin", "lat": 48.80, "lon": 2.30}
    r = await svc.http.post(
        f"/municipalities/{slug}/residency/letters",
        json={"call_id": call_id, "addresses": [inside, outside]}, headers=svc.who("usr_claire"),
    )  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["code"] == "address_outside_territory"
    assert r.json()["error"]["details"][0]["loc"] == ["body", "addresses", 1, "postcode"]
    r = await svc.http.post(
        f"/municipalities/{slug}/residency/letters",
        json={"call_id": call_id, "addresses": [inside, {**inside, "name": "Mme Okafor"}]}, headers=svc.who("usr_claire"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    batch = r.json()
    codes = [letter["code"] for letter in batch["letters"]]
    assert len(set(codes)) == 2 and batch["call_title"] == "Budget participatif 2027"
    assert codes[0] not in repr(await svc.ctx.mongo.db.letter_codes.find({}).to_list())

    # Typed loosely (lower case, no dash) it still works; once.
    typed = codes[0].replace("-", "").lower()
    r = await svc.http.post(
        f"/calls/{call_id}/residency/letter", json={"code": typed}, headers=svc.who("usr_diallo")
    )
    assert r.status_code == 200, r.text
    assert r.json()["method"] == "letter" and r.json()["postcode"] == "93100"
    r = await svc.http.post(
        f"/calls/{call_id}/residency/letter", json={"code": codes[0]}, headers=svc.who("usr_other")
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "proof_already_used"
    r = await svc.http.post(
        f"/calls/{call_id}/residency/letter", json={"code": "ZZZZZ-ZZZZZ"}, headers=svc.who("usr_other")
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_code"
    r = await svc.http.post(
        f"/calls/{call_id}/residency/census",
        json={"document_number": "AB123456", "birth_date": "1984-03-02", "postcode": "93100"},
        headers=svc.who("usr_other"),
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "method_not_enabled"

    # An expired code is refused with 410.
    await svc.ctx.mongo.db.letter_codes.update_many(
        {"used": False}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(minutes=1)}}
    )
    r = await svc.http.post(
        f"/calls/{call_id}/residency/letter", json={"code": codes[1]}, headers=svc.who("usr_okafor")
    )
    assert r.status_code == 410 and r.json()["error"]["code"] == "code_expired"
    r = await svc.http.get(f"/municipalities/{slug}/residency", headers=svc.who("usr_claire"))
    assert r.json()["letters_sent"] == 2 and r.json()["letters_used"] == 1


def test_codes_are_typed_forgivingly_and_census_rows_normalised() -> None:
    code = domain.new_letter_code()
    assert len(code) == domain.CODE_LENGTH and set(code) <= set(domain.CROCKFORD)
    assert domain.code_digest("p", code) == domain.code_digest("p", domain.display_code(code).lower())
    assert domain.normalise_code("o1l-i0") == "01110"
    born = datetime(1984, 3, 2).date()
    assert domain.census_digest("p", "s", "ab 123.456", born, "93 100") == domain.census_digest(
        "p", "s", "AB123456", born, "93100"
    )
    assert domain.census_digest("p", "s", "AB123456", born, "93100") != domain.census_digest(
        "p", "t", "AB123456", born, "93100"
    )


async def test_a_city_that_verifies_residents_counts_only_the_proof_not_the_profile(svc) -> None:
    slug = await svc.city(postcodes=("93100",))
    await svc.appoint(slug, "usr_claire", "manager")
    await svc.trial(slug)
    call_id = await _vote_call(svc, slug, "usr_claire")
    r = await svc.http.post(
        f"/calls/{call_id}/proposals", headers=svc.who("usr_amina"),
        json={"title": "Bal du Bel-Air", "summary": "Un bal pour le quartier", "requested_amount": 20_000,
              "postcode": "93100"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    proposal = r.json()["id"]
    setup = {"rule": {"kind": "approval", "max_lines": 3}, "tie_break": "lowest_amount",
             "headings": [{"key": "city", "name": "Toute la ville", "budget": 100_000}]}  # fmt: skip
    r = await svc.http.put(f"/calls/{call_id}/ballot-setup", json=setup, headers=svc.who("usr_claire"))
    assert r.status_code == 200, r.text
    now = datetime.now(UTC)
    r = await svc.http.post(f"/calls/{call_id}/schedule", headers=svc.who("usr_claire"), json={
        "submission_closes_at": now.isoformat(), "vote_opens_at": now.isoformat(),
        "vote_closes_at": (now + timedelta(days=7)).isoformat()})  # fmt: skip
    assert r.status_code == 200, r.text
    # A postcode of the city in the profile is enough while the city verifies nobody...
    await svc.publish("user.registered", "usr_v", {"user_id": "usr_v", "email": "v@ex.org", "display_name": "V",
                                                   "locale": "fr", "postcode": "93100"}, source="gateway")  # fmt: skip
    await svc.known("users", {"_id": "usr_v"})
    r = await svc.http.put(f"/calls/{call_id}/ballot/lines/{proposal}", headers=svc.who("usr_v"))
    assert r.status_code == 200, r.text
    # ...but not once it takes a census: then only the proof counts.
    await svc.http.put(
        f"/municipalities/{slug}/residency", json={"methods": ["census"]}, headers=svc.who("usr_claire")
    )
    r = await svc.http.put(
        f"/municipalities/{slug}/residency/census", content=CENSUS,
        headers={**svc.who("usr_claire"), "content-type": "text/csv"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    r = await svc.http.post(f"/calls/{call_id}/ballot/checkout", headers=svc.who("usr_v"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_resident"
    assert "census" in r.json()["error"]["message"]
    claim = {"document_number": "CD789012", "birth_date": "1990-12-24", "postcode": "93100"}
    r = await svc.http.post(f"/calls/{call_id}/residency/census", json=claim, headers=svc.who("usr_v"))
    assert r.status_code == 200, r.text
    r = await svc.http.post(f"/calls/{call_id}/ballot/checkout", headers=svc.who("usr_v"))
    assert r.status_code == 200, r.text
