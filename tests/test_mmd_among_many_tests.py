"""A moved mmd embedding is flagged beside many tested features, model-wide and per segment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from exporter.config import ModelConfig, load_config_text
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.collector import SnapshotCollector
from exporter.expose.live import LiveMetrics

T0 = 1_700_000_000.0
DIM = 8
NUMERIC = [f"x{i}" for i in range(6)]


def _model(tmp: Path, segments: str = "") -> ModelConfig:
    """Six healthy numeric features (six p-values in the correction) and one mmd embedding."""
    numeric = "".join(f"      - {{name: {name}, type: numeric}}\n" for name in NUMERIC)
    text = f"""
models:
  - name: m
    task: regression
    reference: {{file: ref.jsonl}}
    window: {{duration: 1d, max_samples: 5000}}
    features:
{numeric}      - {{name: emb, type: embedding, dimension: {DIM}, method: mmd}}
{segments}"""
    return load_config_text(text, base_dir=str(tmp)).models[0]


def _features(rng: np.random.Generator, centre: float) -> dict[str, object]:
    """Numeric features from one fixed law; the vector around `centre` in every component."""
    row: dict[str, object] = {name: float(rng.normal()) for name in NUMERIC}
    row["emb"] = (centre + rng.normal(0.0, 1.0, DIM)).tolist()
    return row


def _write_reference(tmp: Path, rng: np.random.Generator, rows: int) -> None:
    lines = (
        orjson.dumps({**_features(rng, 0.0), "prediction": 1.0, "label": 1.0}) for _ in range(rows)
    )
    (tmp / "ref.jsonl").write_bytes(b"\n".join(lines) + b"\n")


def _metrics(model: ModelConfig, rows: list[tuple[dict[str, object], str]]) -> dict[tuple, float]:
    """Drift series on /metrics after one evaluation: (name, segment value or '', feature)."""
    store = SnapshotStore()
    pipeline = ModelPipeline(
        model, LiveMetrics(CollectorRegistry(), [model]), store, lambda: T0 + len(rows)
    )
    entries = []
    for i, (features, region) in enumerate(rows):
        payload = {"id": f"p{i}", "ts": T0 + i * 0.001, "features": features, "prediction": 1.0}
        payload["tags"] = {"region": region}
        entries.append((f"{int(T0 * 1000) + i}-0".encode(), {b"data": orjson.dumps(payload)}))
    pipeline.ingest_predictions(entries)
    assert pipeline.evaluate(None)
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(store, [model], lambda: True))
    return {
        (s.name, s.labels.get("segment_value", ""), s.labels.get("feature")): s.value
        for family in registry.collect()
        if "drift" in family.name
        for s in family.samples
    }


def test_a_moved_mmd_embedding_is_flagged_beside_six_healthy_tested_features(
    tmp_path: Path,
) -> None:
    """Before: its p-value could not go below 1/101, and BH over 7 tests made it 0.069."""
    rng = np.random.default_rng(1)
    _write_reference(tmp_path, rng, 600)
    window = [(_features(rng, 3.0), "-") for _ in range(400)]
    m = _metrics(_model(tmp_path), window)
    p_value = m["mlmon_feature_drift_p_value", "", "emb"]
    assert p_value < 0.05 / 7, p_value
    assert m["mlmon_feature_drift_detected", "", "emb"] == 1.0
    assert [m["mlmon_feature_drift_detected", "", name] for name in NUMERIC] == [0.0] * 6


def test_a_moved_mmd_embedding_is_flagged_in_its_segment_among_fourteen_tests(
    tmp_path: Path,
) -> None:
    """Two tag values of seven tested features each: BH over 14 tests, the floor gave 0.14."""
    rng = np.random.default_rng(2)
    _write_reference(tmp_path, rng, 600)
    model = _model(tmp_path, "    segments: [{tag: region, max_values: 3, min_samples: 50}]\n")
    window = [
        (_features(rng, 3.0 if region == "eu" else 0.0), region)
        for region in ("eu", "us")
        for _ in range(300)
    ]
    m = _metrics(model, window)
    assert m["mlmon_segment_feature_drift_detected", "eu", "emb"] == 1.0
    assert m["mlmon_segment_feature_drift_detected", "us", "emb"] == 0.0
    assert [m["mlmon_segment_feature_drift_detected", "eu", n] for n in NUMERIC] == [0.0] * 6
