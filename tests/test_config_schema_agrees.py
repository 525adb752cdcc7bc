"""config/schema.json (and the Helm chart's copy) judges a config as the loader does, where a
JSON schema can say it: it refused `log_level: WARN` and `defaults: null`, which the exporter
takes, and passed `threshold: 0`, `schedule: {}` or `linger: 10s`, which it refuses."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from exporter.config import ConfigError
from exporter.config.schema import SCHEMA_FILE
from tests.config_cases import load_doc, model_keys

_SCHEMA = json.loads(SCHEMA_FILE.read_text())
_VALIDATOR = jsonschema.Draft202012Validator(_SCHEMA)
_CRON = "*/5 * * * *"
# (what is set, where: () the top level, ("model",) the model, ("feature",) its feature; value)
CASES: list[tuple[tuple[str, ...], Any]] = [
    (("log_level",), "WARN"),
    (("log_level",), "Warning"),
    (("log_level",), "${LEVEL:-debug}"),
    (("log_level",), "loud"),
    (("defaults",), None),
    (("defaults", "window"), None),
    (("model", "window"), None),
    (("model", "window"), {}),
    (("model", "window", "duration"), "0s"),
    (("model", "window", "duration"), "0.0h0m"),
    (("model", "window", "duration"), "500ms"),
    (("feature", "threshold"), 0),
    (("feature", "threshold"), -1),
    (("feature", "threshold"), 0.05),
    (("feature", "threshold"), "learned"),
    (("model", "schedule"), {}),
    (("model", "schedule"), {"interval": "1m", "cron": _CRON}),
    (("model", "schedule"), {"cron": _CRON}),
    (("model", "schedule"), {"interval": None, "cron": _CRON}),  # null is unset to the loader
    (("model", "schedule"), {"interval": "1m", "cron": None}),
    (("model", "schedule"), {"interval": None}),
    (("model", "schedule"), {"interval": "500ms"}),
    (("model", "schedule"), {"interval": 0.5}),
    (("model", "schedule"), {"interval": "0.5s"}),
    (("model", "schedule"), {"interval": "1000ms"}),
    (("model", "schedule"), {"interval": "1s"}),
    (("model", "schedule"), {"interval": "0.5m"}),
    (("model", "reference"), {}),
    (("model", "reference"), {"file": "ref.csv", "redis_key": "k"}),
    (("model", "reference"), {"file": None, "redis_key": "k"}),
    (("model", "segments"), [{"feature": "country", "tag": "region"}]),
    (("model", "segments"), [{"tag": "region"}]),
    (("model", "classes"), ["1"]),
    (("model", "classes"), ["0", "1"]),
    (("model", "performance"), {"accuracy": {}}),
    (("model", "performance"), {"accuracy": {"max": None}}),
    (("model", "performance"), {"accuracy": {"max_drop": 0.05}}),
    (("redis", "linger"), "10s"),
    (("redis", "linger"), "1m"),
    (("redis", "linger"), 6),
    (("redis", "linger"), "5s"),
    (("redis", "linger"), "100ms"),
    (("web", "listen_address"), "localhost"),
    (("web", "listen_address"), "localhost:65536"),
    (("web", "listen_address"), "::1:10135"),
    (("web", "listen_address"), ":10135"),
    (("web", "listen_address"), "[::]:0"),
    (("web", "listen_address"), "${ADDRESS:-0.0.0.0:10135}"),
]


def _document(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A valid config with value set at path."""
    model = model_keys(
        reference={"redis_key": "mlmon:{fraud}:reference"},
        features=[
            {"name": "amount", "type": "numeric"},
            {"name": "country", "type": "categorical"},
        ],
    )
    doc: dict[str, Any] = {"models": [model]}
    node = {"model": model, "feature": model["features"][0]}.get(path[0], doc)
    keys = path[1:] if path[0] in ("model", "feature") else path
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = copy.deepcopy(value)
    return doc


def _loads(doc: dict[str, Any]) -> bool:
    try:
        load_doc(doc)
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize(("path", "value"), CASES, ids=[f"{'.'.join(p)}={v}" for p, v in CASES])
def test_the_schema_takes_a_config_exactly_when_the_loader_does(
    path: tuple[str, ...], value: Any
) -> None:
    doc = _document(path, value)
    errors = [e.message for e in _VALIDATOR.iter_errors(doc)]
    loaded = _loads(doc)
    assert (not errors) == loaded, f"loader: {'takes' if loaded else 'refuses'}; schema: {errors}"
