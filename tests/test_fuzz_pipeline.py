"""Hostile records through the whole path: decode, window, evaluation and /metrics text."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import FeatureConfig, ModelConfig, ReferenceConfig, StreamsConfig
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.collector import SnapshotCollector
from exporter.expose.exposition import Exposition
from exporter.expose.live import LiveMetrics
from exporter.reference.load import parse_reference
from exporter.stats.kinds import FeatureType, Task
from tests.conftest import require_tool

MODELS = {
    task: ModelConfig(
        name=task.value,
        task=task,
        positive_class="1" if task is Task.BINARY else None,
        features=(
            FeatureConfig(name="x", type=FeatureType.NUMERIC),
            FeatureConfig(name="c", type=FeatureType.CATEGORICAL),
        ),
        streams=StreamsConfig(predictions=f"p{task.value}", labels=f"l{task.value}"),
        reference=ReferenceConfig(file="ref.csv"),
        max_versions=5,
        max_new_categories=5,
    )
    for task in (Task.BINARY, Task.REGRESSION)
}
REFERENCE = "x,c,prediction,label,score\n" + "".join(
    f"{i % 17 / 3},{'abc'[i % 3]},{i % 2},{(i // 2) % 2},{(i % 10) / 10}\n" for i in range(300)
)

hostile_text = (
    st.text(st.characters(categories=["Cs", "L", "N", "P", "Zs", "Cc"]), max_size=12)
    | st.integers(1_000, 200_000).map(lambda n: "v" * n)
    | st.sampled_from(
        ['"', "\\", "\n", "\u2028", "\ufffe", "__other__", "", "v\ud800", "\udfff", "a\ud800b"]
    )
)
extreme_numbers = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e308, -1e308, 5e-324, -5e-324, 1e200, -2e200, 0.0, -0.0])
    | st.integers(-(2**70), 2**70)
)
values = st.none() | st.booleans() | hostile_text | extreme_numbers
scores = extreme_numbers | st.dictionaries(hostile_text, extreme_numbers, max_size=4)
# A valid record with one to three fields made hostile: most examples then reach the window,
# the counters' labels and the pages, where a bad value does its harm.
hostile_fields = {
    "id": hostile_text | st.integers(),
    "ts": extreme_numbers,
    "version": values,
    "features": st.fixed_dictionaries({"x": values, "c": values}),
    "prediction": values,
    "scores": scores,
    "latency_ms": extreme_numbers,
    "status": st.sampled_from(["ok", "error", "ERR"]),
    "sample_rate": extreme_numbers,
    "label": values,
    "extra": values,
}
records = (
    st.lists(st.sampled_from(sorted(hostile_fields)), min_size=1, max_size=3, unique=True)
    .flatmap(lambda keys: st.fixed_dictionaries({k: hostile_fields[k] for k in keys}))
    .map(
        lambda hostile: {
            "id": "r",
            "version": "v1",
            "features": {"x": 1.5, "c": "a"},
            "prediction": 1,
            "scores": 0.7,
            "label": 0,
            **hostile,
        }
    )
)


class Harness:
    """A fresh fitted pipeline per task, so no cap is already full when an example comes."""

    def __init__(self) -> None:
        self.live = CollectorRegistry()
        self.metrics = LiveMetrics(self.live, MODELS.values())
        self.store = SnapshotStore()
        self.pipelines = {}
        for task, model in MODELS.items():
            pipeline = ModelPipeline(model, self.metrics, self.store)
            pipeline.fit(parse_reference(model, REFERENCE.encode(), "csv", "ref.csv"))
            self.pipelines[task] = pipeline
        collector = SnapshotCollector(self.store, list(MODELS.values()), lambda: True)
        self.exposition = Exposition(self.live, collector, self.metrics.render_failures)
        self.seq = 0

    def entry(self, payload: Any, batch: bool) -> tuple[bytes, dict[bytes, bytes]]:
        self.seq += 1
        field = b"batch" if batch else b"data"
        body = json.dumps([payload] * 3 if batch else payload).encode()  # \ud800 stays escaped
        return f"{int(time.time() * 1000)}-{self.seq}".encode(), {field: body}


CHECKED = 0


def _promtool_accepts(body: str) -> None:
    check = subprocess.run(
        [require_tool("promtool"), "check", "metrics"],
        input=body,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "error" not in (check.stdout + check.stderr).lower(), check.stdout + check.stderr


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(record=records, batch=st.booleans(), task=st.sampled_from(list(MODELS)))
def test_any_record_leaves_every_scrape_parseable_and_every_evaluation_standing(
    record: dict[str, Any], batch: bool, task: Task
) -> None:
    global CHECKED
    harness = Harness()
    pipeline = harness.pipelines[task]
    pipeline.ingest_predictions([harness.entry(record, batch)])
    pipeline.ingest_labels([harness.entry(record, batch)])
    assert pipeline.evaluate(None)
    for accept in ("", "application/openmetrics-text; version=1.0.0"):
        body, _ = harness.exposition.render(accept)
        text = body.decode("utf-8")  # strict: a lone surrogate would raise here
        assert harness.exposition.healthy
        if not accept:
            list(text_string_to_metric_families(text))
            CHECKED += 1
            if CHECKED % 50 == 1:  # promtool every 50 examples: a process each time
                _promtool_accepts(text)
    lost = harness.live.get_sample_value(
        "mlmon_stream_entries_lost_total", {"model": task.value, "kind": "predictions"}
    )
    assert lost == 0
    assert len(text.encode()) < 1_000_000
