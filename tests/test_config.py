"""The config loader accepts the documented file, and every mistake names its key path."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from exporter.config import (
    Bounds,
    Config,
    ConfigError,
    DriftSpec,
    ModelConfig,
    ScheduleConfig,
    load_config,
    load_config_text,
)
from exporter.config.load import SECTION_KEYS
from exporter.config.measures import drift_methods
from exporter.config.models_section import DEFAULTS_KEYS, MODEL_KEYS, MODEL_ONLY_KEYS
from exporter.config.values import parse_duration
from exporter.stats.kinds import FeatureType, Task

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "example.yaml"
_NUMERIC_METHODS = ", ".join(
    sorted(n for n, i in drift_methods().items() if FeatureType.NUMERIC in i.feature_types)
)
_CATEGORICAL_METHODS = ", ".join(
    sorted(n for n, i in drift_methods().items() if FeatureType.CATEGORICAL in i.feature_types)
)
SCHEMA = ROOT / "config" / "schema.json"


def _model(**overrides: Any) -> dict[str, Any]:
    """A minimal valid model mapping with some keys replaced."""
    model: dict[str, Any] = {
        "name": "fraud",
        "task": "binary_classification",
        "features": [{"name": "amount", "type": "numeric"}],
    }
    model.update(overrides)
    return model


def _load(doc: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Config:
    """Load a config given as a Python mapping, with an empty environment by default."""
    return load_config_text(yaml.safe_dump(dict(doc)), environ or {}, base_dir="/etc/mlmon")


def _one(**overrides: Any) -> ModelConfig:
    """The single model of a config holding _model(**overrides)."""
    return _load({"models": [_model(**overrides)]}).models[0]


def _error(doc: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> str:
    """The ConfigError message loading doc raises."""
    with pytest.raises(ConfigError) as info:
        _load(doc, environ)
    return str(info.value)


def _model_error(**overrides: Any) -> str:
    """The ConfigError message for a config holding _model(**overrides)."""
    return _error({"models": [_model(**overrides)]})


# --- the shipped example and schema -------------------------------------------------------


def test_the_example_loads_with_paths_resolved_against_its_directory() -> None:
    config = load_config(str(EXAMPLE), environ={})
    fraud, eta = config.models
    assert fraud.reference.file == str(ROOT / "config" / "reference" / "fraud.csv")
    assert eta.reference.redis_key == "mlmon:{eta}:reference"
    assert eta.schedule == ScheduleConfig(interval_seconds=None, cron="*/5 * * * *")
    assert config.redis.password is None and config.redis.tls.ca_file is None


def test_the_example_validates_against_the_schema() -> None:
    import jsonschema  # type: ignore[import-untyped]

    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(EXAMPLE.read_text()), schema)


def _schema() -> dict[str, Any]:
    """The parsed schema.json."""
    result: dict[str, Any] = json.loads(SCHEMA.read_text())
    return result


def _schema_section(name: str) -> dict[str, Any]:
    """The schema object describing a loader section ("config" is the root)."""
    schema = _schema()
    section: dict[str, Any] = schema if name == "config" else schema["$defs"][name]
    return section


@pytest.mark.parametrize("section", sorted(SECTION_KEYS))
def test_each_schema_section_lists_exactly_the_keys_the_loader_accepts(section: str) -> None:
    assert set(_schema_section(section)["properties"]) == set(SECTION_KEYS[section])


def test_every_schema_object_is_a_section_the_loader_knows() -> None:
    objects = {name for name, d in _schema()["$defs"].items() if d.get("type") == "object"}
    assert objects | {"config"} == set(SECTION_KEYS)


def test_the_model_section_is_defaults_plus_model_only_keys_in_loader_and_schema() -> None:
    schema = _schema()["$defs"]
    assert set(MODEL_KEYS) == set(MODEL_ONLY_KEYS) | set(DEFAULTS_KEYS)
    assert set(schema["model"]["properties"]) - set(schema["defaults"]["properties"]) == set(
        MODEL_ONLY_KEYS
    )


def _walk(node: object) -> Iterator[dict[str, Any]]:
    """Every mapping in a JSON document, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_every_schema_object_forbids_additional_properties() -> None:
    objects = [n for n in _walk(_schema()) if n.get("type") == "object"]
    assert objects and all(n.get("additionalProperties") is False for n in objects)


