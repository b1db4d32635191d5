"""Residency verification rules, pure.

Census: the city uploads its electoral roll or residents' file as CSV (document number, birth
date, postcode). Only a keyed hash of the three normalised fields is kept (HMAC-SHA256 under the
service's pepper and a random salt per city): a leaked database gives no name, number or date,
and a guess cannot be checked without the pepper. Raw rows never reach the datastore.

Letters: the platform makes one code per address for the city to print and post; the resident
types it in. Codes are random (50 bits, Crockford base32 so 0/O and 1/I/L do not matter), stored
as hashes, single-use per call and expire.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

METHODS = ("census", "letter")
CENSUS_COLUMNS = ("document_number", "birth_date", "postcode")
MAX_FAILED_ATTEMPTS = 5
ATTEMPT_WINDOW = timedelta(hours=1)
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10


class CensusError(ValueError):
    """A census file that cannot be read at all (not a row-level problem)."""


def normalise_document(number: str) -> str:
    return re.sub(r"[\s.-]", "", number).upper()


def normalise_postcode(postcode: str) -> str:
    return re.sub(r"\s", "", postcode).upper()


def census_digest(pepper: str, salt: str, document_number: str, birth_date: date, postcode: str) -> str:
    key = f"{normalise_document(document_number)}|{birth_date.isoformat()}|{normalise_postcode(postcode)}"
    return hmac.new(f"{pepper}:{salt}".encode(), key.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class CensusRow:
    digest: str
    postcode: str


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str


def parse_census(
    text: str, pepper: str, salt: str, postcode_allowed: frozenset[str] | None
) -> tuple[list[CensusRow], list[RejectedRow]]:
    """Hash every usable row; say which rows were refused and why (by line number, never by
    content, so the answer repeats no personal data). `postcode_allowed` None accepts any."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in CENSUS_COLUMNS if c not in header]
    if missing:
        raise CensusError(
            f"the first line must name the columns {', '.join(CENSUS_COLUMNS)} (missing: {', '.join(missing)})"
        )
    reader.fieldnames = header
    rows: list[CensusRow] = []
    rejected: list[RejectedRow] = []
    seen: set[str] = set()
    for line, raw in enumerate(reader, start=2):
        document = (raw.get("document_number") or "").strip()
        postcode = normalise_postcode(raw.get("postcode") or "")
        try:
            born = date.fromisoformat((raw.get("birth_date") or "").strip())
        except ValueError:
            rejected.append(RejectedRow(line, "birth_date is not a date (YYYY-MM-DD)"))
            continue
        if not re.fullmatch(r"[A-Za-z0-9 .-]{4,40}", document):
            rejected.append(RejectedRow(line, "document_number must be 4 to 40 letters or digits"))
            continue
        if not re.fullmatch(r"[A-Z0-9-]{2,10}", postcode):
            rejected.append(RejectedRow(line, "postcode is missing or malformed"))
            continue
        if postcode_allowed is not None and postcode not in postcode_allowed:
            rejected.append(RejectedRow(line, "postcode is not on the city's territory"))
            continue
        digest = census_digest(pepper, salt, document, born, postcode)
        if digest in seen:
            rejected.append(RejectedRow(line, "the same person appears on an earlier line"))
            continue
        seen.add(digest)
        rows.append(CensusRow(digest, postcode))
    return rows, rejected


def new_letter_code() -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """What a resident types: any case, spaces or dashes, O for 0 and I/L for 1."""
    cleaned = re.sub(r"[\s-]", "", code).upper()
    return cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"}))


def display_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def code_digest(pepper: str, code: str) -> str:
    return hmac.new(pepper.encode(), normalise_code(code).encode(), hashlib.sha256).hexdigest()


def attempts_refusal(failures: int, window_started: datetime | None, now: datetime) -> str | None:
    """Why the caller may not try again now (guessing a census entry or a code), or None."""
    if window_started is None or now - window_started >= ATTEMPT_WINDOW:
        return None
    if failures >= MAX_FAILED_ATTEMPTS:
        wait = int((window_started + ATTEMPT_WINDOW - now).total_seconds() // 60) + 1
        return f"too many attempts that matched nothing: try again in {wait} min"
    return None
