"""Every mistake in a config file is a ConfigError naming the key path to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exporter.config import (
    ConfigError,
    load_config,
    load_config_text,
)
from exporter.stats import METHODS
from tests.config_cases import (
    load_doc,
    load_error,
    load_model,
    model_error,
    model_keys,
)

# Every key a models entry may hold: the ones only a model sets, then those defaults may set.
MODEL_KEYS = (
    *("name", "task", "positive_class", "classes", "streams", "reference", "features"),
    "segments",
    *("window", "schedule", "slo", "labels", "multivariate", "min_samples", "drift_share"),
    *("max_new_categories", "max_versions", "max_entry_bytes", "histogram_bins", "versions"),
    "change",
    *("drift", "prediction_drift", "performance"),
)


def test_unknown_key_is_an_error_naming_its_path() -> None:
    expected = ", ".join(sorted(MODEL_KEYS))
    assert model_error(windw={"duration": "1h"}) == (
        f"models[0].windw: unknown key (expected one of: {expected})"
    )


def test_unknown_top_level_key_is_named_without_a_prefix() -> None:
    message = load_error({"models": [model_keys()], "modles": []})
    assert message.startswith("modles: unknown key (expected one of: defaults, log_level,")


def test_unknown_key_deep_in_defaults_names_the_full_path() -> None:
    message = load_error({"defaults": {"window": {"durations": "1h"}}, "models": [model_keys()]})
    assert message == (
        "defaults.window.durations: unknown key (expected one of: duration, max_samples)"
    )


def test_a_bad_feature_type_names_the_model_and_feature_index() -> None:
    models = [
        model_keys(name="a"),
        model_keys(name="b"),
        model_keys(name="c", features=[{"name": "x", "type": "float"}]),
    ]
    assert load_error({"models": models}).startswith(
        "models[2].features[0].type: must be numeric, categorical or embedding"
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
        ({"histogram_bins": 1}, "models[0].histogram_bins: must be from 2 to 100, got 1"),
        ({"histogram_bins": 10**20}, "models[0].histogram_bins: must be from 2 to 100, got 1000"),
        ({"window": {"max_samples": 10**20}}, "models[0].window.max_samples: must be from 1 to"),
        ({"labels": {"max_pending": 10**20}}, "models[0].labels.max_pending: must be from 1 to"),
        ({"max_new_categories": -1}, "models[0].max_new_categories: must be at least 0"),
        ({"drift_share": 0}, "models[0].drift_share: must be greater than 0 and at most 1"),
        ({"drift_share": 1.5}, "models[0].drift_share: must be greater than 0 and at most 1"),
        ({"slo": {"objective": 1}}, "models[0].slo.objective: must be between 0 and 1"),
        ({"window": {"max_samples": -5}}, "models[0].window.max_samples: must be from 1 to"),
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
    assert model_error(**overrides).startswith(message)


def test_a_missing_required_key_says_it_is_required() -> None:
    model = model_keys()
    del model["task"]
    assert load_error({"models": [model]}).startswith("models[0].task: is required (one of:")


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
        ({"redis": {"url": "redis://localhost:6379/l"}}, "redis.url: invalid database"),
        ({"redis": {"url": "redis://localhost/1?db=x"}}, "redis.url: invalid database"),
        ({"redis": {"read_count": 0}}, "redis.read_count: must be positive"),
        ({"redis": {"block": "0.1ms"}}, "redis.block: must be at least 1ms"),
        ({"redis": {"linger": "10s"}}, "redis.linger: must be at most 5s, got 10.0s"),
        ({"redis": {"linger": 0}}, "redis.linger: must be a positive duration, got 0"),
        (
            {"redis": {"tls": {"ca_file": "ca.pem"}}},
            "redis.tls: is set, but redis.url does not use rediss://",
        ),
    ],
)
def test_invalid_top_level_values_are_errors_naming_their_path(
    doc: dict[str, Any], message: str
) -> None:
    assert load_error({"models": [model_keys()], **doc}).startswith(message)


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost",
        "redis://localhost:6379/",
        "redis://h/15",
        "redis://h/1/",
        "redis://h/%31",
        "redis://h/l?db=2",
    ],
)
def test_a_redis_url_with_no_database_or_a_numbered_one_loads(url: str) -> None:
    assert load_doc({"models": [model_keys()], "redis": {"url": url}}).redis.url == url


def test_duplicate_model_names_point_back_at_the_first_use() -> None:
    message = load_error({"models": [model_keys(), model_keys(name="other"), model_keys()]})
    assert message == "models[2].name: duplicate model name 'fraud' (first used by models[0])"


def test_duplicate_feature_names_point_back_at_the_first_use() -> None:
    features = [{"name": "amount", "type": "numeric"}, {"name": "amount", "type": "categorical"}]
    assert model_error(features=features) == (
        "models[0].features[1].name: duplicate feature name 'amount' (first used by "
        "models[0].features[0])"
    )


def test_model_only_keys_in_defaults_say_they_belong_to_models() -> None:
    message = load_error({"defaults": {"features": []}, "models": [model_keys()]})
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


def test_a_bad_duration_names_its_path_and_the_accepted_forms() -> None:
    assert model_error(window={"duration": "10x"}) == (
        "models[0].window.duration: invalid duration '10x' "
        "(use seconds, or a string like 30s, 10m, 1h30m, 500ms)"
    )


def test_a_model_metric_for_another_task_is_an_error() -> None:
    message = model_error(task="regression", performance={"accuracy": {"min": 0.8}})
    assert message == (
        "models[0].performance.accuracy: does not apply to regression models "
        "(use one of: mae, mape, r2, rmse)"
    )


def test_positive_class_metrics_need_a_positive_class() -> None:
    message = model_error(performance={"f1": {"min": 0.8}})
    assert message == "models[0].performance.f1: needs positive_class to be set"


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
            f"(expected one of: {', '.join(sorted(METHODS))})",
        ),
    ],
)
def test_invalid_feature_settings_name_the_feature_path(
    feature: dict[str, Any], message: str
) -> None:
    assert model_error(features=[{"name": "f", **feature}]).startswith(message)


@pytest.mark.parametrize("line", ["* * * *", "61 * * * *", "every minute", "* * * * * *"])
def test_an_invalid_cron_line_names_the_cron_path(line: str) -> None:
    assert model_error(schedule={"cron": line}).startswith(
        f"models[0].schedule.cron: invalid cron line {line!r}: "
    )


@pytest.mark.parametrize("schedule", [{}, {"interval": "1m", "cron": "* * * * *"}])
def test_a_schedule_needs_exactly_one_of_interval_and_cron(schedule: dict[str, str]) -> None:
    assert model_error(schedule=schedule) == (
        "models[0].schedule: must set exactly one of: interval, cron"
    )


@pytest.mark.parametrize("schedule", [{"interval": None}, {"cron": None}])
def test_an_interval_or_cron_set_to_null_counts_as_unset_and_is_refused(
    schedule: dict[str, None],
) -> None:
    """Counted as set, it passed, then check-config, run and reloads died on an assertion."""
    assert model_error(schedule=schedule) == (
        "models[0].schedule: must set exactly one of: interval, cron"
    )
    assert load_error({"defaults": {"schedule": schedule}, "models": [model_keys()]}) == (
        "defaults.schedule: must set exactly one of: interval, cron"
    )
    assert load_model(schedule={"interval": None, "cron": "0 * * * *"}).schedule.cron


@pytest.mark.parametrize(
    ("redis", "given"),
    [
        ({"socket_timeout": "1s"}, "block 1.0s, socket_timeout 1.0s"),
        ({"block": "6s", "socket_timeout": "2s"}, "block 6.0s, socket_timeout 2.0s"),
        ({"block": "4501ms"}, "block 4.501s, socket_timeout 5.0s"),
    ],
)
def test_a_redis_block_not_half_a_second_shorter_than_the_socket_timeout_is_refused(
    redis: dict[str, str], given: str
) -> None:
    """redis-py times an XREAD BLOCK out by socket_timeout: accepted, an idle, healthy Redis
    then read as down in 17 of 18 scrapes."""
    assert load_error({"redis": redis, "models": [model_keys()]}) == (
        "redis.block: must be shorter than redis.socket_timeout by at least 500ms "
        f"({given}): an XREAD waits up to block for new entries, and a command slower than "
        "socket_timeout counts as a Redis outage"
    )
    accepted = {"socket_timeout": "1s", "block": "500ms"}
    assert load_doc({"redis": accepted, "models": [model_keys()]}).redis.block_ms == 500


def test_a_cluster_url_takes_any_socket_timeout_its_reads_never_block() -> None:
    """A cluster's reads ask node by node without BLOCK: the rule above refused
    `socket_timeout: 1s` there, a config that ran fine before it."""
    cluster = {"url": "redis+cluster://127.0.0.1:7000/0", "socket_timeout": "1s"}
    assert load_doc({"redis": cluster, "models": [model_keys()]}).redis.socket_timeout_seconds == 1


def test_a_stream_read_by_two_models_is_rejected_at_its_second_use() -> None:
    """Both were accepted, and at run time the stream went to the last model only."""
    shared = {"labels": "mlmon:shared:labels"}
    doc = {"models": [model_keys(streams=shared), model_keys(name="eta", streams=shared)]}
    assert load_error(doc) == (
        "models[1].streams.labels: stream 'mlmon:shared:labels' is already read as "
        "models[0].streams.labels"
    )


def test_a_positive_class_outside_the_classes_is_refused() -> None:
    """It folded into __other__: precision, recall, f1 and roc_auc were never exported."""
    error = model_error(classes=["ok", "chargeback"], positive_class="fraud")
    assert error == "models[0].positive_class: 'fraud' is not one of classes ['ok', 'chargeback']"


def test_a_cluster_model_whose_streams_are_in_two_hash_slots_is_refused_naming_them() -> None:
    """Accepted before: the reader's XREAD over both streams was refused by the cluster on
    every read, the reader restarted in a loop (17 times in 40 s) and /readyz stayed 503."""
    streams = {"predictions": "preds-bad", "labels": "labels-bad"}
    doc = {"redis": {"url": "redis+cluster://127.0.0.1:7000"}, "models": [model_keys()]}
    load_doc(doc)  # the default keys share the model's hash tag
    doc["models"] = [model_keys(streams=streams)]
    message = load_error(doc)
    assert message.startswith("models[0].streams: 'preds-bad' and 'labels-bad' are in different")
    load_doc({"models": [model_keys(streams=streams)]})  # one server: any keys
    tagged = {"predictions": "p:{fraud}", "labels": "l:{fraud}"}
    load_doc({**doc, "models": [model_keys(streams=tagged)]})