def test_every_schema_property_has_a_description() -> None:
    for node in _walk(_schema()):
        for name, prop in node.get("properties", {}).items():
            assert prop.get("description"), f"property {name!r} has no description"


def test_schema_method_enums_match_the_drift_method_registry() -> None:
    defs = _schema()["$defs"]
    for kind in FeatureType:
        usable = sorted(n for n, i in drift_methods().items() if kind in i.feature_types)
        assert defs["drift"]["properties"][kind.value]["properties"]["method"]["enum"] == usable
    assert defs["drift_spec"]["properties"]["method"]["enum"] == sorted(drift_methods())
    assert defs["feature"]["properties"]["method"]["enum"] == sorted(drift_methods())


# --- strictness and path messages ---------------------------------------------------------


def test_unknown_key_is_an_error_naming_its_path() -> None:
    expected = ", ".join(sorted(MODEL_KEYS))
    assert _model_error(windw={"duration": "1h"}) == (
        f"models[0].windw: unknown key (expected one of: {expected})"
    )


def test_unknown_top_level_key_is_named_without_a_prefix() -> None:
    message = _error({"models": [_model()], "modles": []})
    assert message.startswith("modles: unknown key (expected one of: defaults, log_level,")


def test_unknown_key_deep_in_defaults_names_the_full_path() -> None:
    message = _error({"defaults": {"window": {"durations": "1h"}}, "models": [_model()]})
    assert message == (
        "defaults.window.durations: unknown key (expected one of: duration, max_samples)"
    )


def test_a_bad_feature_type_names_the_model_and_feature_index() -> None:
    models = [
        _model(name="a"),
        _model(name="b"),
        _model(name="c", features=[{"name": "x", "type": "float"}]),
    ]
    assert _error({"models": models}).startswith(
        "models[2].features[0].type: must be numeric or categorical"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task": None}, "models[0].task: must be one of: binary_classification,"),
        ({"features": []}, "models[0].features: must not be empty"),
        ({"features": {"amount": "numeric"}}, "models[0].features: must be a list, got a mapping"),
        ({"name": "fraud detector"}, "models[0].name: must be 1-64 letters"),
        ({"name": "x" * 65}, "models[0].name: must be 1-64 letters"),
        ({"min_samples": 0}, "models[0].min_samples: must be positive, got 0"),
        ({"min_samples": 1.5}, "models[0].min_samples: must be an integer, got number 1.5"),
        ({"min_samples": True}, "models[0].min_samples: must be an integer, got boolean true"),
        ({"histogram_bins": 1}, "models[0].histogram_bins: must be at least 2, got 1"),
        ({"max_new_categories": -1}, "models[0].max_new_categories: must be at least 0"),
        ({"drift_share": 0}, "models[0].drift_share: must be greater than 0 and at most 1"),
        ({"drift_share": 1.5}, "models[0].drift_share: must be greater than 0 and at most 1"),
        ({"slo": {"objective": 1}}, "models[0].slo.objective: must be between 0 and 1"),
        ({"window": {"max_samples": -5}}, "models[0].window.max_samples: must be positive"),
        ({"window": {"duration": 0}}, "models[0].window.duration: must be a positive duration"),
        ({"window": []}, "models[0].window: must be a mapping, got a list"),
        ({"labels": {"horizon": "soon"}}, "models[0].labels.horizon: invalid duration 'soon'"),
        ({"positive_class": [1]}, "models[0].positive_class: must be a string or number"),
        (
            {"task": "regression", "positive_class": 1},
            "models[0].positive_class: only applies to binary_classification models",
        ),
        (
            {"performance": {"accuracy": {}}},
            "models[0].performance.accuracy: must set at least one of: min, max, max_drop",
        ),
        (
            {"performance": {"accuracy": {"max_drop": -0.1}}},
            "models[0].performance.accuracy.max_drop: must be at least 0, got -0.1",
        ),
        (
            {"performance": {"accuracy": {"max_drop": "5%"}}},
            "models[0].performance.accuracy.max_drop: must be a number",
        ),
        (
            {"performance": {"accuracy": {"drop": 0.1}}},
            "models[0].performance.accuracy.drop: unknown key",
        ),
        (
            {"performance": {"accuracy": {"min": 0.9, "max": 0.8}}},
            "models[0].performance.accuracy: min (0.9) must not exceed max (0.8)",
        ),
        ({"performance": {"auc": {"min": 0.9}}}, "models[0].performance.auc: unknown key"),
        (
            {"streams": {"predictions": "s", "labels": "s"}},
            "models[0].streams.labels: must differ from the predictions stream",
        ),
        ({"reference": {}}, "models[0].reference: must set exactly one of: file, redis_key"),
        (
            {"reference": {"file": "a.csv", "redis_key": "k"}},
            "models[0].reference: must set exactly one of: file, redis_key",
        ),
    ],
)
def test_invalid_model_values_are_errors_naming_their_path(
    overrides: dict[str, Any], message: str
) -> None:
    assert _model_error(**overrides).startswith(message)


