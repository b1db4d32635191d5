"""Residency verification: a city manager chooses the methods, uploads the census or makes the
letters; a resident proves residency for one call with a census entry or a letter code.

A failed attempt is recorded in its own transaction before the refusal is answered, so guessing
is bounded (`domain.MAX_FAILED_ATTEMPTS` an hour per account and call)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from servicekit.auth import Principal
from servicekit.errors import DomainError
from servicekit.mongo import Mongo, Tx, as_utc, utcnow

from .. import store
from ..access import CityOfficial
from ..calls import store as calls
from ..store import Doc, Source
from . import domain
from . import store as residency
from .models import (
    CensusClaimIn,
    CensusUploadOut,
    LetterBatchIn,
    LetterBatchOut,
    LetterClaimIn,
    LetterOut,
    RejectedRowOut,
    ResidencyOut,
    ResidencySettingsIn,
    VerificationOut,
)

MAX_CENSUS_BYTES = 64 * 1024 * 1024


async def _settings(src: Source, slug: str) -> Doc:
    return await residency.settings.get(src, slug) or {"_id": slug, "methods": [], "census_entries": 0}


async def methods_of(src: Source, slug: str) -> list[str]:
    return list((await _settings(src, slug)).get("methods") or [])


async def verified_resident(src: Source, call_id: str, account: str) -> Doc | None:
    """The proof of residency `account` gave for the call (census or letter), if any."""
    return await residency.resident(src, call_id, account)


async def _overview(src: Source, slug: str) -> ResidencyOut:
    doc = await _settings(src, slug)
    return ResidencyOut(
        municipality=slug,
        methods=doc.get("methods") or [],
        census_entries=int(doc.get("census_entries") or 0),
        census_uploaded_at=as_utc(doc.get("census_uploaded_at")),
        letters_sent=await residency.count_codes(src, slug),
        letters_used=await residency.count_codes(src, slug, used=True),
    )


async def overview(mongo: Mongo, official: CityOfficial) -> ResidencyOut:
    return await _overview(mongo.db, official.slug)


async def configure(mongo: Mongo, manager: CityOfficial, body: ResidencySettingsIn) -> ResidencyOut:
    methods = sorted(set(body.methods))

    async def work(tx: Tx) -> None:
        doc = await _settings(tx, manager.slug)
        # The salt is made once: a census uploaded again hashes a person to the same entry, so a
        # new file does not let one person verify a second account for a call.
        salt = doc.get("salt") or secrets.token_hex(16)
        await residency.settings.put(
            tx, {**doc, "methods": methods, "salt": salt, "updated_by": manager.principal.sub}
        )

    await mongo.transact(work)
    return await _overview(mongo.db, manager.slug)


def _allowed_postcodes(muni: Doc) -> frozenset[str] | None:
    """Postcodes a census row may carry; None when a polygon decides (a postcode says too little)."""
    territory = store.territory_of(muni)
    if territory.polygons or not territory.postcodes:
        return None
    return frozenset(domain.normalise_postcode(p) for p in territory.postcodes)


async def upload_census(mongo: Mongo, manager: CityOfficial, text: str, pepper: str) -> CensusUploadOut:
    assert manager.municipality is not None
    doc = await _settings(mongo.db, manager.slug)
    if "census" not in (doc.get("methods") or []):
        raise DomainError("method_not_enabled", 409, "enable the census method before uploading a census")
    try:
        rows, rejected = domain.parse_census(
            text, pepper, doc["salt"], _allowed_postcodes(manager.municipality)
        )
    except domain.CensusError as exc:
        raise DomainError("bad_census_file", 422, str(exc)) from exc
    if not rows:
        raise DomainError(
            "bad_census_file", 422, "no usable row in the file",
            details=[{"loc": ["body", r.line], "msg": r.reason} for r in rejected[:50]],
        )  # fmt: skip
    upload = f"census_{uuid.uuid4().hex}"
    now = utcnow()
    entries = [
        {"_id": r.digest, "municipality": manager.slug, "postcode": r.postcode, "upload": upload}
        for r in rows
    ]

    async def work(tx: Tx) -> None:
        await residency.replace_census(tx, manager.slug, entries)
        await residency.settings.patch(
            tx, manager.slug,
            {"census_entries": len(entries), "census_uploaded_at": now, "census_upload": upload},
        )  # fmt: skip

    await mongo.transact(work)
    return CensusUploadOut(
        municipality=manager.slug,
        entries=len(entries),
        rejected=[RejectedRowOut(line=r.line, reason=r.reason) for r in rejected],
        uploaded_at=now,
    )


async def make_letters(
    mongo: Mongo, manager: CityOfficial, body: LetterBatchIn, pepper: str
) -> LetterBatchOut:
    assert manager.municipality is not None
    muni = manager.municipality
    if "letter" not in await methods_of(mongo.db, manager.slug):
        raise DomainError("method_not_enabled", 409, "enable the letter method before making letters")
    call = await calls.call(mongo.db, body.call_id)
    if call["municipality"] != manager.slug:
        raise DomainError("call_not_found", 404, "no such call for projects in this city")
    if call["status"] != "open":
        raise DomainError("call_not_open", 409, f"the call is {call['status']}")
    now = utcnow()
    valid_until = (
        body.valid_until or as_utc(call.get("vote_closes_at")) or as_utc(call["submission_closes_at"])
    )
    if valid_until is None or valid_until <= now:
        raise DomainError("bad_valid_until", 422, "the codes must stay valid after now")
    territory = store.territory_of(muni)
    outside = [
        {"loc": ["body", "addresses", i, "postcode"], "msg": "this address is not on the city's territory"}
        for i, a in enumerate(body.addresses)
        if not territory.contains(a.postcode, a.lat, a.lon)
    ]
    if outside:
        raise DomainError(
            "address_outside_territory", 422, f"{len(outside)} address(es) outside the city", outside
        )
    batch = f"letters_{uuid.uuid4().hex}"
    letters: list[LetterOut] = []
    rows: list[Doc] = []
    for a in body.addresses:
        code = domain.new_letter_code()
        letters.append(LetterOut(name=a.name, line1=a.line1, line2=a.line2, postcode=a.postcode, city=a.city,
                                 code=domain.display_code(code)))  # fmt: skip
        rows.append({
            "_id": domain.code_digest(pepper, code), "batch": batch, "municipality": manager.slug,
            "call_id": call["_id"], "postcode": domain.normalise_postcode(a.postcode),
            "expires_at": valid_until, "used": False, "made_by": manager.principal.sub, "made_at": now,
        })  # fmt: skip

    async def work(tx: Tx) -> None:
        await residency.insert_codes(tx, rows)

    await mongo.transact(work)
    return LetterBatchOut(
        batch_id=batch, call_id=call["_id"], call_title=call["title"], municipality=manager.slug,
        municipality_name=muni.get("name", manager.slug), valid_until=valid_until, letters=letters,
    )  # fmt: skip


async def _open_call(src: Source, call_id: str) -> Doc:
    call = await calls.call(src, call_id)
    if call["status"] != "open":
        raise DomainError(
            "call_not_open", 409, f"the call is {call['status']}: residency can no longer be proved"
        )
    return call


def _verification(call_id: str, doc: Doc | None, methods: list[str]) -> VerificationOut:
    if doc is None:
        return VerificationOut(call_id=call_id, verified=False, methods=methods)  # type: ignore[arg-type]
    return VerificationOut(
        call_id=call_id, verified=True, method=doc["method"], postcode=doc.get("postcode"),
        verified_at=as_utc(doc.get("verified_at")), methods=methods,  # type: ignore[arg-type]
    )  # fmt: skip


async def verification(mongo: Mongo, principal: Principal, call_id: str) -> VerificationOut:
    call = await calls.call(mongo.db, call_id)
    methods = await methods_of(mongo.db, call["municipality"])
    return _verification(call_id, await residency.resident(mongo.db, call_id, principal.sub), methods)


@dataclass(frozen=True)
class _Proof:
    key: str  # the census entry or letter code digest
    method: str
    postcode: str


# Looks the proof up: (proof, None) when it matches, (None, the refusal) when it does not.
Finder = Callable[[Source, Doc, datetime], Awaitable[tuple[_Proof | None, DomainError | None]]]


async def _check_attempts(src: Source, call_id: str, account: str, now: datetime) -> None:
    row = await residency.attempts.get(src, f"{call_id}:{account}")
    refusal = row and domain.attempts_refusal(int(row["failures"]), as_utc(row["window_started"]), now)
    if refusal:
        raise DomainError("too_many_attempts", 429, refusal, headers={"Retry-After": "3600"})


async def _fail(mongo: Mongo, call_id: str, account: str, now: datetime, error: DomainError) -> DomainError:
    async def work(tx: Tx) -> None:
        row = await residency.attempts.get(tx, f"{call_id}:{account}")
        started = as_utc(row["window_started"]) if row else None
        fresh = started is None or now - started >= domain.ATTEMPT_WINDOW
        await residency.record_failure(tx, call_id, account, now, fresh)

    await mongo.transact(work)
    return error


async def _record(tx: Tx, call: Doc, account: str, proof: _Proof, now: datetime) -> Doc:
    """One proof, one account per call: a second account showing the same census entry or code
    is refused, the same account again is answered as verified."""
    use_key = f"{call['_id']}:{proof.key}"
    use = await residency.uses.get(tx, use_key)
    if use is not None and use["account"] != account:
        raise DomainError(
            "proof_already_used", 409,
            "this proof of residency already verified another account for this call",
        )  # fmt: skip
    if use is None:
        await residency.uses.insert(tx, {"_id": use_key, "account": account, "at": now})
    doc = {
        "_id": f"{call['_id']}:{account}", "call_id": call["_id"], "municipality": call["municipality"],
        "account": account, "method": proof.method, "postcode": proof.postcode, "verified_at": now,
    }  # fmt: skip
    await residency.residents.put(tx, doc)
    return doc


async def _claim(
    mongo: Mongo, principal: Principal, call_id: str, method: str, find: Finder
) -> VerificationOut:
    now = utcnow()
    call = await _open_call(mongo.db, call_id)
    methods = await methods_of(mongo.db, call["municipality"])
    if method not in methods:
        raise DomainError(
            "method_not_enabled", 409, f"{call['municipality']} does not verify residents by {method}"
        )
    existing = await residency.resident(mongo.db, call_id, principal.sub)
    if existing is not None:
        return _verification(call_id, existing, methods)
    await _check_attempts(mongo.db, call_id, principal.sub, now)
    proof, refusal = await find(mongo.db, call, now)
    if refusal is not None:
        raise await _fail(mongo, call_id, principal.sub, now, refusal)

    async def work(tx: Tx) -> Doc:
        doc = await _record(tx, call, principal.sub, proof, now)
        if method == "letter":
            await residency.codes.patch(tx, proof.key, {"used": True})
        return doc

    return _verification(call_id, await mongo.transact(work), methods)


async def claim_census(
    mongo: Mongo, principal: Principal, call_id: str, body: CensusClaimIn, pepper: str
) -> VerificationOut:
    async def find(src: Source, call: Doc, now: datetime) -> tuple[_Proof | None, DomainError | None]:
        salt = (await _settings(src, call["municipality"])).get("salt") or ""
        digest = domain.census_digest(pepper, salt, body.document_number, body.birth_date, body.postcode)
        entry = await residency.census.get(src, digest)
        if entry is None or entry["municipality"] != call["municipality"]:
            return None, DomainError(
                "not_in_census", 422,
                "no entry of the city's census matches this document number, birth date and postcode",
            )  # fmt: skip
        return _Proof(digest, "census", entry["postcode"]), None

    return await _claim(mongo, principal, call_id, "census", find)


async def claim_letter(
    mongo: Mongo, principal: Principal, call_id: str, body: LetterClaimIn, pepper: str
) -> VerificationOut:
    async def find(src: Source, call: Doc, now: datetime) -> tuple[_Proof | None, DomainError | None]:
        digest = domain.code_digest(pepper, body.code)
        code = await residency.codes.get(src, digest)
        if code is None or code["call_id"] != call["_id"]:
            return None, DomainError("unknown_code", 422, "this code is not one of the letters for this call")
        expires = as_utc(code["expires_at"])
        if expires is not None and expires <= now:
            return None, DomainError("code_expired", 410, "this code has expired")
        return _Proof(digest, "letter", code["postcode"]), None

    return await _claim(mongo, principal, call_id, "letter", find)
