"""Segments: embedding features get per-value drift and missing ratios like the other features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from prometheus_client import CollectorRegistry

from exporter.config import ModelConfig, load_config_text
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.fit import fit_reference
from exporter.evaluate.fitembed import shares
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.collector import SnapshotCollector
from exporter.expose.live import LiveMetrics
from exporter.reference.load import read_reference_file
from exporter.stats.embedding import DomainClassifier

T0 = 1_700_000_000.0
DIM = 4


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _model(tmp: Path, segments: str, embedding: str = "") -> ModelConfig:
    text = f"""
models:
  - name: m
    task: regression
    reference: {{file: ref.jsonl}}
    window: {{duration: 1d, max_samples: 5000}}
    features:
      - {{name: x, type: numeric}}
      - {{name: country, type: categorical}}
      - {{name: emb, type: embedding, dimension: {DIM}{embedding}}}
    segments: [{segments}]
"""
    return load_config_text(text, base_dir=str(tmp)).models[0]


def _record(rng: np.random.Generator, country: str, centre: float, missing: bool) -> dict:
    """One row: a uniform x and, unless missing, a vector around centre in every component."""
    vector = None if missing else (centre + rng.normal(0.0, 1.0, DIM)).tolist()
    return {"x": float(rng.uniform(0, 10)), "country": country, "emb": vector}


def _write_reference(tmp: Path, rows: list[dict]) -> None:
    lines = (orjson.dumps({**row, "prediction": 1.0, "label": 1.0}) for row in rows)
    (tmp / "ref.jsonl").write_bytes(b"\n".join(lines) + b"\n")


def _metrics(model: ModelConfig, rows: list[tuple[dict, str]]) -> dict[tuple, float]:
    """The segment series on /metrics after one evaluation of rows (features, region tag)."""
    store = SnapshotStore()
    clock = Clock(T0 + len(rows))
    pipeline = ModelPipeline(model, LiveMetrics(CollectorRegistry(), [model]), store, clock)
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
        (s.name, s.labels["segment_value"], s.labels.get("feature")): s.value
        for family in registry.collect()
        if family.name.startswith("mlmon_segment_")
        for s in family.samples
    }


def test_a_segment_whose_embeddings_moved_reports_their_drift_missing_ratio_and_drift_share(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(3)
    _write_reference(tmp_path, [_record(rng, "DE", 0.0, False) for _ in range(1000)])
    model = _model(tmp_path, "{tag: region, max_values: 3, min_samples: 50}", ", method: pca_ks")
    window = [
        (_record(rng, "DE", 3.0 if region == "eu" else 0.0, i % 5 == 0), region)
        for region in ("eu", "us")
        for i in range(300)
    ]
    m = _metrics(model, window)
    assert m["mlmon_segment_feature_missing_ratio", "eu", "emb"] == 0.2
    assert m["mlmon_segment_feature_missing_ratio", "us", "emb"] == 0.2
    assert m["mlmon_segment_feature_drift_detected", "eu", "emb"] == 1.0
    assert m["mlmon_segment_feature_drift_detected", "us", "emb"] == 0.0
    assert m["mlmon_segment_feature_drift_detected", "eu", "x"] == 0.0
    # x, country and emb compared (a tag key leaves no feature out): one of three drifted.
    assert m["mlmon_segment_drift_share_ratio", "eu", None] == pytest.approx(1 / 3)
    assert m["mlmon_segment_drift_share_ratio", "us", None] == 0.0


def test_a_feature_keys_values_compare_embeddings_with_their_own_rows_within_one_sample(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(4)
    reference = [_record(rng, c, 3.0 if c == "DE" else 0.0, False) for c in ("DE", "FR") * 600]
    _write_reference(tmp_path, reference)
    segment = "{feature: country, max_values: 3, min_samples: 100}"
    model = _model(tmp_path, segment, ", method: domain_classifier, sample_rows: 200")
    # DE as in its own rows (against the whole reference, half at 0, it would drift); FR moved
    # to where DE is.
    window = [(_record(rng, c, 3.0, False), "-") for c in ("DE", "FR") * 300]
    m = _metrics(model, window)
    assert m["mlmon_segment_reference_own", "DE", None] == 1.0
    assert m["mlmon_segment_feature_drift_detected", "DE", "emb"] == 0.0
    assert m["mlmon_segment_feature_drift_detected", "FR", "emb"] == 1.0
    assert m["mlmon_segment_feature_missing_ratio", "FR", "emb"] == 0.0
    # The values split the model-wide method's 200 kept rows, not 200 each.
    fitted = fit_reference(model, read_reference_file(model, model.reference.file or ""))
    whole = fitted.embeddings[0].method
    own = [fit.embeddings[0].method for fit in fitted.segments["country"].values()]
    assert isinstance(whole, DomainClassifier) and whole.nbytes == 8 * 200 * DIM
    assert len(own) == 2 and all(isinstance(m, DomainClassifier) for m in own)
    assert sum(m.nbytes for m in own if m is not None) == whole.nbytes


def test_a_small_segment_value_keeps_all_its_vectors_and_the_others_split_the_rest() -> None:
    assert shares([5, 1000, 1000], 200) == [5, 97, 98]
    assert shares([300, 300], 200) == [100, 100]
    assert sum(shares([50] * 100, 1000)) == 1000
