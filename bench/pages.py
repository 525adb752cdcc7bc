"""Drill-down pages: render time of /models and a model page for 100 models of 50 features."""

from __future__ import annotations

import time

import numpy as np

from bench.common import machine, median_seconds
from exporter.evaluate.histograms import FeatureHistogram
from exporter.evaluate.snapshot import DriftValue, FeatureSnapshot, ModelSnapshot, SnapshotStore
from exporter.web.pages import render
from exporter.web.views import models_view

MODELS, FEATURES, BINS = 100, 50, 12


def _store() -> SnapshotStore:
    rng = np.random.default_rng(3)
    store = SnapshotStore()
    for m in range(MODELS):
        features = []
        for f in range(FEATURES):
            ref = rng.dirichlet(np.ones(BINS))
            win = rng.dirichlet(np.ones(BINS))
            score = float(rng.uniform(0, 0.3))
            features.append(
                FeatureSnapshot(
                    f"feature_{f}",
                    DriftValue("psi", score, None, 0.1, score >= 0.1),
                    0.01,
                    out_of_range_ratio=0.0,
                    histogram=FeatureHistogram(
                        tuple(f"bin {i}" for i in range(BINS)),
                        tuple(ref),
                        tuple(win),
                        (False,) * BINS,
                    ),
                )
            )
        store.publish(
            ModelSnapshot(
                f"model_{m}",
                time.time(),
                0.1,
                10000,
                100000,
                tuple(features),
                0.3,
                False,
                None,
                (("accuracy", 0.9),),
                (),
            )
        )
    return store


def main() -> None:
    """Print the table: rendering against building the same data as plain JSON (baseline)."""
    store = _store()
    names = [f"model_{m}" for m in range(MODELS)]
    baseline = median_seconds(lambda: models_view(store, names))
    fleet = median_seconds(lambda: render("/models", "text/html", store, names))
    model = median_seconds(lambda: render("/models/model_0", "text/html", store, names))
    print(f"## Drill-down pages ({time.strftime('%Y-%m-%d')}; {machine()})\n")
    print(f"{MODELS} models of {FEATURES} features, {BINS} bins each; median of 5 runs.\n")
    print("| Page | Seconds | Ratio to building its data only |")
    print("|---|---:|---:|")
    print(f"| building the /models data (baseline) | {baseline:.4f} | 1.00 |")
    print(f"| /models as HTML | {fleet:.4f} | {fleet / baseline:.2f} |")
    print(f"| /models/model_0 as HTML (50 sparklines) | {model:.4f} | {model / baseline:.2f} |")


if __name__ == "__main__":
    main()
