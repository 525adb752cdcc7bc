"""The value types keys are declared with; each rejects a value in the user's vocabulary.

Pydantic would coerce "5" to 5 and word its errors in Python's terms, so every type here
checks the raw YAML value itself and raises ConfigError; the Field constraints beside the
checks only describe the type in config/schema.json.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, Field, ValidationInfo, WithJsonSchema

from exporter.config.keys import ConfigError, describe

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+"
_PLAIN_NUMBER = r"\d+(?:\.\d+)?"
T = TypeVar("T")
DURATION_HINT = "seconds, or a string like 30s, 10m, 1h30m, 500ms"


def text(value: object) -> str:
    """A non-empty string."""
    if not isinstance(value, str):
        raise ConfigError("", f"must be a string, got {describe(value)}")
    if not value:
        raise ConfigError("", "must not be empty")
    return value


def optional_text(value: object) -> str | None:
    """Null or empty (e.g. ${VAR:-}) means unset."""
    return None if value is None or value == "" else text(value)


def label(value: object) -> str:
    """Numbers and booleans are compared as text, booleans spelled as in YAML."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str):
        return str(value)
    raise ConfigError("", f"must be a string or number, got {describe(value)}")


def number(value: object) -> float:
    """Booleans are not numbers here, and neither are inf and nan."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError("", f"must be a number, got {describe(value)}")
    if not math.isfinite(value):
        raise ConfigError("", f"must be a finite number, got {value!r}")
    return float(value)


def number_where(test: Callable[[float], bool], rule: str) -> Callable[[object], float]:
    """A number reader that rejects numbers failing test, saying rule."""

    def read(value: object) -> float:
        if not test(result := number(value)):
            raise ConfigError("", f"must be {rule}, got {value!r}")
        return result

    return read


def at_least(minimum: int) -> Callable[[object], int]:
    """An integer reader with a floor, so each key states its own."""

    def read(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError("", f"must be an integer, got {describe(value)}")
        if value < minimum:
            floor = "positive" if minimum == 1 else f"at least {minimum}"
            raise ConfigError("", f"must be {floor}, got {value}")
        return value

    return read


def parse_duration(value: str) -> float | None:
    """Seconds for '90', '1.5', '30s', '1h30m', '500ms'...; None when text is not a duration."""
    value = value.strip()
    if re.fullmatch(_PLAIN_NUMBER, value):
        return float(value)
    if not re.fullmatch(_DURATION, value):
        return None
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", value)
    return sum(float(amount) * _UNIT_SECONDS[unit] for amount, unit in parts)


def duration(value: object) -> float:
    """A positive number of seconds, or a string with units."""
    if isinstance(value, str):
        seconds = parse_duration(value)
        if seconds is None:
            raise ConfigError("", f"invalid duration {value!r} (use {DURATION_HINT})")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = number(value)
    else:
        raise ConfigError("", f"must be a duration ({DURATION_HINT}), got {describe(value)}")
    if seconds <= 0:
        raise ConfigError("", f"must be a positive duration, got {value!r}")
    return seconds


def one_of(options: Sequence[str]) -> Callable[[object], str]:
    """A reader for one string of options, listing them when the value is wrong."""

    def read(value: object) -> str:
        if not isinstance(value, str) or value not in options:
            raise ConfigError("", f"must be one of: {', '.join(options)} (got {describe(value)})")
        return value

    return read


def listed(empty: str) -> Callable[[object], list[Any]]:
    """A YAML list reader; empty is the reason an empty list is refused."""

    def read(value: object) -> list[Any]:
        if not isinstance(value, list):
            raise ConfigError("", f"must be a list, got {describe(value)}")
        if not value:
            raise ConfigError("", empty)
        return value

    return read


def distinct_labels(value: object) -> tuple[str, ...]:
    """A non-empty list of distinct labels, stringified."""
    result = tuple(item(i, label, v) for i, v in enumerate(listed("must not be empty")(value)))
    for i, found in enumerate(result):
        if found in result[:i]:
            raise ConfigError(f"[{i}]", f"duplicate value {found!r}")
    return result


def item(i: int, read: Callable[[object], T], value: object) -> T:
    """read(value) for item i of a list, an error naming the item."""
    try:
        return read(value)
    except ConfigError as exc:
        raise ConfigError(f"[{i}]", exc.reason) from None


def file_path(value: object, info: ValidationInfo) -> str | None:
    """Relative paths are taken from the config file's directory, as users expect."""
    found = optional_text(value)
    if found is None or info.context is None:
        return found
    found = os.path.expanduser(found)
    base_dir = str(info.context.get("base_dir", "."))
    return found if os.path.isabs(found) else os.path.normpath(os.path.join(base_dir, found))


_DURATION_SCHEMA = {
    "description": f"A duration: {DURATION_HINT}.",
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": rf"^\s*({_PLAIN_NUMBER}|{_DURATION})\s*$"},
        {"type": "string", "pattern": r"\$\{"},
    ],
}
_LABEL_SCHEMA = {"type": ["string", "number", "boolean"]}

Text = Annotated[str, Field(min_length=1), BeforeValidator(text)]
OptionalText = Annotated[str | None, BeforeValidator(optional_text)]
Label = Annotated[str, BeforeValidator(label), WithJsonSchema(_LABEL_SCHEMA)]
Labels = Annotated[
    tuple[str, ...],
    BeforeValidator(distinct_labels),
    WithJsonSchema({"type": "array", "minItems": 1, "uniqueItems": True, "items": _LABEL_SCHEMA}),
]
Number = Annotated[float, BeforeValidator(number)]
Positive = Annotated[float, Field(gt=0), BeforeValidator(number_where(lambda x: x > 0, "positive"))]
NonNegative = Annotated[
    float, Field(ge=0), BeforeValidator(number_where(lambda x: x >= 0, "at least 0"))
]
Fraction = Annotated[
    float,
    Field(gt=0, lt=1),
    BeforeValidator(number_where(lambda x: 0 < x < 1, "between 0 and 1 (exclusive)")),
]
Share = Annotated[
    float,
    Field(gt=0, le=1),
    BeforeValidator(number_where(lambda x: 0 < x <= 1, "greater than 0 and at most 1")),
]
PositiveInt = Annotated[int, Field(ge=1), BeforeValidator(at_least(1))]
Duration = Annotated[float, BeforeValidator(duration), WithJsonSchema(_DURATION_SCHEMA)]
File = Annotated[str | None, BeforeValidator(file_path)]
