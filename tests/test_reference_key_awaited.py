"""A model deployed before its `reference load`: the runs that wait for the key are owed, not
failed, so MLMonEvaluationsFailing stays quiet and the log says the wait once, not a run."""

from __future__ import annotations

import logging
from pathlib import Path

import fakeredis
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from exporter.config import load_config_text
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.reference.load import store_in_redis
from tests.helpers import model_yaml, sample, write_reference


def test_runs_before_reference_load_count_no_failure_log_once_and_evaluate_once_it_is_stored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: each of the 5 runs counted a failure and logged `evaluation failed` at error."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(31), 300))
    section = model_yaml("m").replace("{file: ref.csv}", "{redis_key: 'ref:m'}")
    text = f"redis: {{url: 'redis://127.0.0.1:1/0'}}\nmodels:{section}"
    model = load_config_text(text, base_dir=str(tmp_path)).models[0]
    registry = CollectorRegistry()
    pipeline = ModelPipeline(model, LiveMetrics(registry, [model]), SnapshotStore())
    client = fakeredis.FakeRedis()

    def sample_of(name: str) -> float | None:
        return registry.get_sample_value(name, {"model": "m"})

    with caplog.at_level(logging.INFO, logger="exporter.pipeline"):
        waited = [pipeline.evaluate(client) for _ in range(5)]

    assert waited == [False] * 5
    assert sample_of("mlmon_evaluation_failures_total") == 0
    assert sample_of("mlmon_reference_missing") == 1
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "INFO",
            "evaluations wait for the reference: model 'm': reference key ref:m is empty; "
            "run `ml-monitoring-exporter reference load`",
        )
    ]

    store_in_redis(client, "ref:m", (tmp_path / "ref.csv").read_bytes(), "csv")
    assert pipeline.evaluate(client)
    assert pipeline.reference_loaded
    assert sample_of("mlmon_evaluation_failures_total") == 0
    assert sample_of("mlmon_reference_missing") == 0
