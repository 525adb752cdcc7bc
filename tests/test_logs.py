"""Log lines as pipelines read them: logfmt pairs or JSON objects with the same fields."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterator

import orjson
import pytest

from exporter.logs import JSONFormatter, LogfmtFormatter, logfmt_value, setup_logging

PAIR = re.compile(r'([^\s="]+)=("(?:[^"\\]|\\.)*"|[^\s="]+)(?: |$)')


def parse_logfmt(line: str) -> dict[str, str]:
    """key=value pairs back into a dict, quoted values unescaped; the whole line must parse."""
    pairs = PAIR.findall(line)
    assert " ".join(f"{k}={v}" for k, v in pairs) == line, f"not logfmt: {line!r}"
    return {k: orjson.loads(v) if v.startswith('"') else v for k, v in pairs}


def record(msg: str, level: int = logging.WARNING, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("exporter.test", level, __file__, 1, msg, None, None)
    rec.__dict__.update(extra)
    return rec


def test_logfmt_lines_carry_ts_level_logger_msg_then_the_extra_fields() -> None:
    line = LogfmtFormatter().format(record("reference loaded", model="fraud", rows=300))
    fields = parse_logfmt(line)
    assert list(fields) == ["ts", "level", "logger", "msg", "model", "rows"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", fields["ts"])
    assert fields["level"] == "warning" and fields["logger"] == "exporter.test"
    assert (fields["msg"], fields["model"], fields["rows"]) == ("reference loaded", "fraud", "300")


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("two words", '"two words"'),
        ("a=b", '"a=b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("line\nbreak", '"line\\nbreak"'),
        ("back\\slash", '"back\\\\slash"'),
        ("", '""'),
        (None, "null"),
        (True, "true"),
        (2.5, "2.5"),
        (["fraud", "eta"], '"[\\"fraud\\",\\"eta\\"]"'),
    ],
)
def test_logfmt_values_are_bare_when_they_can_be_and_quoted_and_escaped_otherwise(
    value: object, written: str
) -> None:
    assert logfmt_value(value) == written


def test_an_exception_is_one_escaped_logfmt_field_not_extra_lines() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
        rec.exc_info = sys.exc_info()
    line = LogfmtFormatter().format(rec)
    assert "\n" not in line
    assert parse_logfmt(line)["exc"].endswith("RuntimeError: boom")


def test_json_and_logfmt_carry_the_same_fields() -> None:
    rec = record("evaluated", model="m", seconds=0.25)
    assert orjson.loads(JSONFormatter().format(rec)) == {
        **parse_logfmt(LogfmtFormatter().format(rec)),
        "seconds": 0.25,
    }


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """What was written to stderr so far; the root logger is restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield lambda: capsys.readouterr().err
    root.handlers[:], root.level = handlers, level


@pytest.mark.parametrize("level", ["warn", "warning", "WARN"])
def test_log_level_warn_keeps_warnings_and_drops_info(
    stderr: Callable[[], str], level: str
) -> None:
    setup_logging("logfmt", level)
    logging.getLogger("exporter.test").info("hidden")
    logging.getLogger("exporter.test").warning("shown", extra={"key": "ref:m"})
    (line,) = stderr().splitlines()
    assert parse_logfmt(line)["msg"] == "shown" and parse_logfmt(line)["key"] == "ref:m"


def test_log_format_text_is_logfmt(stderr: Callable[[], str]) -> None:
    setup_logging("text", "info")
    logging.getLogger("exporter.test").info("started", extra={"port": 10135})
    assert parse_logfmt(stderr().strip())["port"] == "10135"
