"""What the drill-down pages show, as plain data: the JSON answers and the HTML's input."""

from __future__ import annotations

import math
from typing import Any

from exporter.evaluate.snapshot import (
    DriftValue,
    FeatureSnapshot,
    ModelSnapshot,
    SegmentSnapshot,
    SnapshotStore,
    VersionsSnapshot,
)


def severity(drift: DriftValue | None) -> float:
    """How far past its threshold a value is (above 1: drifted); unscored features sort last."""
    if drift is None:
        return -math.inf
    if drift.p_value is not None and not drift.learned:
        return drift.threshold / max(drift.p_value, 1e-300)
    return drift.score / drift.threshold if drift.threshold > 0 else math.inf


def _drift(drift: DriftValue | None) -> dict[str, Any] | None:
    if drift is None:
        return None
    return {
        "method": drift.method,
        "score": drift.score,
        "p_value": drift.p_value,
        "threshold": drift.threshold,
        "drifted": drift.drifted,
    }


def feature_row(f: FeatureSnapshot) -> dict[str, Any]:
    """One feature: drift values, quality ratios and the histogram, as /metrics has them."""
    h = f.histogram
    return {
        "feature": f.name,
        "drift": _drift(f.drift),
        "severity": _finite(severity(f.drift)),
        "missing_ratio": f.missing_ratio,
        "out_of_range_ratio": f.out_of_range_ratio,
        "unseen_category_ratio": f.unseen_category_ratio,
        "histogram": None
        if h is None
        else {
            "labels": list(h.labels),
            "reference": list(h.reference),
            "window": list(h.window),
            "unseen": list(h.unseen),
        },
    }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def model_summary(s: ModelSnapshot) -> dict[str, Any]:
    """The fleet page's row for one model."""
    drifted = [f.name for f in s.features if f.drift is not None and f.drift.drifted]
    return {
        "model": s.model,
        "evaluated_at": s.evaluated_at,
        "window_samples": s.window_samples,
        "drift_share": s.drift_share,
        "dataset_drift": s.dataset_drift,
        "drifted_features": drifted,
        "prediction_drift": _drift(s.prediction_drift),
        "max_missing_ratio": max(
            (f.missing_ratio for f in s.features if f.missing_ratio is not None), default=None
        ),
        "performance": dict(s.performance),
        "estimated_performance": dict(s.estimated_performance),
        "reference_note": s.reference_note or None,
    }


def models_view(store: SnapshotStore, names: list[str]) -> dict[str, Any]:
    """Every configured model; those not yet evaluated say so."""
    snaps = store.models
    return {
        "models": [
            model_summary(snaps[n]) if n in snaps else {"model": n, "evaluated_at": None}
            for n in names
        ]
    }


def multivariate_view(s: ModelSnapshot) -> dict[str, Any]:
    """Joint drift, or why there is none, so a missing series is explained where people look."""
    d = s.multivariate_drift
    drift = (
        None
        if d is None
        else {"method": d.method, "score": d.score, "threshold": d.threshold, "drifted": d.drifted}
    )
    return {"drift": drift, "note": s.multivariate_note or None}


def segment_row(s: SegmentSnapshot) -> dict[str, Any]:
    """One segment value: its traffic, its decision (if it had enough) and its features."""
    rows = sorted(s.features, key=lambda f: severity(f.drift), reverse=True)
    return {
        "segment": s.segment,
        "value": s.value,
        "samples": s.samples,
        "evaluated": s.evaluated,
        "reference": "own rows" if s.reference_own else "whole reference",
        "drift_share": s.drift_share,
        "drift_detected": s.drift_detected,
        "drifted_features": [f.name for f in s.features if f.drift and f.drift.drifted],
        "performance": dict(s.performance),
        "out_of_bounds": [m for m, bad in s.out_of_bounds if bad],
        "features": [feature_row(f) for f in rows],
    }


def versions_view(versions: VersionsSnapshot | None) -> dict[str, Any] | None:
    """The champion, then each challenger with its verdict per metric (none: too few labels)."""
    if versions is None:
        return None
    labeled = {v.version: v.labeled for v in versions.versions}
    return {
        "champion": versions.champion,
        "champion_labeled": labeled.get(versions.champion, 0),  # a pinned one may have none
        "versions": [
            {
                "version": v.version,
                "labeled": v.labeled,
                "performance": dict(v.performance),
                "prediction_drift": _drift(v.drift),
                "comparisons": [
                    {"metric": c.metric, "p_value": c.p_value, "test": c.test, "worse": c.worse}
                    for c in v.comparisons
                ],
            }
            for v in versions.versions
        ],
    }


def model_view(snapshot: ModelSnapshot) -> dict[str, Any]:
    """One model with its features and segments, the furthest past their thresholds first."""
    rows = sorted(snapshot.features, key=lambda f: severity(f.drift), reverse=True)
    segments = sorted(snapshot.segments, key=lambda s: (s.evaluated, s.severity), reverse=True)
    return {
        **model_summary(snapshot),
        "features": [feature_row(f) for f in rows],
        "segments": [segment_row(s) for s in segments],
        "versions": versions_view(snapshot.versions),
        "change": None if snapshot.change is None else vars(snapshot.change),
    }


def feature_view(
    store: SnapshotStore, snapshot: ModelSnapshot, feature: FeatureSnapshot
) -> dict[str, Any]:
    """One feature with the score's history over the evaluations kept in memory."""
    history = [
        {
            "at": p.at,
            "score": p.drift[feature.name].score,
            "threshold": p.drift[feature.name].threshold,
            "drifted": p.drift[feature.name].drifted,
        }
        for p in store.history(snapshot.model)
        if feature.name in p.drift
    ]
    return {
        "model": snapshot.model,
        "evaluated_at": snapshot.evaluated_at,
        **feature_row(feature),
        "history": history,
    }
