"""A class the config's `classes` lists keeps its own name in the window, however many
unknown predicted classes came before it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from exporter.config import load_config
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from tests.helpers import Clock

T0 = 1_700_000_000.0
CLASSES = ("a", "b", "c", "d", "e")  # the reference predicts only a, b and c


def test_configured_classes_absent_from_the_reference_never_fold_after_junk_classes(
    tmp_path: Path,
) -> None:
    """60 unknown predicted classes took the window's 50 new-class slots, and the configured
    d and e, which the reference lacks, then folded into __other__ with the junk."""
    rng = np.random.default_rng(6)
    rows = [f"{rng.normal():.3f},{rng.choice(CLASSES[:3])}" for _ in range(500)]
    (tmp_path / "ref.csv").write_text("\n".join(["x,prediction", *rows]) + "\n")
    (tmp_path / "config.yaml").write_text(
        f"""
models:
  - name: q
    task: multiclass_classification
    classes: {list(CLASSES)}
    reference: {{file: ref.csv}}
    min_samples: 10
    multivariate: {{enabled: off}}
    features: [{{name: x, type: numeric}}]
"""
    )
    model = load_config(str(tmp_path / "config.yaml")).models[0]
    store, registry = SnapshotStore(), CollectorRegistry()
    pipeline = ModelPipeline(model, LiveMetrics(registry, [model]), store, Clock(T0))
    assert pipeline.evaluate(None)  # fitted: the reference's classes have their codes
    predictions = [f"junk-{i}" for i in range(60)] + ["d", "e"] * 5
    at = int(T0 * 1000)
    pipeline.ingest_predictions(
        [
            (
                f"{at}-{i}".encode(),
                {b"data": orjson.dumps({"id": f"r{i}", "features": {"x": 0.1}, "prediction": p})},
            )
            for i, p in enumerate(predictions)
        ]
    )
    labels = {"model": "q", "kind": "class"}
    assert registry.get_sample_value("mlmon_series_limited_total", labels) == 10  # junk only
    assert {"d", "e"} <= set(pipeline.window.classes.values)