def test_a_missing_required_key_says_it_is_required() -> None:
    model = _model()
    del model["task"]
    assert _error({"models": [model]}).startswith("models[0].task: is required (one of:")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"models": []}, "models: must list at least one model"),
        ({"log_level": "verbose"}, "log_level: must be one of: debug, info, warning, error"),
        ({"web": {"listen_address": "0.0.0.0"}}, "web.listen_address: must be HOST:PORT"),
        ({"web": {"listen_address": ":x"}}, "web.listen_address: must be HOST:PORT with a port"),
        ({"web": {"listen_address": ":65536"}}, "web.listen_address: must be HOST:PORT"),
        ({"web": {"listen_address": ":::9100"}}, "web.listen_address: IPv6 hosts must be in"),
        ({"redis": {"url": "http://localhost"}}, "redis.url: must start with redis://"),
        ({"redis": {"url": "redis://:6379"}}, "redis.url: must name a host"),
        ({"redis": {"read_count": 0}}, "redis.read_count: must be positive"),
        ({"redis": {"block": "0.1ms"}}, "redis.block: must be at least 1ms"),
        (
            {"redis": {"tls": {"ca_file": "ca.pem"}}},
            "redis.tls: is set, but redis.url does not use rediss://",
        ),
    ],
)
def test_invalid_top_level_values_are_errors_naming_their_path(
    doc: dict[str, Any], message: str
) -> None:
    assert _error({"models": [_model()], **doc}).startswith(message)


def test_valid_top_level_values_are_stored_normalised() -> None:
    config = _load(
        {
            "models": [_model()],
            "log_level": "WARNING",
            "web": {"listen_address": "[::]:9100"},
            "redis": {
                "url": "rediss://cache:6380/2",
                "tls": {"ca_file": "ca.pem"},
                "block": "250ms",
            },
        }
    )
    assert config.log_level == "warning"
    assert config.web.listen_address == "[::]:9100"
    assert config.redis.tls.ca_file == "/etc/mlmon/ca.pem"
    assert config.redis.block_ms == 250


def test_listen_port_zero_is_accepted_so_tests_can_bind_a_free_port() -> None:
    config = _load({"models": [_model()], "web": {"listen_address": "127.0.0.1:0"}})
    assert config.web.listen_address == "127.0.0.1:0"


def test_duplicate_model_names_point_back_at_the_first_use() -> None:
    message = _error({"models": [_model(), _model(name="other"), _model()]})
    assert message == "models[2].name: duplicate model name 'fraud' (first used by models[0])"


