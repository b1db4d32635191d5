"""Residency routes: the city's methods, census and letters (managers); a resident's proof for
a call (any signed-in person, for themself)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from servicekit.errors import DomainError

from ..access import CallRunner, OfficialsReader
from ..deps import MongoDep, PrincipalDep, SettingsDep
from ..fields import Id
from . import usecases
from .models import (
    CensusClaimIn,
    CensusUploadOut,
    LetterBatchIn,
    LetterBatchOut,
    LetterClaimIn,
    ResidencyOut,
    ResidencySettingsIn,
    VerificationOut,
)

router = APIRouter(tags=["residency"])

CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "document_number,birth_date,postcode\nAB123456,1984-03-02,93100\n",
            }
        },
    }
}


@router.get("/municipalities/{slug}/residency", response_model=ResidencyOut)
async def residency_overview(official: OfficialsReader, mongo: MongoDep) -> ResidencyOut:
    """How the city verifies residents, the size of its census, letters made and used."""
    return await usecases.overview(mongo, official)


@router.put("/municipalities/{slug}/residency", response_model=ResidencyOut)
async def configure_residency(
    body: ResidencySettingsIn, manager: CallRunner, mongo: MongoDep
) -> ResidencyOut:
    """Choose the proofs of residency the city accepts for its votes (managers)."""
    return await usecases.configure(mongo, manager, body)


@router.put(
    "/municipalities/{slug}/residency/census",
    response_model=CensusUploadOut,
    openapi_extra=CSV_BODY,
    responses={
        400: {"description": "the body is not UTF-8 CSV"},
        413: {"description": "the file is too big"},
        415: {"description": "the body is not text/csv"},
    },
)
async def upload_census(
    request: Request, manager: CallRunner, mongo: MongoDep, settings: SettingsDep
) -> CensusUploadOut:
    """Replace the city's census with a CSV file (columns document_number, birth_date as
    YYYY-MM-DD, postcode). Only keyed hashes of each row are stored; refused rows are listed by
    line number with the reason."""
    if not request.headers.get("content-type", "").startswith("text/csv"):
        raise DomainError("unsupported_media_type", 415, "send the census as text/csv")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > usecases.MAX_CENSUS_BYTES:
            raise DomainError("payload_too_large", 413, "a census file is at most 64 MB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DomainError("bad_census_file", 400, "the census must be UTF-8 text") from exc
    return await usecases.upload_census(mongo, manager, text, settings.residency_pepper)


@router.post("/municipalities/{slug}/residency/letters", status_code=201, response_model=LetterBatchOut)
async def make_letters(
    body: LetterBatchIn, manager: CallRunner, mongo: MongoDep, settings: SettingsDep
) -> LetterBatchOut:
    """Make one letter per address, each with its own code, for the city to print and post. The
    codes are in this answer only (stored as hashes)."""
    return await usecases.make_letters(mongo, manager, body, settings.residency_pepper)


@router.get("/calls/{call_id}/residency", response_model=VerificationOut)
async def my_residency(call_id: Id, principal: PrincipalDep, mongo: MongoDep) -> VerificationOut:
    """Whether the caller has proved residency for this call, and which proofs the city takes."""
    return await usecases.verification(mongo, principal, call_id)


@router.post(
    "/calls/{call_id}/residency/census",
    response_model=VerificationOut,
    responses={429: {"description": "too many attempts that matched nothing"}},
)
async def prove_by_census(
    call_id: Id, body: CensusClaimIn, principal: PrincipalDep, mongo: MongoDep, settings: SettingsDep
) -> VerificationOut:
    """Prove residency with the census: document number, birth date and postcode as the city's
    file has them. One census entry verifies one account per call."""
    return await usecases.claim_census(mongo, principal, call_id, body, settings.residency_pepper)


@router.post(
    "/calls/{call_id}/residency/letter",
    response_model=VerificationOut,
    responses={410: {"description": "the code has expired"}, 429: {"description": "too many attempts"}},
)
async def prove_by_letter(
    call_id: Id, body: LetterClaimIn, principal: PrincipalDep, mongo: MongoDep, settings: SettingsDep
) -> VerificationOut:
    """Prove residency with the code of the letter the city posted. One code verifies one
    account per call."""
    return await usecases.claim_letter(mongo, principal, call_id, body, settings.residency_pepper)
