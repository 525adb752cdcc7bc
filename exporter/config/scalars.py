"""The value types keys are declared with: pydantic's strict types, plus the few rules it lacks.

Type errors are worded in keys.WORDING; the readers here reject values pydantic cannot judge.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)

from exporter.classes import class_key
from exporter.config.keys import ConfigError, describe
from exporter.yamlfile import BoolWord, NumberWord, WrittenFloat, WrittenInt

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+"
_PLAIN_NUMBER = r"\d+(?:\.\d+)?"
_OUTSIDE = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")
DURATION_HINT = "seconds, or a string like 30s, 10m, 1h30m, 500ms"
# 100 years. Longer passed the check and broke at run time: a window or label horizon past
# 1970 became a negative stream ID, an interval past timedelta's range an OverflowError.
MAX_DURATION_SECONDS = 36525 * 86400.0


def text(value: object) -> str:
    """A non-empty string."""
    if not isinstance(value, str):
        raise ConfigError("", f"must be a string, got {describe(value)}")
    if not value:
        raise ConfigError("", "must not be empty")
    return value


_YAML12_INT = re.compile(r"[-+]?[0-9]+")
_YAML12_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_YAML12_BOOL = {"true": True, "false": False}
# A number as JSON (or a person) writes it: no leading zeros, no 0x, no _ or 1:30.
_DECIMAL = re.compile(
    r"[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)


class ExpandedWord(str):
    """Text an environment variable made (`${PORT:-9100}`): the text, and `scalar`, what YAML
    1.2 reads it as (a number, true or false; None for other text), for a key that takes a
    number or a flag, as the same value written in the file would be; a password of digits
    stays text."""

    scalar: bool | int | float | None

    def __new__(cls, text: str) -> ExpandedWord:
        """The expanded text, with the scalar it spells."""
        word = super().__new__(cls, text)
        bare = text.strip()
        if _YAML12_INT.fullmatch(bare):
            word.scalar = int(bare)
        elif _YAML12_FLOAT.fullmatch(bare):
            word.scalar = float(bare)
        else:
            word.scalar = _YAML12_BOOL.get(bare.lower())
        return word


def label(value: object) -> str:
    """A class or category as the key records' values get (exporter.classes.class_key), so
    `1.0` here is the class of 1, 1.0 and "1" on the wire and in the reference; an unquoted
    yes/no/on/off is the text written (yamlfile.BoolWord), as `NO` is Norway's code, and so is
    a number JSON cannot write that way (`010`, `07`): a record can only send it as text."""
    if isinstance(value, WrittenInt | WrittenFloat) and not _DECIMAL.fullmatch(value.text):
        return value.text
    if isinstance(value, bool | int | float | str):
        return class_key(value)
    raise ConfigError("", f"must be a string or number, got {describe(value)}")


def version(value: object) -> str:
    """A version name as written: `2.0` is most likely the text a producer sends as "2.0", and
    `2026.10` the month after 2026.9, not the number 2026.1 (yamlfile.WrittenFloat)."""
    if isinstance(value, WrittenInt | WrittenFloat):
        return value.text
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str):
        return str(value)
    raise ConfigError("", f"must be a string or number, got {describe(value)}")


def number(value: object) -> object:
    """An exponent number written without a point (1e-05) as the number it spells, where a
    key takes a number (see yamlfile.NumberWord), as is one an environment variable spells."""
    if isinstance(value, ExpandedWord) and _numeric(value.scalar):
        return value.scalar
    return value.number if isinstance(value, NumberWord) else value


def integer(value: object) -> object:
    """An environment variable's whole number (`${READ_COUNT:-4000}`) where a key takes one."""
    if isinstance(value, ExpandedWord) and type(value.scalar) is int:
        return value.scalar
    return value