def test_duplicate_feature_names_point_back_at_the_first_use() -> None:
    features = [{"name": "amount", "type": "numeric"}, {"name": "amount", "type": "categorical"}]
    assert _model_error(features=features) == (
        "models[0].features[1].name: duplicate feature name 'amount' (first used by "
        "models[0].features[0])"
    )


def test_model_only_keys_in_defaults_say_they_belong_to_models() -> None:
    message = _error({"defaults": {"features": []}, "models": [_model()]})
    assert message == "defaults.features: can only be set per model, not in defaults"


def test_a_key_repeated_in_one_yaml_mapping_is_an_error_with_its_line() -> None:
    text = "models:\n  - name: a\n    name: b\n"
    with pytest.raises(
        ConfigError,
        match=r"^<config>: invalid YAML at line 3, column 5: "
        r"duplicate key 'name'",
    ):
        load_config_text(text, {})


def test_yaml_syntax_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  - name: [a\n")
    with pytest.raises(ConfigError, match=rf"^{path}: invalid YAML at line \d+, column \d+: "):
        load_config(str(path), {})


def test_a_missing_file_is_a_config_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=rf"^{path}: cannot read config file: "):
        load_config(str(path), {})


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "log_level: info\n"])
def test_a_config_without_models_says_models_are_required(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^models: is required$"):
        load_config_text(text, {})


def test_a_document_that_is_not_a_mapping_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"^<root>: must be a mapping, got a list"):
        load_config_text("- models\n", {})


def test_config_error_is_a_value_error_carrying_path_and_reason() -> None:
    error = ConfigError("models[0].task", "is required")
    assert isinstance(error, ValueError)
    assert (error.path, error.reason, str(error)) == (
        "models[0].task",
        "is required",
        "models[0].task: is required",
    )
    assert ConfigError("--model: no model named 'x'").path == "--model"


# --- environment expansion ----------------------------------------------------------------


def test_env_variables_expand_in_every_string_value() -> None:
    text = """
redis: {url: "redis://${HOST}:6379/0", password: "${PW}"}
models:
  - name: ${MODEL}
    task: binary_classification
    features: [{name: country, type: categorical, allowed: ["${C1}", FR]}]
"""
    env = {"HOST": "cache", "PW": "s3cret", "MODEL": "fraud", "C1": "DE"}
    config = load_config_text(text, env)
    assert config.redis.url == "redis://cache:6379/0" and config.redis.password == "s3cret"
    assert config.models[0].name == "fraud"
    assert config.models[0].features[0].allowed == ("DE", "FR")


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, "fallback"), ({"PW": ""}, "fallback"), ({"PW": "given"}, "given")],
)
def test_env_default_applies_when_the_variable_is_unset_or_empty(
    env: dict[str, str], expected: str
) -> None:
    config = _load({"models": [_model()], "redis": {"password": "${PW:-fallback}"}}, env)
    assert config.redis.password == expected


def test_an_empty_env_default_means_no_password() -> None:
    config = _load({"models": [_model()], "redis": {"password": "${REDIS_PASSWORD:-}"}})
    assert config.redis.password is None


def test_an_unset_env_variable_without_default_names_the_key_path_and_variable() -> None:
    message = _error({"models": [_model()], "redis": {"password": "${REDIS_PASSWORD}"}})
    assert message.startswith("redis.password: environment variable REDIS_PASSWORD is not set")


def test_a_set_but_empty_env_variable_expands_to_an_empty_string() -> None:
    config = _load({"models": [_model()], "redis": {"password": "${PW}"}}, {"PW": ""})
    assert config.redis.password is None


def test_double_dollar_is_a_literal_dollar_and_a_lone_dollar_is_kept() -> None:
    config = _load({"models": [_model()], "redis": {"password": "a$$b${X:-c}$d"}}, {})
    assert config.redis.password == "a$b" + "c$d"


def test_an_expanded_value_is_not_expanded_again() -> None:
    config = _load({"models": [_model()], "redis": {"password": "${PW}"}}, {"PW": "${X}"})
    assert config.redis.password == "${X}"


