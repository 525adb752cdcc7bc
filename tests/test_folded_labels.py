"""A label whose class the model does not name is counted and named in the log: folded into
`__other__` silently, a 0/1 model fed JSON true/false read accuracy 0 with no cause shown."""

from __future__ import annotations

import logging

import orjson
import pytest
from prometheus_client import CollectorRegistry

from exporter.daemon.pipeline import ModelPipeline
from exporter.stats.kinds import Task
from tests.helpers import classifier_pipeline

T0 = 1_700_000_000.0


def _pipeline() -> tuple[ModelPipeline, CollectorRegistry]:
    return classifier_pipeline(Task.BINARY, ("0", "1"), 2000, lambda: T0 + 1, "1")


def _entry(seq: int, records: list[dict[str, object]]) -> tuple[bytes, dict[bytes, bytes]]:
    return f"{int(T0 * 1000)}-{seq}".encode(), {b"batch": orjson.dumps(records)}


def _folded_after(labels: list[object]) -> float | None:
    """The class folds counted after joining `labels` to predictions 0, 1, 0, 1..."""
    pipeline, registry = _pipeline()
    predictions = [{"id": f"r{i}", "features": {}, "prediction": i % 2} for i in range(100)]
    pipeline.ingest_predictions([_entry(0, predictions)])
    records = [{"id": f"r{i}", "label": label} for i, label in enumerate(labels)]
    pipeline.ingest_labels([_entry(1, records[:50]), _entry(2, records[50:])])
    return registry.get_sample_value("mlmon_series_limited_total", {"model": "m", "kind": "class"})


def test_boolean_labels_of_a_0_1_model_are_counted_folded_and_named_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="exporter.pipeline")
    assert _folded_after([bool(i % 2) for i in range(100)]) == 100
    warnings = [r.getMessage() for r in caplog.records if "label class" in r.getMessage()]
    assert len(warnings) == 1
    assert "'false'" in warnings[0] and "'0', '1'" in warnings[0]
    assert 'mlmon_series_limited_total{kind="class"}' in warnings[0]


def test_labels_spelling_the_configured_classes_are_not_counted_folded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="exporter.pipeline")
    spellings: list[list[object]] = [[0, 0.0, "0"], [1, 1.0, "1"]]
    assert _folded_after([spellings[i % 2][i % 3] for i in range(100)]) == 0
    assert not [r for r in caplog.records if "label class" in r.getMessage()]