def flag(value: object) -> object:
    """An unquoted yes/no/on/off as the boolean YAML 1.1 reads, as before the config loader
    kept those words as text; a quoted "yes" is still a string, not a boolean; an environment
    variable's true or false is the boolean."""
    if isinstance(value, ExpandedWord) and isinstance(value.scalar, bool):
        return value.scalar
    return value.flag if isinstance(value, BoolWord) else value


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def rule(words: str) -> WrapValidator:
    """Out-of-range numbers are refused in words, the value as the user wrote it."""

    def check(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(value)
        except ValidationError as exc:
            if exc.errors()[0]["type"] not in _OUTSIDE:
                raise
            raise ConfigError("", f"must be {words}, got {value!r}") from None

    return WrapValidator(check)


def parse_duration(value: str) -> float | None:
    """Seconds for '90', '1.5', '30s', '1h30m', '500ms'...; None when text is not a duration."""
    value = value.strip()
    if re.fullmatch(_PLAIN_NUMBER, value):
        return float(value)
    if not re.fullmatch(_DURATION, value):
        return None
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", value)
    return sum(float(amount) * _UNIT_SECONDS[unit] for amount, unit in parts)


def duration(value: object) -> object:
    """A positive number of seconds, or a string with units; numbers are checked as Number."""
    value = number(value)
    if isinstance(value, str):
        seconds = parse_duration(value)
        if seconds is None:
            raise ConfigError("", f"invalid duration {value!r} (use {DURATION_HINT})")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value
    else:
        raise ConfigError("", f"must be a duration ({DURATION_HINT}), got {describe(value)}")
    if seconds <= 0:
        raise ConfigError("", f"must be a positive duration, got {value!r}")
    if seconds > MAX_DURATION_SECONDS:
        raise ConfigError("", f"must be at most 100 years (36525d), got {value!r}")
    return seconds


def distinct(values: tuple[str, ...]) -> tuple[str, ...]:
    """Each label once."""
    for i, found in enumerate(values):
        if found in values[:i]:
            raise ConfigError(f"[{i}]", f"duplicate value {found!r}")
    return values


def file_path(value: str | None, info: ValidationInfo) -> str | None:
    """Relative paths are taken from the config file's directory, as users expect."""
    if value is None or info.context is None:
        return value
    found = os.path.expanduser(value)
    base_dir = str(info.context.get("base_dir", "."))
    return found if os.path.isabs(found) else os.path.normpath(os.path.join(base_dir, found))


def _duration_schema(number: dict[str, float], refused: str = "") -> dict[str, Any]:
    """A duration's JSON schema: number, the bounds of a number of seconds; refused, single
    amounts with a unit that are out of those bounds (a sum of several is not judged). No
    lookaheads: Helm checks the chart's copy with Go's regular expressions, which lack them."""
    zero = r"^[^1-9]*$"  # no digit but 0: not a positive duration
    return {
        "description": f"A duration: {DURATION_HINT}; at most 100 years (36525d).",
        "anyOf": [
            {"type": "number", "maximum": MAX_DURATION_SECONDS, **number},
            {
                "type": "string",
                "pattern": rf"^\s*({_PLAIN_NUMBER}|{_DURATION})\s*$",
                "not": {"pattern": rf"{zero}|^\s*(?:{refused})\s*$" if refused else zero},
            },
            {"type": "string", "pattern": r"\$\{"},
        ],
    }


_DURATION_SCHEMA = _duration_schema({"exclusiveMinimum": 0})
# One amount under 1s (0.5, 0.5s, 999ms); one over 5s (6, 10s, 5.5s, 6000ms, 1m, 2h).
_UNDER_1S = r"0*(?:\.\d+)?s?|\d{1,3}(?:\.\d+)?ms"
_OVER_5S = (
    r"0*(?:[6-9]|[1-9]\d+|5\.\d*[1-9]\d*)(?:\.\d+)?s?"
    r"|0*(?:[6-9]\d{3}|[1-9]\d{4,})(?:\.\d+)?ms|0*[1-9]\d*(?:\.\d+)?[mhd]"
)
_LABEL_SCHEMA: dict[str, Any] = {"type": ["string", "number", "boolean"]}
_UNSET = BeforeValidator(lambda value: None if value == "" else value)  # e.g. ${VAR:-}

Text = Annotated[str, Field(strict=True, min_length=1)]
OptionalText = Annotated[str | None, Field(strict=True), _UNSET]  # so never empty
Label = Annotated[str, BeforeValidator(label), WithJsonSchema(_LABEL_SCHEMA)]
Version = Annotated[str, BeforeValidator(version), WithJsonSchema(_LABEL_SCHEMA)]
Labels = Annotated[
    tuple[Label, ...],
    Field(min_length=1, json_schema_extra={"uniqueItems": True}),
    AfterValidator(distinct),
]
# A number validator after the constraints: one before them keeps them out of the JSON schema.
_NUMBER = BeforeValidator(number)
_Float = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Number = Annotated[_Float, _NUMBER]
Flag = Annotated[bool, Field(strict=True), BeforeValidator(flag)]
Positive = Annotated[_Float, Field(gt=0), _NUMBER, rule("positive")]
NonNegative = Annotated[_Float, Field(ge=0), _NUMBER, rule("at least 0")]
Fraction = Annotated[_Float, Field(gt=0, lt=1), _NUMBER, rule("between 0 and 1 (exclusive)")]
Share = Annotated[_Float, Field(gt=0, le=1), _NUMBER, rule("greater than 0 and at most 1")]
INTEGER = BeforeValidator(integer)
PositiveInt = Annotated[int, Field(strict=True, ge=1), INTEGER, rule("positive")]
Count = Annotated[int, Field(strict=True, ge=0), INTEGER, rule("at least 0")]
Bins = Annotated[int, Field(strict=True, ge=2, le=100), INTEGER, rule("from 2 to 100")]
# Sizes of what is held per model: past these a value only fails later, or allocates a
# window no machine holds (a maxlen of 10^20 raised OverflowError in the label join).
Samples = Annotated[
    int, Field(strict=True, ge=1, le=10_000_000), INTEGER, rule("from 1 to 10,000,000")
]
Pending = Annotated[
    int, Field(strict=True, ge=1, le=50_000_000), INTEGER, rule("from 1 to 50,000,000")
]
Duration = Annotated[Number, BeforeValidator(duration), WithJsonSchema(_DURATION_SCHEMA)]
# For the schema only: the loader checks these bounds once the section is read.
AtLeastOneSecond = Annotated[
    Duration, WithJsonSchema(_duration_schema({"minimum": 1.0}, refused=_UNDER_1S))
]
AtMostFiveSeconds = Annotated[
    Duration,
    WithJsonSchema(_duration_schema({"exclusiveMinimum": 0, "maximum": 5.0}, refused=_OVER_5S)),
]
File = Annotated[OptionalText, AfterValidator(file_path)]