@pytest.mark.parametrize("text", ["${", "${1ABC}", "${A B}", "${A:default}"])
def test_malformed_env_references_are_errors(text: str) -> None:
    message = _error({"models": [_model()], "redis": {"password": text}})
    assert message.startswith("redis.password: ")


def test_environ_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLMON_TEST_PASSWORD", "from-os")
    text = yaml.safe_dump({"models": [_model()], "redis": {"password": "${MLMON_TEST_PASSWORD}"}})
    assert load_config_text(text).redis.password == "from-os"


# --- durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("10m", 600),
        ("1h", 3600),
        ("1d", 86400),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("1.5h", 5400),
        ("90", 90),
        ("2.5", 2.5),
        (" 1m ", 60),
        ("1m30s250ms", 90.25),
    ],
)
def test_durations_parse_from_unit_strings(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10x", "-5s", "1h 30m", "h", "1.h", "5 s", "1e3"])
def test_malformed_durations_are_not_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_durations_accept_plain_numbers_of_seconds() -> None:
    assert _one(window={"duration": 45}).window.duration_seconds == 45.0
    assert _one(window={"duration": 0.5}).window.duration_seconds == 0.5


def test_a_bad_duration_names_its_path_and_the_accepted_forms() -> None:
    assert _model_error(window={"duration": "10x"}) == (
        "models[0].window.duration: invalid duration '10x' "
        "(use seconds, or a string like 30s, 10m, 1h30m, 500ms)"
    )


def test_durations_from_env_variables_are_parsed() -> None:
    config = _load({"models": [_model(window={"duration": "${WINDOW:-2h}"})]}, {})
    assert config.models[0].window.duration_seconds == 7200.0


# --- defaults and merging -----------------------------------------------------------------


def test_without_defaults_models_get_the_dataclass_defaults() -> None:
    model = _one()
    assert model.window.duration_seconds == 3600.0 and model.schedule.interval_seconds == 60.0
    assert model.min_samples == 100 and model.drift_share == 0.5
    assert model.features[0].drift == DriftSpec()
    assert model.streams.predictions == "mlmon:{fraud}:predictions"
    assert model.streams.labels == "mlmon:{fraud}:labels"
    assert model.reference.redis_key == "mlmon:{fraud}:reference"


def test_a_model_window_keeps_default_keys_it_does_not_set() -> None:
    defaults = {"window": {"duration": "1h", "max_samples": 5000}}
    config = _load({"defaults": defaults, "models": [_model(window={"duration": "10m"})]})
    assert (config.models[0].window.duration_seconds, config.models[0].window.max_samples) == (
        600.0,
        5000,
    )


def test_slo_and_labels_merge_key_by_key_with_defaults() -> None:
    defaults = {
        "slo": {"latency_target": "250ms", "objective": 0.9},
        "labels": {"horizon": "1h", "max_pending": 10},
    }
    model = _model(slo={"objective": 0.999}, labels={"max_pending": 20})
    config = _load({"defaults": defaults, "models": [model]}).models[0]
    assert (config.slo.latency_target_seconds, config.slo.objective) == (0.25, 0.999)
    assert (config.labels.horizon_seconds, config.labels.max_pending) == (3600.0, 20)


def test_a_model_schedule_replaces_the_default_schedule_as_a_whole() -> None:
    doc = {
        "defaults": {"schedule": {"interval": "5m"}},
        "models": [_model(schedule={"cron": "0 * * * *"}), _model(name="other")],
    }
    cron, inherited = _load(doc).models
    assert cron.schedule == ScheduleConfig(interval_seconds=None, cron="0 * * * *")
    assert inherited.schedule == ScheduleConfig(interval_seconds=300.0, cron=None)


def test_scalar_defaults_apply_to_every_model_unless_overridden() -> None:
    doc = {
        "defaults": {"min_samples": 7, "max_versions": 3},
        "models": [_model(), _model(name="other", min_samples=9)],
    }
    first, second = _load(doc).models
    assert (first.min_samples, first.max_versions) == (7, 3)
    assert (second.min_samples, second.max_versions) == (9, 3)


def test_a_model_performance_replaces_the_default_performance() -> None:
    doc = {
        "defaults": {"performance": {"accuracy": {"min": 0.8}, "recall": {"min": 0.5}}},
        "models": [_model(performance={"accuracy": {"min": 0.95}})],
    }
    assert _load(doc).models[0].performance == (("accuracy", Bounds(min=0.95)),)


def test_max_drop_is_read_next_to_min_and_max() -> None:
    model = _one(
        task="regression",
        performance={"mae": {"max_drop": 0.5}, "r2": {"min": 0.5, "max_drop": 0.1}},
    )
    assert model.performance == (
        ("mae", Bounds(max_drop=0.5)),
        ("r2", Bounds(min=0.5, max_drop=0.1)),
    )


def test_default_performance_keeps_only_metrics_each_model_gets() -> None:
    defaults = {"performance": {"accuracy": {"min": 0.8}, "rmse": {"max": 3}, "f1": {"min": 0.5}}}
    models = [_model(), _model(name="eta", task="regression"), _model(name="pos", positive_class=1)]
    plain, regression, with_positive = _load({"defaults": defaults, "models": models}).models
    assert [m for m, _ in plain.performance] == ["accuracy"]
    assert regression.performance == (("rmse", Bounds(max=3.0)),)
    assert [m for m, _ in with_positive.performance] == ["accuracy", "f1"]


def test_performance_is_sorted_by_metric_name() -> None:
    model = _one(
        positive_class="yes",
        performance={"recall": {"min": 0.1}, "f1": {"min": 0.2}, "accuracy": {"max": 1}},
    )
    assert [m for m, _ in model.performance] == ["accuracy", "f1", "recall"]


def test_a_model_metric_for_another_task_is_an_error() -> None:
    message = _model_error(task="regression", performance={"accuracy": {"min": 0.8}})
    assert message == (
        "models[0].performance.accuracy: does not apply to regression models "
        "(use one of: mae, mape, r2, rmse)"
    )


def test_positive_class_metrics_need_a_positive_class() -> None:
    message = _model_error(performance={"f1": {"min": 0.8}})
    assert message == "models[0].performance.f1: needs positive_class to be set"


def test_a_feature_without_method_takes_the_drift_default_for_its_type() -> None:
    defaults = {
        "drift": {
            "numeric": {"method": "ks", "threshold": 0.01},
            "categorical": {"method": "chisquare"},
        }
    }
    features = [{"name": "amount", "type": "numeric"}, {"name": "c", "type": "categorical"}]
    model = _load({"defaults": defaults, "models": [_model(features=features)]}).models[0]
    assert model.features[0].drift == DriftSpec("ks", 0.01)
    assert model.features[1].drift == DriftSpec("chisquare", None)


def test_a_feature_threshold_alone_keeps_the_default_method() -> None:
    defaults = {"drift": {"numeric": {"method": "psi", "threshold": 0.1}}}
    features = [{"name": "amount", "type": "numeric", "threshold": 0.25}]
    model = _load({"defaults": defaults, "models": [_model(features=features)]}).models[0]
    assert model.features[0].drift == DriftSpec("psi", 0.25)


def test_a_feature_with_another_method_does_not_inherit_the_default_threshold() -> None:
    defaults = {"drift": {"numeric": {"method": "psi", "threshold": 0.1}}}
    features = [{"name": "amount", "type": "numeric", "method": "ks"}]
    model = _load({"defaults": defaults, "models": [_model(features=features)]}).models[0]
    assert model.features[0].drift == DriftSpec("ks", None)


def test_a_model_drift_section_overrides_defaults_per_feature_type() -> None:
    defaults = {"drift": {"numeric": {"method": "ks"}, "categorical": {"method": "chisquare"}}}
    features = [{"name": "amount", "type": "numeric"}, {"name": "c", "type": "categorical"}]
    model = _model(features=features, drift={"numeric": {"method": "psi", "threshold": 0.2}})
    numeric, categorical = _load({"defaults": defaults, "models": [model]}).models[0].features
    assert (numeric.drift, categorical.drift) == (DriftSpec("psi", 0.2), DriftSpec("chisquare"))


# --- features -----------------------------------------------------------------------------


def test_range_and_allowed_are_stored_with_allowed_values_stringified() -> None:
    features = [
        {"name": "amount", "type": "numeric", "range": [0, 10]},
        {"name": "level", "type": "categorical", "allowed": [1, "two", 3.5, True]},
    ]
    amount, level = _one(features=features).features
    assert amount.range == (0.0, 10.0)
    assert level.allowed == ("1", "two", "3.5", "true")


@pytest.mark.parametrize(
    ("feature", "message"),
    [
        (
            {"type": "categorical", "range": [0, 1]},
            "models[0].features[0].range: only applies to numeric features ('f' is categorical)",
        ),
        (
            {"type": "numeric", "allowed": ["a"]},
            "models[0].features[0].allowed: only applies to categorical features ('f' is numeric)",
        ),
        ({"type": "numeric", "range": [5, 5]}, "models[0].features[0].range: lo must be less"),
        ({"type": "numeric", "range": [1]}, "models[0].features[0].range: must be a list of two"),
        (
            {"type": "numeric", "range": [0, "x"]},
            "models[0].features[0].range[1]: must be a number",
        ),
        (
            {"type": "categorical", "allowed": []},
            "models[0].features[0].allowed: must not be empty",
        ),
        (
            {"type": "categorical", "allowed": ["a", "a"]},
            "models[0].features[0].allowed[1]: duplicate value 'a'",
        ),
        ({"type": "numeric", "threshold": 0}, "models[0].features[0].threshold: must be positive"),
        (
            {"type": "numeric", "method": "ks", "threshold": 5},
            "models[0].features[0].threshold: is a p-value for 'ks', so it must be at most 1",
        ),
        (
            {"type": "numeric", "method": "wasserstain"},
            "models[0].features[0].method: unknown drift method 'wasserstain' "
            f"(expected one of: {', '.join(sorted(drift_methods()))})",
        ),
    ],
)
def test_invalid_feature_settings_name_the_feature_path(
    feature: dict[str, Any], message: str
) -> None:
    assert _model_error(features=[{"name": "f", **feature}]).startswith(message)


def test_a_method_on_the_wrong_feature_type_names_the_feature() -> None:
    features = [
        {"name": "amount", "type": "numeric", "method": "ks"},
        {"name": "country", "type": "categorical", "method": "ks"},
    ]
    assert _model_error(features=features) == (
        "models[0].features[1].method: 'ks' does not apply to categorical feature 'country' "
        f"(use one of: {_CATEGORICAL_METHODS})"
    )


def test_a_default_drift_method_on_the_wrong_type_names_the_defaults_path() -> None:
    message = _error(
        {"defaults": {"drift": {"numeric": {"method": "chisquare"}}}, "models": [_model()]}
    )
    assert message == (
        "defaults.drift.numeric.method: 'chisquare' does not apply to numeric features "
        f"(use one of: {_NUMERIC_METHODS})"
    )


@pytest.mark.parametrize(
    ("task", "method", "message"),
    [
        (
            "regression",
            "chisquare",
            "models[0].prediction_drift.method: 'chisquare' does not apply to numeric predictions "
            f"of regression model 'fraud' (use one of: {_NUMERIC_METHODS})",
        ),
        (
            "multiclass_classification",
            "ks",
            "models[0].prediction_drift.method: 'ks' does not apply to categorical predictions "
            f"of multiclass_classification model 'fraud' (use one of: {_CATEGORICAL_METHODS})",
        ),
    ],
)
def test_prediction_drift_method_must_fit_the_task(task: str, method: str, message: str) -> None:
    assert _model_error(task=task, prediction_drift={"method": method}) == message


def test_a_binary_model_with_a_positive_class_may_use_a_numeric_method_on_its_score() -> None:
    model = _one(positive_class="1", prediction_drift={"method": "ks", "threshold": 0.01})
    assert model.prediction_drift == DriftSpec("ks", 0.01)


def test_a_default_prediction_drift_method_that_misfits_a_model_names_defaults_and_model() -> None:
    doc = {"defaults": {"prediction_drift": {"method": "ks"}}, "models": [_model()]}
    assert _error(doc).startswith(
        "defaults.prediction_drift.method: 'ks' does not apply to categorical predictions "
        "of binary_classification model 'fraud'"
    )


def test_a_model_prediction_threshold_alone_keeps_the_default_method() -> None:
    doc = {
        "defaults": {"prediction_drift": {"method": "psi", "threshold": 0.1}},
        "models": [_model(prediction_drift={"threshold": 0.3})],
    }
    assert _load(doc).models[0].prediction_drift == DriftSpec("psi", 0.3)


def test_drift_methods_fall_back_to_a_fixed_table_without_the_stats_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "exporter.stats", None)
    assert {n: set(i.feature_types) for n, i in drift_methods().items()} == {
        "ks": {FeatureType.NUMERIC},
        "psi": {FeatureType.NUMERIC, FeatureType.CATEGORICAL},
        "chisquare": {FeatureType.CATEGORICAL},
    }


