"""Strict YAML mappings, and mistakes reported as ConfigError with the key path to look at."""

import os
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, model_validator
from pydantic_core import ErrorDetails

from exporter.yamlfile import ConfigError as ConfigError

M = TypeVar("M", bound=BaseModel)
# Field docstrings are the descriptions in config/schema.json. pydantic reads them from the
# source of every model class, a tenth of a second of every start, so only the schema
# generator, which sets this before the models are built, asks for them.
DOCSTRINGS = "MLMON_CONFIG_DOCSTRINGS"
# pydantic's error types, worded in the user's vocabulary; {kind} is describe(the value).
WORDING = {
    "missing": "is required",
    "string_type": "must be a string, got {kind}",
    "string_too_short": "must not be empty",
    "too_short": "must not be empty",
    "too_long": "must list at most {max_length} items, got {actual_length}",
    "int_type": "must be an integer, got {kind}",
    "float_type": "must be a number, got {kind}",
    "finite_number": "must be a finite number, got {value!r}",
    "bool_type": "must be true or false, got {kind}",
    "tuple_type": "must be a list, got {kind}",
    "enum": "must be one of: {expected} (got {kind})",
    "literal_error": "must be one of: {expected} (got {kind})",
}


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
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "a mapping"
    return type(value).__name__


def _set(key: str) -> dict[str, Any]:
    return {"required": [key], "properties": {key: {"not": {"type": "null"}}}}


def exactly_one(*keys: str) -> dict[str, Any]:
    """The schema of the loader's "must set exactly one of" (null is not set), for editors."""
    return {"oneOf": [_set(key) for key in keys]}


def at_least_one(*keys: str) -> dict[str, Any]:
    """The schema of the loader's "must set at least one of" (null is not set), for editors."""
    return {"anyOf": [_set(key) for key in keys]}


def _section_schema(schema: dict[str, Any], cls: type[Any]) -> None:
    """The section's own rules; null too, the empty mapping, where the loader takes that."""
    rules: dict[str, Any] = getattr(cls, "schema_rules", {})
    schema.update(rules)
    if not rules and not schema.get("required"):
        schema["type"] = ["object", "null"]


class Section(BaseModel):
    """A YAML mapping: unknown keys are errors, and null stands for an empty mapping.

    Code builds sections by attribute name; only YAML (validated with a context) is held to
    the YAML keys, which the aliases give where they differ from the attribute names.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=os.environ.get(DOCSTRINGS) == "1",
        validate_by_name=True,
        json_schema_extra=_section_schema,
    )
    required_hints: ClassVar[dict[str, str]] = {}
    schema_rules: ClassVar[dict[str, Any]] = {}  # what yaml_rules or a validator checks

    @model_validator(mode="before")
    @classmethod
    def _strict_keys(cls, data: object, info: ValidationInfo) -> object:
        if info.context is None:
            return data
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError("", f"must be a mapping, got {describe(data)}")
        keys = sorted(f.alias or name for name, f in cls.model_fields.items())
        for key in data:
            if key not in keys:
                raise ConfigError(str(key), f"unknown key (expected one of: {', '.join(keys)})")
        for name, field in cls.model_fields.items():
            if field.is_required() and (key := field.alias or name) not in data:
                hint = cls.required_hints.get(name)
                raise ConfigError(key, f"is required ({hint})" if hint else "is required")
        return cls.yaml_rules(data)

    @classmethod
    def yaml_rules(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Rules a YAML mapping must follow beyond its keys, checked before their values."""
        return data


def _path(loc: tuple[int | str, ...], tail: str = "") -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
    if tail:
        text += tail if tail.startswith("[") else f".{tail}"
    return text.lstrip(".") or "<root>"


def _error(error: ErrorDetails) -> ConfigError:
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ConfigError):
        return ConfigError(_path(error["loc"], cause.path), cause.reason)
    if (words := WORDING.get(error["type"])) is None:
        return ConfigError(_path(error["loc"]), error["msg"])
    expected = str(error.get("ctx", {}).get("expected", "")).replace("'", "")
    value = error["input"]
    context = {**error.get("ctx", {}), "expected": expected.replace(" or ", ", ")}
    words = words.format(kind=describe(value), value=value, **context)
    return ConfigError(_path(error["loc"]), words)


def validate(cls: type[M], data: object, **context: object) -> M:
    """data as a cls, or the first mistake in it as a ConfigError naming its key path."""
    try:
        return cls.model_validate(data, context=context)
    except ValidationError as exc:
        raise _error(exc.errors()[0]) from None
