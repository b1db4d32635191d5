"""Developer tool for the French catalogs: `python -m web.catalog missing` lists every message
of the templates and page modules that has no French translation yet (with where it is used);
`python -m web.catalog stub <feature>` appends those of `templates/<feature>/` and
`pages/<feature>.py` to `translations/fr/<feature>.po` with an empty translation to fill in.
The test suite fails on any missing or empty translation."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from .i18n import TRANSLATIONS_DIR

HERE = Path(__file__).parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def source_files() -> Iterator[tuple[Path, str]]:
    for path in sorted((HERE / "templates").rglob("*.html")):
        yield path, "jinja2"
    for path in sorted((HERE / "pages").rglob("*.py")):
        yield path, "python"
    for path in sorted(HERE.glob("*.py")):
        yield path, "python"


def extracted() -> dict[str, list[str]]:
    """msgid -> files using it (plural forms: the singular)."""
    found: dict[str, list[str]] = {}
    for path, method in source_files():
        options = {"extensions": "jinja2.ext.i18n", "trimmed": "true"} if method == "jinja2" else {}
        method_name = "jinja2.ext:babel_extract" if method == "jinja2" else "python"
        for _lineno, message, _comments, _context in extract_from_file(
            method_name, str(path), keywords=KEYWORDS, options=options
        ):
            msgid = message[0] if isinstance(message, tuple) else message
            if msgid:
                found.setdefault(msgid, []).append(str(path.relative_to(HERE)))
    return found


def translated(locale: str = "fr") -> dict[str, str]:
    result: dict[str, str] = {}
    for path in sorted((TRANSLATIONS_DIR / locale).glob("*.po")):
        with path.open("rb") as fh:
            for message in read_po(fh, locale=locale):
                if not message.id:
                    continue
                msgid = message.id[0] if isinstance(message.id, tuple) else message.id
                text = message.string[0] if isinstance(message.string, tuple) else message.string
                result[msgid] = text or ""
    return result


def missing(locale: str = "fr") -> dict[str, list[str]]:
    have = translated(locale)
    return {msgid: files for msgid, files in extracted().items() if not have.get(msgid)}


def _po_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def stub(feature: str, locale: str = "fr") -> int:
    todo = {
        m: f for m, f in missing(locale).items()
        if any(x.startswith(f"templates/{feature}/") or x == f"pages/{feature}.py" for x in f)
    }  # fmt: skip
    have = translated(locale)
    target = TRANSLATIONS_DIR / locale / f"{feature}.po"
    new = not target.exists()
    with target.open("a", encoding="utf-8") as fh:
        if new:
            fh.write(
                'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: fr\\n"\n\n'
            )
        for msgid, files in sorted(todo.items()):
            if msgid in have:
                continue  # present but empty elsewhere: fill it there
            fh.write(f'#: {" ".join(sorted(set(files)))}\nmsgid "{_po_escape(msgid)}"\nmsgstr ""\n\n')
    return len(todo)


def main(argv: list[str]) -> int:
    if argv[:1] == ["missing"]:
        todo = missing()
        for msgid, files in sorted(todo.items(), key=lambda kv: kv[1][0]):
            print(f"{', '.join(sorted(set(files)))}: {msgid!r}")
        print(f"{len(todo)} messages without a French translation")
        return 1 if todo else 0
    if argv[:1] == ["stub"] and len(argv) == 2:
        print(f"{stub(argv[1])} messages added to translations/fr/{argv[1]}.po")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