def test_drift_methods_accept_a_registry_of_classes_with_feature_types(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Wasserstein:
        feature_types: ClassVar[frozenset[FeatureType]] = frozenset({FeatureType.NUMERIC})
        is_test: ClassVar[bool] = False

    stats = types.ModuleType("exporter.stats")
    stats.METHODS = {"wasserstein": Wasserstein}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "exporter.stats", stats)
    features = [{"name": "amount", "type": "numeric", "method": "wasserstein"}]
    assert _one(features=features).features[0].drift.method == "wasserstein"
    assert _model_error(
        features=[{"name": "c", "type": "categorical", "method": "wasserstein"}]
    ).endswith("does not apply to categorical feature 'c' (no known method applies)")


# --- schedule, streams, reference ---------------------------------------------------------


def test_a_valid_cron_line_is_kept_verbatim() -> None:
    assert _one(schedule={"cron": "*/5 * * * *"}).schedule.cron == "*/5 * * * *"


@pytest.mark.parametrize("line", ["* * * *", "61 * * * *", "every minute", "* * * * * *"])
def test_an_invalid_cron_line_names_the_cron_path(line: str) -> None:
    assert _model_error(schedule={"cron": line}).startswith(
        f"models[0].schedule.cron: invalid cron line {line!r}: "
    )


