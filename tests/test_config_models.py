"""A valid config file: what each key becomes, and how a model's keys layer over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from exporter.config import (
    Bounds,
    DriftSpec,
    ScheduleConfig,
    load_config,
)
from tests.config_cases import (
    ROOT,
    load_doc,
    load_model,
    model_keys,
)


def test_the_example_loads_with_paths_resolved_against_its_directory() -> None:
    config = load_config(str(ROOT / "config" / "example.yaml"), environ={})
    fraud, eta = config.models
    assert fraud.reference.file == str(ROOT / "config" / "reference" / "fraud.csv")
    assert eta.reference.redis_key == "mlmon:{eta}:reference"
    assert eta.schedule == ScheduleConfig(interval_seconds=None, cron="*/5 * * * *")
    assert config.redis.password is None and config.redis.tls.ca_file is None


def test_valid_top_level_values_are_stored_normalised() -> None:
    config = load_doc(
        {
            "models": [model_keys()],
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
    config = load_doc({"models": [model_keys()], "web": {"listen_address": "127.0.0.1:0"}})
    assert config.web.listen_address == "127.0.0.1:0"


def test_without_defaults_models_get_the_dataclass_defaults() -> None:
    model = load_model()
    assert model.window.duration_seconds == 3600.0 and model.schedule.interval_seconds == 60.0
    assert model.min_samples == 100 and model.drift_share == 0.5
    assert model.features[0].drift == DriftSpec()
    assert model.streams.predictions == "mlmon:{fraud}:predictions"
    assert model.streams.labels == "mlmon:{fraud}:labels"
    assert model.reference.redis_key == "mlmon:{fraud}:reference"


def test_a_model_window_keeps_default_keys_it_does_not_set() -> None:
    defaults = {"window": {"duration": "1h", "max_samples": 5000}}
    config = load_doc({"defaults": defaults, "models": [model_keys(window={"duration": "10m"})]})
    assert (config.models[0].window.duration_seconds, config.models[0].window.max_samples) == (
        600.0,
        5000,
    )


def test_slo_and_labels_merge_key_by_key_with_defaults() -> None:
    defaults = {
        "slo": {"latency_target": "250ms", "objective": 0.9},
        "labels": {"horizon": "1h", "max_pending": 10},
    }
    model = model_keys(slo={"objective": 0.999}, labels={"max_pending": 20})
    config = load_doc({"defaults": defaults, "models": [model]}).models[0]
    assert (config.slo.latency_target_seconds, config.slo.objective) == (0.25, 0.999)
    assert (config.labels.horizon_seconds, config.labels.max_pending) == (3600.0, 20)


def test_a_model_schedule_replaces_the_default_schedule_as_a_whole() -> None:
    doc = {
        "defaults": {"schedule": {"interval": "5m"}},
        "models": [model_keys(schedule={"cron": "0 * * * *"}), model_keys(name="other")],
    }
    cron, inherited = load_doc(doc).models
    assert cron.schedule == ScheduleConfig(interval_seconds=None, cron="0 * * * *")
    assert inherited.schedule == ScheduleConfig(interval_seconds=300.0, cron=None)


def test_scalar_defaults_apply_to_every_model_unless_overridden() -> None:
    doc = {
        "defaults": {"min_samples": 7, "max_versions": 3},
        "models": [model_keys(), model_keys(name="other", min_samples=9)],
    }
    first, second = load_doc(doc).models
    assert (first.min_samples, first.max_versions) == (7, 3)
    assert (second.min_samples, second.max_versions) == (9, 3)


def test_a_model_performance_replaces_the_default_performance() -> None:
    doc = {
        "defaults": {"performance": {"accuracy": {"min": 0.8}, "recall": {"min": 0.5}}},
        "models": [model_keys(performance={"accuracy": {"min": 0.95}})],
    }
    assert load_doc(doc).models[0].performance == (("accuracy", Bounds(min=0.95)),)


def test_max_drop_is_read_next_to_min_and_max() -> None:
    model = load_model(
        task="regression",
        performance={"mae": {"max_drop": 0.5}, "r2": {"min": 0.5, "max_drop": 0.1}},
    )
    assert model.performance == (
        ("mae", Bounds(max_drop=0.5)),
        ("r2", Bounds(min=0.5, max_drop=0.1)),
    )


def test_default_performance_keeps_only_metrics_each_model_gets() -> None:
    defaults = {"performance": {"accuracy": {"min": 0.8}, "rmse": {"max": 3}, "f1": {"min": 0.5}}}
    models = [
        model_keys(),
        model_keys(name="eta", task="regression"),
        model_keys(name="pos", positive_class=1),
    ]
    plain, regression, with_positive = load_doc({"defaults": defaults, "models": models}).models
    assert [m for m, _ in plain.performance] == ["accuracy"]
    assert regression.performance == (("rmse", Bounds(max=3.0)),)
    assert [m for m, _ in with_positive.performance] == ["accuracy", "f1"]


def test_performance_is_sorted_by_metric_name() -> None:
    model = load_model(
        positive_class="yes",
        performance={"recall": {"min": 0.1}, "f1": {"min": 0.2}, "accuracy": {"max": 1}},
    )
    assert [m for m, _ in model.performance] == ["accuracy", "f1", "recall"]


def test_range_and_allowed_are_stored_with_allowed_values_stringified() -> None:
    features = [
        {"name": "amount", "type": "numeric", "range": [0, 10]},
        {"name": "level", "type": "categorical", "allowed": [1, "two", 3.5, True]},
    ]
    amount, level = load_model(features=features).features
    assert amount.range == (0.0, 10.0)
    assert level.allowed == ("1", "two", "3.5", "true")


def test_a_valid_cron_line_is_kept_verbatim() -> None:
    assert load_model(schedule={"cron": "*/5 * * * *"}).schedule.cron == "*/5 * * * *"


def test_stream_keys_default_per_key() -> None:
    streams = load_model(streams={"labels": "fraud-labels"}).streams
    assert (streams.predictions, streams.labels) == ("mlmon:{fraud}:predictions", "fraud-labels")


def test_a_relative_reference_file_resolves_against_base_dir_and_absolute_ones_stay() -> None:
    assert (
        load_model(reference={"file": "ref/fraud.csv"}).reference.file == "/etc/mlmon/ref/fraud.csv"
    )
    assert load_model(reference={"file": "/data/f.csv"}).reference.file == "/data/f.csv"


def test_load_config_resolves_reference_files_against_the_config_directory(
    tmp_path: Path,
) -> None:
    path = tmp_path / "conf" / "exporter.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({"models": [model_keys(reference={"file": "../ref.csv"})]}))
    assert load_config(str(path), {}).models[0].reference.file == str(tmp_path / "ref.csv")


def test_positive_class_scalars_are_stringified() -> None:
    assert load_model(positive_class=1).positive_class == "1"
    assert load_model(positive_class="yes").positive_class == "yes"


@pytest.mark.parametrize("level", ["warn", "WARN", "warning"])
def test_log_level_takes_the_flags_spelling_warn_as_well(level: str) -> None:
    """`--log.level=warn` was accepted and `log_level: warn` refused."""
    assert load_doc({"models": [model_keys()], "log_level": level}).log_level == "warning"
