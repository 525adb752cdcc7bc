"""config/schema.json is generated from the declared keys, and editors can rely on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from exporter.config.schema import SCHEMA_FILE, schema_text
from exporter.stats import METHODS, methods_for
from exporter.stats.kinds import FeatureType
from tests.config_cases import ROOT


def _schema() -> dict[str, Any]:
    """The committed schema.json."""
    result: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return result


def _walk(node: object) -> Iterator[dict[str, Any]]:
    """Every mapping in a JSON document, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_the_committed_schema_is_the_one_generated_from_the_config_models() -> None:
    assert SCHEMA_FILE.read_text() == schema_text(), "run: python -m exporter.config.schema"


@pytest.mark.parametrize("path", ["config/example.yaml", "examples/config.yaml"])
def test_the_shipped_configs_validate_against_the_schema(path: str) -> None:
    schema = _schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load((ROOT / path).read_text()), schema)


def test_the_schema_rejects_a_misspelt_key_as_the_loader_does() -> None:
    document = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    document["models"][0]["windw"] = {"duration": "1h"}
    with pytest.raises(jsonschema.ValidationError, match="windw"):
        jsonschema.validate(document, _schema())


def _objects() -> list[dict[str, Any]]:
    """The schema's objects (a section null may also stand for), not the rules over them."""
    return [n for n in _walk(_schema()) if n.get("type") in ("object", ["object", "null"])]


def test_every_schema_object_forbids_additional_properties() -> None:
    objects = _objects()
    assert objects and all(n.get("additionalProperties") is False for n in objects)


def test_every_schema_property_has_a_description() -> None:
    for node in _objects():
        for name, prop in node.get("properties", {}).items():
            assert prop.get("description"), f"property {name!r} has no description"


def test_a_model_takes_every_defaults_key_plus_the_keys_only_a_model_may_set() -> None:
    defs = _schema()["$defs"]
    model, defaults = set(defs["ModelKeys"]["properties"]), set(defs["DefaultsKeys"]["properties"])
    only = {"name", "task", "positive_class", "classes", "streams", "reference", "features"}
    only.add("segments")  # they name the model's own features
    assert model == defaults | only and not defaults & only


def test_schema_method_enums_match_the_drift_method_registry() -> None:
    defs = _schema()["$defs"]
    for kind in FeatureType:
        by_type = defs["DriftByType"]["properties"][kind.value]["properties"]["method"]["enum"]
        assert by_type == methods_for(kind)
    method = defs["DriftKeys"]["properties"]["method"]["anyOf"][0]
    assert method["enum"] == sorted(METHODS)
    assert defs["FeatureKeys"]["properties"]["method"]["anyOf"][0]["enum"] == sorted(METHODS)


def test_the_schema_takes_a_variable_where_the_loader_takes_one_for_a_number_or_flag() -> None:
    document = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    document["redis"]["read_count"] = "${READ_COUNT:-4000}"
    document["models"][0]["window"] = {"max_samples": "${WINDOW:-5000}"}
    jsonschema.validate(document, _schema())
    document["redis"]["read_count"] = "4000"  # a quoted number is text, for both
    with pytest.raises(jsonschema.ValidationError, match="4000"):
        jsonschema.validate(document, _schema())