@pytest.mark.parametrize("schedule", [{}, {"interval": "1m", "cron": "* * * * *"}])
def test_a_schedule_needs_exactly_one_of_interval_and_cron(schedule: dict[str, str]) -> None:
    assert _model_error(schedule=schedule) == (
        "models[0].schedule: must set exactly one of: interval, cron"
    )


def test_stream_keys_default_per_key() -> None:
    streams = _one(streams={"labels": "fraud-labels"}).streams
    assert (streams.predictions, streams.labels) == ("mlmon:{fraud}:predictions", "fraud-labels")


def test_a_relative_reference_file_resolves_against_base_dir_and_absolute_ones_stay() -> None:
    assert _one(reference={"file": "ref/fraud.csv"}).reference.file == "/etc/mlmon/ref/fraud.csv"
    assert _one(reference={"file": "/data/f.csv"}).reference.file == "/data/f.csv"


def test_load_config_resolves_reference_files_against_the_config_directory(
    tmp_path: Path,
) -> None:
    path = tmp_path / "conf" / "exporter.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({"models": [_model(reference={"file": "../ref.csv"})]}))
    assert load_config(str(path), {}).models[0].reference.file == str(tmp_path / "ref.csv")


def test_positive_class_scalars_are_stringified() -> None:
    assert _one(positive_class=1).positive_class == "1"
    assert _one(positive_class="yes").positive_class == "yes"
    assert _one(task=Task.MULTICLASS.value).positive_class is None
