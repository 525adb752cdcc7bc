"""Segment and version codes through the label join: every value keeps its own labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from exporter.config import ModelConfig, load_config_text
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics

T0 = 1_700_000_000.0
MERCHANTS = [f"m{i:04d}" for i in range(5000)]
BUSY = {"m0001": 0.1, "m4500": 0.3, "m4999": 0.5}  # each busy merchant's share of wrong labels


def _model(tmp: Path, rows: int) -> ModelConfig:
    """A model segmented by a merchant feature whose reference holds 5,000 merchants."""
    rng = np.random.default_rng(1)
    with (tmp / "ref.csv").open("w") as fh:
        fh.write("amount,merchant,prediction,label\n")
        for i in range(2 * len(MERCHANTS)):
            y = int(rng.random() < 0.5)
            fh.write(f"{rng.normal(100, 20):.3f},{MERCHANTS[i % len(MERCHANTS)]},{y},{y}\n")
    text = f"""
models:
  - name: m
    task: binary_classification
    positive_class: "1"
    reference: {{file: ref.csv}}
    window: {{duration: 1d, max_samples: {rows}}}
    features:
      - {{name: amount, type: numeric}}
      - {{name: merchant, type: categorical}}
    segments:
      - {{feature: merchant, max_values: 3, min_samples: 100}}
"""
    return load_config_text(text, base_dir=str(tmp)).models[0]


def _entries(
    payloads: list[dict[str, object]], at: float = T0
) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Stream entries of the payloads, their IDs from `at` on (a record's ts may not pass it)."""
    return [
        (f"{int(at * 1000)}-{i}".encode(), {b"data": orjson.dumps(p)})
        for i, p in enumerate(payloads)
    ]


def test_merchants_past_the_four_thousand_and_ninety_fourth_keep_their_own_accuracy(
    tmp_path: Path,
) -> None:
    """Codes of 4,094 and up were clamped in the label join: m4500 and m4999 had no accuracy,
    and their 600 labelled pairs went into __other__ (0.642 over 900 pairs, not 0.757)."""
    rng = np.random.default_rng(2)
    merchant = [m for m in BUSY for _ in range(300)]
    merchant += [MERCHANTS[i] for i in rng.integers(10, 4400, 300)]
    n = len(merchant)
    predicted = rng.integers(0, 2, n)
    wrong = rng.random(n) < np.array([BUSY.get(m, 0.2) for m in merchant])
    label = np.where(wrong, 1 - predicted, predicted)
    model = _model(tmp_path, n)
    store = SnapshotStore()
    clock = lambda: T0 + 10  # noqa: E731
    pipeline = ModelPipeline(model, LiveMetrics(CollectorRegistry(), [model]), store, clock)
    pipeline.refresh_reference(None)  # the daemon fits the reference before it reads records
    features = [{"amount": 100.0, "merchant": m} for m in merchant]
    pipeline.ingest_predictions(
        _entries(
            [
                {"id": f"r{i}", "ts": T0, "features": f, "prediction": str(predicted[i])}
                for i, f in enumerate(features)
            ]
        )
    )
    pipeline.ingest_labels(
        _entries([{"id": f"r{i}", "label": str(y)} for i, y in enumerate(label)])
    )
    assert pipeline.evaluate(None)

    got = {
        s.value: (s.samples, dict(s.performance).get("accuracy"))
        for s in store.models["m"].segments
    }
    at = np.array(merchant)
    want = {m: (300, float(np.mean(label[at == m] == predicted[at == m]))) for m in BUSY}
    rest = ~np.isin(at, list(BUSY))
    want["__other__"] = (300, float(np.mean(label[rest] == predicted[rest])))
    assert got == want


def test_versions_past_the_four_thousand_and_ninety_fourth_keep_their_own_labels(
    tmp_path: Path,
) -> None:
    """With max_versions 5,000, 4,100 versions seen an hour before: versions a and b got
    codes 4,100 and 4,101, clamped alike in the label join, and neither had any labelled
    prediction of its own."""
    model = _model(tmp_path, 5000).model_copy(update={"max_versions": 5000, "segments": ()})
    model = model.model_copy(
        update={"window": model.window.model_copy(update={"duration_seconds": 3600.0})}
    )
    store = SnapshotStore()
    clock = lambda: T0 + 7300  # noqa: E731
    pipeline = ModelPipeline(model, LiveMetrics(CollectorRegistry(), [model]), store, clock)
    pipeline.refresh_reference(None)
    record = {"features": {"amount": 100.0, "merchant": "m0001"}, "prediction": "1"}
    gone = [{**record, "ts": T0, "version": f"old{i}"} for i in range(4100)]
    versions = ["a"] * 300 + ["b"] * 200
    recent = [
        {**record, "id": f"r{i}", "ts": T0 + 7200, "version": v} for i, v in enumerate(versions)
    ]
    pipeline.ingest_predictions(_entries(gone))
    pipeline.ingest_predictions(_entries(recent, T0 + 7200))
    right = ["1"] * 240 + ["0"] * 60 + ["1"] * 100 + ["0"] * 100  # a: 0.8, b: 0.5
    pipeline.ingest_labels(
        _entries([{"id": f"r{i}", "label": y} for i, y in enumerate(right)], T0 + 7250)
    )
    assert pipeline.evaluate(None)

    got = store.models["m"].versions
    assert got is not None
    accuracy = {v.version: (v.labeled, dict(v.performance).get("accuracy")) for v in got.versions}
    assert accuracy == {"a": (300, 0.8), "b": (200, 0.5)}
