"""Proof of residency in the demo: Bagnolet, Montreuil's neighbour, asks its residents for a
proof before they vote. Nadia, its manager, takes the city's census (a small demo file: endorsements
keeps only the hashes) and makes letters with a code for its participatory budget's call; the
codes are printed with the demo's summary so anyone can prove residency on the site
(`/cities/bagnolet/calls/<id>/residency`).

Montreuil keeps the profile's postcode (its demo vote is already counted). Re-running is safe:
the city and the call are found again, the census replaced by the same file, and letters are
made once (their codes are shown once, then only their hashes remain)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from civicfund_client import ApiError

from .context import Demo, refusal_ok

SLUG = "bagnolet"
CALL_TITLE = "Budget participatif de Bagnolet 2027"
CENSUS = (
    "document_number,birth_date,postcode\n"
    "AB1234567,1990-05-14,93170\n"
    "CD7654321,1985-11-02,93170\n"
    "EF1122334,1978-02-27,93170\n"
)
LETTERS = [
    {"name": "M. et Mme Benali", "line1": "4 rue Sadi Carnot", "postcode": "93170", "city": "Bagnolet"},
    {"name": "Mme Lefèvre", "line1": "18 avenue Gambetta", "postcode": "93170", "city": "Bagnolet"},
]


async def _city(demo: Demo) -> None:
    admin = demo.people["admin"]
    nadia = demo.people["bagnolet_manager"]
    found = await refusal_ok(demo.api().endorsements_get_municipality(SLUG), 404)
    if isinstance(found, ApiError):
        await demo.api(admin).endorsements_register_municipality(
            body={"name": "Bagnolet", "slug": SLUG, "official_code": "93006", "country": "FR",
                  "postcodes": ["93170"],
                  "page_text": "Bagnolet fait voter ses habitants sur son budget participatif."},
        )  # fmt: skip
    await demo.api(admin).endorsements_appoint_official(
        user_id=nadia.user_id, slug=SLUG, body={"role": "manager", "email": nadia.email}
    )
    await demo.api(admin).endorsements_grant_trial(SLUG, body={"days": 90})
    await demo.relogin(nadia)


async def _call(demo: Demo) -> str:
    nadia = demo.people["bagnolet_manager"]
    calls = await demo.api().endorsements_list_calls(SLUG)
    call = next((c for c in calls["items"] if c["title"] == CALL_TITLE), None)
    if call is None:
        now = datetime.now(UTC).replace(microsecond=0)
        call = await demo.api(nadia).endorsements_open_call(
            SLUG,
            body={"title": CALL_TITLE, "theme": "jardins et places",
                  "description": "Les habitants proposent, puis votent après avoir prouvé qu'ils habitent Bagnolet.",
                  "budget": 500_000, "max_award": 200_000, "currency": "EUR",
                  "submission_opens_at": (now - timedelta(days=1)).isoformat(),
                  "submission_closes_at": (now + timedelta(days=20)).isoformat(),
                  "vote_opens_at": (now + timedelta(days=21)).isoformat(),
                  "vote_closes_at": (now + timedelta(days=35)).isoformat(),
                  "winners": 2, "selection_mode": "vote", "votes_per_resident": 2},
        )  # fmt: skip
    return str(call["id"])


async def run(demo: Demo) -> None:
    nadia = demo.people.get("bagnolet_manager")
    if nadia is None or "admin" not in demo.people:
        return
    try:
        await _city(demo)
        call_id = await _call(demo)
        api = demo.api(nadia)
        await api.endorsements_configure_residency(SLUG, body={"methods": ["census", "letter"]})
        upload = await api.endorsements_upload_census(SLUG, body=CENSUS)
        demo.ids["census.bagnolet"] = str(upload["entries"])
        demo.ids["call.bagnolet_2027"] = call_id
        if (await api.endorsements_residency_overview(SLUG))["letters_sent"] == 0:
            batch = await api.endorsements_make_letters(SLUG, body={"call_id": call_id, "addresses": LETTERS})
            for letter in batch["letters"]:
                demo.notes.append(f"Bagnolet residency letter for {letter['name']}: code {letter['code']}")
    except ApiError as refused:
        demo.notes.append(
            f"residency (Bagnolet): refused ({refused.status} {refused.code}: {refused.message})"
        )
