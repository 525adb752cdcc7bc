"""Typed readers for raw YAML values; every failure names the key path it came from."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from typing import TypeVar

T = TypeVar("T")

Reader = Callable[[object, str], T]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_REFERENCE = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_VARIABLE = re.compile(rf"({_NAME})(?::-(.*))?", re.DOTALL)

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")
DURATION_HINT = "seconds, or a string like 30s, 10m, 1h30m, 500ms"


class ConfigError(ValueError):
    """A config problem; the message starts with the key path so the user can find it."""

    def __init__(self, path: str, reason: str | None = None) -> None:
        # ConfigError("models[0].x: message") also works, for callers with a ready-made message.
        if reason is None:
            path, _, reason = path.partition(": ")
        super().__init__(f"{path}: {reason}" if reason else path)
        self.path = path
        self.reason = reason


def join(path: str, key: str) -> str:
    """The path of key inside the mapping at path, e.g. models[0].window."""
    return f"{path}.{key}" if path else key


def index(path: str, i: int) -> str:
    """The path of item i inside the list at path, e.g. models[0]."""
    return f"{path}[{i}]"


def describe(value: object) -> str:
    """A YAML-ish type name for error messages, so users see their own vocabulary."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def expand_env(value: object, path: str, environ: Mapping[str, str]) -> object:
    """Copy of a parsed YAML tree with ${VAR} expanded in every string value."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(path or "<root>", f"keys must be strings, got {describe(key)}")
            out[key] = expand_env(item, join(path, key), environ)
        return out
    if isinstance(value, list):
        return [expand_env(item, index(path, i), environ) for i, item in enumerate(value)]
    if isinstance(value, str):
        return expand_string(value, path, environ)
    return value


def expand_string(text: str, path: str, environ: Mapping[str, str]) -> str:
    """Expand ${VAR} and ${VAR:-default} (default when unset or empty); $$ is a literal $."""

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$$":
            return "$"
        if match.group(1) is None:
            raise ConfigError(path, f"unterminated '${{' in {text!r} (write $$ for a literal $)")
        ref = _VARIABLE.fullmatch(match.group(1))
        if ref is None:
            hint = "use ${NAME} or ${NAME:-default}"
            raise ConfigError(path, f"invalid variable reference {token!r} ({hint})")
        name, default = ref.group(1), ref.group(2)
        current = environ.get(name)
        if default is not None:
            return current if current else default
        if current is None:
            hint = f"use ${{{name}:-default}} for a default"
            raise ConfigError(path, f"environment variable {name} is not set ({hint})")
        return current

    return _REFERENCE.sub(substitute, text)


def mapping(value: object, path: str, allowed: Collection[str]) -> dict[str, object]:
    """A mapping whose keys are all in allowed; null counts as empty so a blank section is fine."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(path or "<root>", f"must be a mapping, got {describe(value)}")
    expected = ", ".join(sorted(allowed))
    for key in value:
        if key not in allowed:
            raise ConfigError(join(path, str(key)), f"unknown key (expected one of: {expected})")
    return value


def items(value: object, path: str) -> list[object]:
    """A YAML list; anything else is a type error at path."""
    if not isinstance(value, list):
        raise ConfigError(path, f"must be a list, got {describe(value)}")
    return value


def optional(raw: Mapping[str, object], path: str, key: str, read: Reader[T], fallback: T) -> T:
    """raw[key] read with read, or fallback when the key is absent."""
    if key not in raw:
        return fallback
    return read(raw[key], join(path, key))


def required(raw: Mapping[str, object], path: str, key: str, read: Reader[T], hint: str = "") -> T:
    """raw[key] read with read; a missing key is an error naming it."""
    if key not in raw:
        raise ConfigError(join(path, key), f"is required{f' ({hint})' if hint else ''}")
    return read(raw[key], join(path, key))


def string(value: object, path: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str):
        raise ConfigError(path, f"must be a string, got {describe(value)}")
    if not value:
        raise ConfigError(path, "must not be empty")
    return value


def optional_string(value: object, path: str) -> str | None:
    """A string where null or empty (e.g. ${VAR:-}) means unset."""
    if value is None or value == "":
        return None
    return string(value, path)


def scalar_string(value: object, path: str) -> str:
    """A label-like scalar as text: numbers are stringified, booleans spelled as in YAML/JSON."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value
    raise ConfigError(path, f"must be a string or number, got {describe(value)}")


def number(value: object, path: str) -> float:
    """A finite number (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(path, f"must be a number, got {describe(value)}")
    if not math.isfinite(value):
        raise ConfigError(path, f"must be a finite number, got {value!r}")
    return float(value)


def positive_number(value: object, path: str) -> float:
    """A number > 0."""
    result = number(value, path)
    if result <= 0:
        raise ConfigError(path, f"must be positive, got {value!r}")
    return result


def fraction(value: object, path: str) -> float:
    """A number strictly between 0 and 1."""
    result = number(value, path)
    if not 0 < result < 1:
        raise ConfigError(path, f"must be between 0 and 1 (exclusive), got {value!r}")
    return result


def share(value: object, path: str) -> float:
    """A number in (0, 1]."""
    result = number(value, path)
    if not 0 < result <= 1:
        raise ConfigError(path, f"must be greater than 0 and at most 1, got {value!r}")
    return result


def integer_at_least(minimum: int) -> Reader[int]:
    """A reader for integers >= minimum, so each key states its own floor."""

    def read(value: object, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, f"must be an integer, got {describe(value)}")
        if value < minimum:
            floor = "positive" if minimum == 1 else f"at least {minimum}"
            raise ConfigError(path, f"must be {floor}, got {value}")
        return value

    return read


positive_int = integer_at_least(1)


def parse_duration(text: str) -> float | None:
    """Seconds for '90', '1.5', '30s', '1h30m', '500ms'...; None when text is not a duration."""
    text = text.strip()
    if _PLAIN_NUMBER.fullmatch(text):
        return float(text)
    if not _DURATION.fullmatch(text):
        return None
    return sum(float(amount) * _UNIT_SECONDS[unit] for amount, unit in _DURATION_PART.findall(text))


def duration(value: object, path: str) -> float:
    """A positive duration in seconds, given as a number or a unit string."""
    if isinstance(value, str):
        seconds = parse_duration(value)
        if seconds is None:
            raise ConfigError(path, f"invalid duration {value!r} (use {DURATION_HINT})")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = number(value, path)
    else:
        raise ConfigError(path, f"must be a duration ({DURATION_HINT}), got {describe(value)}")
    if seconds <= 0:
        raise ConfigError(path, f"must be a positive duration, got {value!r}")
    return seconds


def optional_duration(value: object, path: str) -> float | None:
    """A duration where null means unset."""
    return None if value is None else duration(value, path)


def choice(options: Collection[str]) -> Reader[str]:
    """A reader for one string out of options, listing them when the value is wrong."""

    def read(value: object, path: str) -> str:
        if not isinstance(value, str) or value not in options:
            raise ConfigError(path, f"must be one of: {', '.join(options)} (got {describe(value)})")
        return value

    return read
