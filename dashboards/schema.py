"""Check a dashboard against Grafana's own dashboard model, from grafana-foundation-sdk.

The SDK is Grafana's official builder library, generated from the schemas Grafana ships; its
models are what "a field Grafana knows" means here. Two checks:

- `losses`: decoding the JSON with the SDK's models and encoding it again keeps exactly the
  fields the schema defines, so any field of ours that does not come back is one Grafana does not
  read where we put it (`fieldConfig.defaults.fixedColor`, which belongs in `defaults.color`).
- `type_errors`: every decoded value has the type the model annotates it with: enums and
  literals hold one of their values, numbers are numbers, nested objects are well formed.

`python -m dashboards.schema dashboards/*.json` prints every finding and exits 1 when there is
one. Only the tests and this command import the SDK (the `test` extra installs it).
"""

from __future__ import annotations

import enum
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

# Fields Grafana writes and reads that the SDK's model leaves out: Grafana's editor stores a
# query variable's query text in `definition` (and shows it in the variables list).
UNMODELLED = (re.compile(r"^templating\.list\[\d+\]\.definition$"),)

register_default_plugins()  # panel options and Prometheus targets decode to their own models


def decode(d: dict[str, Any]) -> Dashboard:
    """The dashboard as the SDK's model objects."""
    return Dashboard.from_json(d)


def encode(model: Dashboard) -> dict[str, Any]:
    """The model back as plain JSON, as the SDK writes it."""
    return dict(json.loads(json.dumps(model, cls=JSONEncoder)))


def _lost(ours: Any, theirs: Any, path: str) -> typing.Iterator[str]:
    """Paths of `ours` that `theirs` drops or changes; a null dropped is the same as absent."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key, value in ours.items():
            where = f"{path}.{key}" if path else key
            if any(p.match(where) for p in UNMODELLED):
                continue
            if key not in theirs:
                if value is not None:
                    yield f"{where}: not in Grafana's dashboard model (dropped)"
            else:
                yield from _lost(value, theirs[key], where)
    elif isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            yield from _lost(a, b, f"{path}[{i}]")
    elif ours != theirs or type(ours) is not type(theirs):
        yield f"{path}: {ours!r} comes back as {theirs!r}"


def losses(d: dict[str, Any]) -> list[str]:
    """Every field of `d` that does not survive a decode/encode through the SDK's model."""
    return list(_lost(d, encode(decode(d)), ""))


def _is_model(value: Any) -> bool:
    return callable(getattr(value, "to_json", None)) and hasattr(type(value), "__annotations__")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _value_errors(value: Any, hint: Any, path: str) -> list[str]:
    """Why `value` is not of the annotated type `hint` (empty when it is)."""
    if hint is Any or hint is object:
        return _model_errors(value, path) if _is_model(value) else []
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return []
        tries = [_value_errors(value, arm, path) for arm in args if arm is not type(None)]
        return [] if any(not t for t in tries) else min(tries, key=len)
    if origin is typing.Literal:
        return [] if value in args else [f"{path}: {value!r} is not one of {list(args)}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        return [e for i, v in enumerate(value) for e in _value_errors(v, args[0], f"{path}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not an object"]
        return [e for k, v in value.items() for e in _value_errors(v, args[1], f"{path}.{k}")]
    if not isinstance(hint, type):
        return []  # a variant protocol (Dataquery, panel options): checked as the model it is
    if issubclass(hint, enum.Enum):
        allowed = [m.value for m in hint]
        ok = isinstance(value, hint) or (value in allowed and not isinstance(value, bool))
        return [] if ok else [f"{path}: {value!r} is not one of {allowed}"]
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {value!r} is not a number"]
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {value!r} is not an integer"]
    from_json = getattr(hint, "from_json", None)
    if callable(from_json) and isinstance(value, dict):
        value = from_json(value)  # kept raw by its parent's decoder (panel links, transforms)
    if not isinstance(value, hint):
        return [f"{path}: {value!r} is not a {hint.__name__}"]
    return _model_errors(value, path) if _is_model(value) else []  # e.g. a Prometheus target


def _model_errors(model: Any, path: str) -> list[str]:
    """Type errors of every annotated attribute of a decoded model object."""
    out = []
    for name, hint in _hints(type(model)).items():
        if hasattr(model, name):
            out += _value_errors(getattr(model, name), hint, f"{path}.{name}" if path else name)
    return out


def type_errors(d: dict[str, Any]) -> list[str]:
    """Every decoded value whose type is not the one Grafana's dashboard model declares."""
    return _model_errors(decode(d), "")


def findings(d: dict[str, Any]) -> list[str]:
    """Everything the SDK's model objects to; empty when the dashboard is clean."""
    return [*losses(d), *type_errors(d)]


def main(argv: list[str]) -> int:
    """Check the named files."""
    found = 0
    for name in argv:
        for f in findings(json.loads(Path(name).read_text())):
            print(f"{name}: {f}")
            found += 1
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
