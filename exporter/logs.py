"""Logging set-up: one JSON object or one logfmt line per record, never free text.

Both formats carry the same fields: ts, level, logger, msg, then the record's `extra=` fields
(and `exc` with the traceback), so log pipelines need no parsing rules of their own.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

import orjson

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# The spellings of --log.format and --log.level (promslog's), and the aliases kept from before.
LOG_FORMATS = ("logfmt", "json")
FORMAT_ALIASES = {"text": "logfmt"}
LOG_LEVELS = ("debug", "info", "warn", "error")
LEVEL_ALIASES = {"warning": "warn"}
_PYTHON_LEVELS = {"debug": "DEBUG", "info": "INFO", "warn": "WARNING", "error": "ERROR"}
# A logfmt value is quoted when it is empty or holds a space, `=`, `"`, a backslash or a
# control character; keys lose such characters altogether.
_NEEDS_QUOTES = re.compile(r'[\s="\\\x00-\x1f\x7f]')
_BAD_KEY = re.compile(r'[\s="\\\x00-\x1f\x7f]+')


def fields(record: logging.LogRecord, exc_text: str | None) -> dict[str, Any]:
    """Time, level, logger, message, the `extra=` fields and the traceback, in that order."""
    out: dict[str, Any] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        + f".{int(record.msecs):03d}Z",
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
    if exc_text:
        out["exc"] = exc_text
    return out


class JSONFormatter(logging.Formatter):
    """Time, level, logger, message and any `extra=` fields, as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record; exceptions go into an `exc` field."""
        exc = self.formatException(record.exc_info) if record.exc_info else None
        return orjson.dumps(fields(record, exc), default=str).decode()


def logfmt_value(value: object) -> str:
    """One value as logfmt writes it: bare when it can be, else a quoted, escaped string."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, str | int | float):
        text = str(value)
    else:  # lists, mappings and the rest: compact JSON, readable and unambiguous
        text = orjson.dumps(value, default=str).decode()
    if text and not _NEEDS_QUOTES.search(text):
        return text
    return orjson.dumps(text).decode()  # JSON string escaping is logfmt's: \" \\ \n \t \uXXXX


def logfmt_key(key: str) -> str:
    """A key with the characters logfmt cannot hold in one replaced by `_`."""
    return _BAD_KEY.sub("_", key) or "_"


class LogfmtFormatter(logging.Formatter):
    """The same fields as JSONFormatter, as `key=value` pairs on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record; exceptions go into an `exc` field, newlines escaped."""
        exc = self.formatException(record.exc_info) if record.exc_info else None
        return " ".join(
            f"{logfmt_key(k)}={logfmt_value(v)}" for k, v in fields(record, exc).items()
        )


def canonical_format(fmt: str) -> str:
    """logfmt or json, from a --log.format value or its alias."""
    fmt = FORMAT_ALIASES.get(fmt.lower(), fmt.lower())
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format {fmt!r}: expected one of {', '.join(LOG_FORMATS)}")
    return fmt


def canonical_level(level: str) -> str:
    """debug, info, warn or error, from a --log.level (or config log_level) value or alias."""
    level = LEVEL_ALIASES.get(level.lower(), level.lower())
    if level not in LOG_LEVELS:
        raise ValueError(f"log level {level!r}: expected one of {', '.join(LOG_LEVELS)}")
    return level


def set_level(level: str) -> None:
    """The root logger's level, as a reloaded log_level asks."""
    logging.getLogger().setLevel(_PYTHON_LEVELS[canonical_level(level)])


def setup_logging(fmt: str = "json", level: str = "info") -> None:
    """Route the root logger to stderr in the chosen format (aliases accepted)."""
    handler = logging.StreamHandler(sys.stderr)
    json = canonical_format(fmt) == "json"
    handler.setFormatter(JSONFormatter() if json else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    set_level(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # numpy's RuntimeWarnings too, as structured lines. Released first: a second call (a
    # reload) must hook warnings again even if something replaced warnings.showwarning since,
    # which captureWarnings(True) alone skips when it believes it is still hooked.
    logging.captureWarnings(False)
    logging.captureWarnings(True)
