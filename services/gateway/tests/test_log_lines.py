"""Log lines (servicekit.logging, every service's): one JSON object per line, rendered by orjson,
with what the stdlib's json rendered; loggers are cached on first use, so a later
configure_logging (each app start calls it) and a swapped sys.stdout must still reach them."""

from __future__ import annotations

import datetime
import io
import json
import re

import pytest

from servicekit.logging import configure_logging, get_logger


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_line_has_the_same_content_as_before(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("svc-lines", "INFO", json=True)
    when = datetime.datetime(2026, 12, 1, 22, 0, tzinfo=datetime.UTC)
    get_logger("test").info(
        "hello", n=1, ratio=0.25, name="Cinéma", when=when, big=2**70, keyed={1: "a"}, raw=b"x"
    )
    (line,) = _lines(capsys.readouterr().out)
    assert {k: line[k] for k in ("event", "service", "level", "n", "ratio", "name")} == {
        "event": "hello",
        "service": "svc-lines",
        "level": "info",
        "n": 1,
        "ratio": 0.25,
        "name": "Cinéma",
    }
    # What json.dumps with structlog's fallback (repr) gave for these.
    assert line["when"] == repr(when)
    assert line["big"] == 2**70
    assert line["keyed"] == {"1": "a"}
    assert line["raw"] == "b'x'"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", line["timestamp"])


def test_a_value_with_a_unicode_line_break_stays_on_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("svc-lines", "INFO", json=True)
    path = "/campaigns/m\u2028x\u2029y\x85z\u20acé"
    get_logger("test").info("request", path=path)
    out = capsys.readouterr().out
    (line,) = _lines(out)  # str.splitlines breaks at U+2028, U+2029 and U+0085
    assert line["path"] == path
    assert "\\u2028" in out and "€é" in out  # only the line breaks are escaped


def test_configuring_again_reaches_loggers_already_used(capsys: pytest.CaptureFixture[str]) -> None:
    log = get_logger("test.reconfigure")
    configure_logging("svc-first", "INFO", json=True)
    log.info("one")
    bound = log.bind(extra="kept")
    configure_logging("svc-second", "WARNING", json=True)
    log.info("filtered now")
    log.warning("two")
    bound.warning("three")
    lines = _lines(capsys.readouterr().out)
    assert [(x["event"], x["service"]) for x in lines] == [
        ("one", "svc-first"),
        ("two", "svc-second"),
        ("three", "svc-second"),
    ]
    assert lines[2]["extra"] == "kept"


def test_lines_follow_a_swapped_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    configure_logging("svc-swap", "INFO", json=True)
    log = get_logger("test.swap")
    log.info("before the swap")
    swapped = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    monkeypatch.setattr("sys.stdout", swapped)
    print("printed first")
    log.info("after the swap")
    swapped.flush()
    text = swapped.buffer.getvalue().decode()  # type: ignore[attr-defined]
    assert text.splitlines()[0] == "printed first"
    assert [x["event"] for x in _lines(text)] == ["after the swap"]


def test_console_lines_when_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("svc-console", "INFO", json=False)
    get_logger("test.console").info("readable", n=1)
    out = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)
    assert "readable" in out and "n=1" in out and not out.lstrip().startswith("{")
